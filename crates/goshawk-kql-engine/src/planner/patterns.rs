//! `declare pattern`: a named mapping from constant arguments (and an optional path) to
//! queries, invoked as `country("Canada").Alberta` or `map_ip("10.10.10.10")`.

use std::sync::Arc;

use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, DeclarePattern};

use super::fold::fold_constant;
use super::literal::kusto_type_of_scalar;
use super::{Binding, Env, PlanResult, Planner, Tab, Typed, error};

/// A constant argument as text, for matching against a definition's values.
fn key_text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) => Some(text.clone()),
        ScalarValue::Null => None,
        other if other.is_null() => None,
        other => Some(other.to_string()),
    }
}

impl Planner<'_> {
    fn pattern_key(&self, expr: &ast::Expr, env: &Env) -> PlanResult<Option<String>> {
        let typed = self.lower_expr(expr, &[], env)?;
        let value = fold_constant(&typed.expr)
            .ok_or_else(|| error("pattern arguments must be constants", expr.span))?;
        Ok(key_text(&value))
    }

    /// The query of the definition of `pattern` matching `args` and `path`.
    pub(super) fn invoke_pattern(
        &self,
        pattern: &Arc<DeclarePattern>,
        args: &[ast::Argument],
        path: Option<&str>,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let name = &pattern.name.name;
        if args.len() != pattern.params.len() {
            return Err(error(
                format!(
                    "pattern '{name}' takes {} argument(s), got {}",
                    pattern.params.len(),
                    args.len()
                ),
                span,
            ));
        }
        let mut wanted = Vec::new();
        for arg in args {
            wanted.push(self.pattern_key(&arg.value, env)?);
        }
        for definition in &pattern.definitions {
            let mut matches = definition.args.len() == wanted.len();
            for (expr, want) in definition.args.iter().zip(&wanted) {
                matches = matches && self.pattern_key(expr, env)? == *want;
            }
            match (definition.path_args.first(), path) {
                (Some(expr), Some(path)) => {
                    matches = matches && self.pattern_key(expr, env)?.as_deref() == Some(path);
                }
                (None, None) => {}
                _ => matches = false,
            }
            if !matches {
                continue;
            }
            // The body sees the pattern's parameters as the arguments' values.
            let mut scope = env.clone();
            for (param, arg) in pattern.params.iter().zip(args) {
                let typed = self.lower_expr(&arg.value, &[], env)?;
                let ty = match &param.ty {
                    ast::ParamType::Scalar(ty) => kusto_type_of_scalar(ty.value),
                    ast::ParamType::Tabular(_) => typed.ty,
                };
                scope.bind(
                    &param.name.name,
                    Binding::Scalar(super::expr::convert_to(
                        Typed {
                            expr: typed.expr,
                            ty: typed.ty,
                        },
                        ty,
                    )),
                );
            }
            return self.plan_statements(&definition.body.statements, &mut scope, span);
        }
        Err(error(
            format!("pattern '{name}' has no definition for these arguments"),
            span,
        ))
    }
}
