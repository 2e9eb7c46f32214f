//! `evaluate bag_unpack(bag [, prefix] [, columnsConflict=...] [, ignoredProperties=...])`:
//! one column per property of the bags, typed by the values it holds.
//!
//! The output columns depend on the data, as in Kusto: the planner runs the input once (on a
//! thread of its own, as planning is synchronous) to find the properties and their types,
//! then plans the projection that reads them.

use std::collections::HashSet;

use arrow::array::RecordBatch;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::ast::{self, ExprKind, FunctionCall};
use goshawk_types::KustoType;
use serde_json::Value;

use super::expr::convert_to;
use super::fold::fold_constant;
use super::ops::implicit_name;
use super::{Env, PlanResult, Planner, Tab, col, df_error, error, unsupported};
use crate::catalog::KustoColumn;
use crate::format::string_value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Conflict {
    Error,
    ReplaceSource,
    KeepSource,
}

/// The Kusto type of a property from its values: one scalar kind throughout, else dynamic.
fn property_type(values: &[&Value]) -> KustoType {
    let kinds: HashSet<KustoType> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::Bool(_) => KustoType::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => KustoType::Long,
            Value::Number(_) => KustoType::Real,
            Value::String(_) => KustoType::String,
            _ => KustoType::Dynamic,
        })
        .collect();
    match kinds.len() {
        1 => kinds.into_iter().next().unwrap_or(KustoType::Dynamic),
        2 if kinds.contains(&KustoType::Long) && kinds.contains(&KustoType::Real) => {
            KustoType::Real
        }
        _ => KustoType::Dynamic,
    }
}

/// The properties of the bags in order of first appearance, with their types.
fn properties(bags: &[Value], ignored: &[String]) -> Vec<(String, KustoType)> {
    let mut names: Vec<String> = Vec::new();
    for bag in bags {
        if let Value::Object(map) = bag {
            for key in map.keys() {
                if !names.contains(key) && !ignored.contains(key) {
                    names.push(key.clone());
                }
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let values: Vec<&Value> = bags.iter().filter_map(|b| b.get(&name)).collect();
            let ty = property_type(&values);
            (name, ty)
        })
        .collect()
}

/// Runs `plan` now, on a thread with its own runtime (planning may itself run inside one).
fn collect_now(plan: LogicalPlan) -> Result<Vec<RecordBatch>, String> {
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let context = super::session_context(datafusion::prelude::SessionConfig::new(), None);
            let frame = context
                .execute_logical_plan(plan)
                .await
                .map_err(|e| e.to_string())?;
            frame.collect().await.map_err(|e| e.to_string())
        })
    });
    worker
        .join()
        .map_err(|_| "the bag_unpack schema pass panicked".to_string())?
}

impl Planner<'_> {
    pub(super) fn plan_bag_unpack(
        &self,
        tab: Tab,
        plugin: &FunctionCall,
        env: &Env,
    ) -> PlanResult<Tab> {
        let span = plugin.span;
        let mut positional = Vec::new();
        let mut conflict = Conflict::Error;
        let mut ignored: Vec<String> = Vec::new();
        for arg in &plugin.args {
            let constant = |what: &str| -> PlanResult<(ScalarValue, KustoType)> {
                let typed = self.lower_expr(&arg.value, &[], env)?;
                let value = fold_constant(&typed.expr)
                    .ok_or_else(|| error(format!("{what} must be a constant"), arg.value.span))?;
                Ok((value, typed.ty))
            };
            match arg.name.as_ref().map(|n| n.name.as_str()) {
                None => positional.push(&arg.value),
                Some("columnsConflict") => {
                    conflict = match constant("columnsConflict")?.0 {
                        ScalarValue::Utf8(Some(text)) if text == "error" => Conflict::Error,
                        ScalarValue::Utf8(Some(text)) if text == "replace_source" => {
                            Conflict::ReplaceSource
                        }
                        ScalarValue::Utf8(Some(text)) if text == "keep_source" => {
                            Conflict::KeepSource
                        }
                        _ => {
                            return Err(error(
                                "columnsConflict is 'error', 'replace_source' or 'keep_source'",
                                arg.value.span,
                            ));
                        }
                    }
                }
                Some("ignoredProperties") => {
                    let (value, _) = constant("ignoredProperties")?;
                    let text = match value {
                        ScalarValue::Utf8(Some(text)) => text,
                        _ => String::new(),
                    };
                    match crate::dynamic::parse_lenient(&text) {
                        Value::Array(items) => {
                            ignored = items
                                .iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect();
                        }
                        _ => {
                            return Err(error(
                                "ignoredProperties is a dynamic array of names",
                                arg.value.span,
                            ));
                        }
                    }
                }
                Some(other) => {
                    return Err(unsupported(
                        &format!("the bag_unpack argument '{other}'"),
                        arg.span,
                    ));
                }
            }
        }
        let Some(bag_expr) = positional.first() else {
            return Err(error(
                "bag_unpack expects the dynamic column to unpack",
                span,
            ));
        };
        let prefix = match positional.get(1) {
            Some(expr) => {
                let typed = self.lower_expr(expr, &[], env)?;
                match fold_constant(&typed.expr) {
                    Some(ScalarValue::Utf8(Some(text))) => text,
                    _ => return Err(error("the column prefix must be a string", expr.span)),
                }
            }
            None => String::new(),
        };
        let bag = self.lower_expr(bag_expr, &tab.columns, env)?;
        if bag.ty != KustoType::Dynamic {
            return Err(error("bag_unpack expects a dynamic column", bag_expr.span));
        }
        let bag_name = implicit_name(bag_expr);

        // The schema pass: the bags' properties.
        let probe = LogicalPlanBuilder::from(tab.plan.clone())
            .project(vec![bag.expr.clone()])
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let batches = collect_now(probe)
            .map_err(|e| error(format!("bag_unpack: reading the bags failed: {e}"), span))?;
        let mut bags = Vec::new();
        for batch in &batches {
            let column = batch.column(0);
            for row in 0..batch.num_rows() {
                if let Some(text) = string_value(column.as_ref(), row) {
                    bags.push(crate::dynamic::parse_lenient(text));
                }
            }
        }
        let found = properties(&bags, &ignored);

        let mut kept: Vec<KustoColumn> = tab
            .columns
            .iter()
            .filter(|c| Some(&c.name) != bag_name.as_ref())
            .cloned()
            .collect();
        let mut new_columns = Vec::new();
        for (property, ty) in found {
            let name = format!("{prefix}{property}");
            if kept.iter().any(|c| c.name == name) {
                match conflict {
                    Conflict::Error => {
                        return Err(error(
                            format!(
                                "bag_unpack: property '{property}' clashes with the column \
                                 '{name}' (see columnsConflict)"
                            ),
                            span,
                        ));
                    }
                    Conflict::KeepSource => continue,
                    Conflict::ReplaceSource => kept.retain(|c| c.name != name),
                }
            }
            let access = ast::Expr {
                kind: ExprKind::Index {
                    target: Box::new((*bag_expr).clone()),
                    index: Box::new(ast::Expr {
                        kind: ExprKind::Literal(ast::Literal {
                            kind: ast::LiteralKind::String(property.clone()),
                            span,
                        }),
                        span,
                    }),
                },
                span,
            };
            let value = convert_to(self.lower_expr(&access, &tab.columns, env)?, ty);
            new_columns.push((value.expr, KustoColumn::new(name, ty)));
        }
        let mut items: Vec<_> = kept.iter().map(|c| (col(&c.name), c.clone())).collect();
        items.extend(new_columns);
        self.project_tab(tab, items, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_in_order_with_their_types() {
        let bags: Vec<Value> = [
            r#"{"Name": "John", "Age": 20}"#,
            r#"{"Age": 40.5, "Tags": [1]}"#,
        ]
        .iter()
        .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
        .collect();
        assert_eq!(
            properties(&bags, &[]),
            vec![
                ("Name".to_string(), KustoType::String),
                ("Age".to_string(), KustoType::Real),
                ("Tags".to_string(), KustoType::Dynamic),
            ]
        );
        assert_eq!(
            properties(&bags, &["Age".to_string(), "Tags".to_string()]),
            vec![("Name".to_string(), KustoType::String)]
        );
    }
}
