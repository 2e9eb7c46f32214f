//! Functions that read column names rather than values: `pack_all([ignore_null_empty])`,
//! `bag_pack_columns(c1, c2, ...)` over the current row, and `column_names_of(T)` over a
//! table. The planner knows the columns, so it turns each into a library call with the names
//! spelled out (or, for `column_names_of`, a dynamic literal).

use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::ast::{self, ExprKind};
use goshawk_types::KustoType;

use super::literal::typed_lit;
use super::{Env, PlanResult, Planner, Tab, Typed, error};
use crate::catalog::KustoColumn;

impl Planner<'_> {
    /// Lowers `pack_all`, `bag_pack_columns` or `column_names_of` (`name`).
    pub(crate) fn lower_column_function(
        &self,
        name: &str,
        call: &ast::FunctionCall,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        let library = |function: &str, args| {
            crate::registry::resolve(function)
                .and_then(|entry| entry.call(args, self.now_nanos))
                .map(|expr| Typed {
                    expr,
                    ty: KustoType::Dynamic,
                })
                .map_err(|e| error(e.to_string(), call.span))
        };
        let name_literal = |column: &str| {
            typed_lit(ScalarValue::Utf8(Some(column.into())), KustoType::String).expr
        };
        match name {
            "pack_all" => {
                let flag = match call.args.as_slice() {
                    [] => typed_lit(ScalarValue::Boolean(Some(false)), KustoType::Bool).expr,
                    [flag] => self.lower_expr(&flag.value, columns, env)?.expr,
                    _ => {
                        return Err(error(
                            format!(
                                "pack_all() expects 0 or 1 argument, got {}",
                                call.args.len()
                            ),
                            call.span,
                        ));
                    }
                };
                let mut args = vec![flag];
                for column in columns {
                    args.push(name_literal(&column.name));
                    args.push(super::col(&column.name));
                }
                library("pack_all", args)
            }
            "bag_pack_columns" => {
                let mut args = Vec::with_capacity(call.args.len() * 2);
                for arg in &call.args {
                    let ExprKind::Name(ident) = &arg.value.kind else {
                        return Err(error(
                            "bag_pack_columns() expects column names",
                            arg.value.span,
                        ));
                    };
                    let value = self.lower_expr(&arg.value, columns, env)?;
                    args.push(name_literal(&ident.name));
                    args.push(value.expr);
                }
                library("pack", args)
            }
            _ => {
                let [arg] = call.args.as_slice() else {
                    return Err(error(
                        format!("{name}() expects 1 argument, got {}", call.args.len()),
                        call.span,
                    ));
                };
                let tab = self.table_argument(&arg.value, env)?;
                let names: Vec<serde_json::Value> = tab
                    .columns
                    .iter()
                    .map(|c| serde_json::Value::from(c.name.clone()))
                    .collect();
                Ok(typed_lit(
                    ScalarValue::Utf8(Some(serde_json::Value::Array(names).to_string())),
                    KustoType::Dynamic,
                ))
            }
        }
    }

    /// A table written where a scalar function expects one: a name, a call of a tabular
    /// function, or a parenthesised query.
    fn table_argument(&self, arg: &ast::Expr, env: &Env) -> PlanResult<Tab> {
        match &arg.kind {
            ExprKind::Tabular(tabular) => self.plan_tabular(tabular, env, None),
            ExprKind::Name(ident) => self.resolve_table_name(&ident.name, ident.span, env),
            ExprKind::Call(inner) => {
                let tabular = ast::TabularExpr {
                    source: Some(Box::new(ast::Source {
                        kind: ast::SourceKind::Call(inner.clone()),
                        span: arg.span,
                    })),
                    operators: Vec::new(),
                    span: arg.span,
                };
                self.plan_tabular(&tabular, env, None)
            }
            _ => Err(error("expects a table", arg.span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use goshawk_types::KustoType;

    use crate::catalog::MemoryCatalog;
    use crate::session::QueryEngine;

    /// The last column of every result row, as Kusto prints it.
    async fn last_column(query: &str) -> Vec<String> {
        let catalog = MemoryCatalog::new();
        let engine = QueryEngine::new(&catalog, 0);
        let result = match engine.query(query).await {
            Ok(result) => result,
            Err(e) => panic!("{query}: {e}"),
        };
        let last = result.columns.len() - 1;
        let ty = result.columns[last].ty;
        let mut out = Vec::new();
        for batch in &result.batches {
            for row in 0..batch.num_rows() {
                let cell = crate::format::display_at(batch.column(last).as_ref(), row, ty);
                out.push(cell.unwrap_or_else(|| "null".into()));
            }
        }
        assert!(matches!(ty, KustoType::Dynamic), "{query}: {ty}");
        out
    }

    #[tokio::test]
    async fn pack_all_and_bag_pack_columns_name_the_columns() {
        let table = "datatable(Source:string, Target:string, N:long)['a', '', 1]";
        assert_eq!(
            last_column(&format!("{table} | extend P = pack_all()")).await,
            [r#"{"Source":"a","Target":"","N":1}"#]
        );
        assert_eq!(
            last_column(&format!("{table} | extend P = pack_all(true)")).await,
            [r#"{"Source":"a","N":1}"#]
        );
        assert_eq!(
            last_column(&format!("{table} | extend P = bag_pack_columns(N, Source)")).await,
            [r#"{"N":1,"Source":"a"}"#]
        );
    }

    #[tokio::test]
    async fn column_names_of_reads_a_table_or_a_function() {
        assert_eq!(
            last_column("let T = datatable(A:string, B:int)[]; print c = column_names_of(T)").await,
            [r#"["A","B"]"#]
        );
        assert_eq!(
            last_column("let F = () { print A = '', B = 1 }; print c = column_names_of(F())").await,
            [r#"["A","B"]"#]
        );
    }
}
