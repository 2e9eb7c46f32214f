//! Functions that produce several columns (`extend (a, b) = series_stats(x)`,
//! `project series_fit_line(y)`): rewritten, before planning, into one expression per output
//! column reading a field of the function's `_dynamic` form, which returns them as a bag.

use goshawk_kql_syntax::ast::{self, Argument, ExprKind, FunctionCall, Ident, NamedExpr};

use super::ops::implicit_name;
use super::{PlanResult, error};

/// (function, its bag-returning form, [(field, conversion)]): the conversion is applied to
/// the field (`None`: the field stays dynamic).
type MultiOutput = (
    &'static str,
    &'static str,
    &'static [(&'static str, Option<&'static str>)],
);

const MULTI_OUTPUT: &[MultiOutput] = &[
    (
        "series_stats",
        "series_stats_dynamic",
        &[
            ("min", Some("todouble")),
            ("min_idx", Some("tolong")),
            ("max", Some("todouble")),
            ("max_idx", Some("tolong")),
            ("avg", Some("todouble")),
            ("stdev", Some("todouble")),
            ("variance", Some("todouble")),
        ],
    ),
    (
        "series_fit_line",
        "series_fit_line_dynamic",
        &[
            ("rsquare", Some("todouble")),
            ("slope", Some("todouble")),
            ("variance", Some("todouble")),
            ("rvariance", Some("todouble")),
            ("interception", Some("todouble")),
            ("line_fit", None),
        ],
    ),
];

/// `name(args)` as syntax, for operators that plan through Kusto function calls.
pub(super) fn call_expr(
    name: &str,
    args: Vec<ast::Expr>,
    span: goshawk_kql_syntax::Span,
) -> ast::Expr {
    ast::Expr {
        kind: ExprKind::Call(FunctionCall {
            name: Ident {
                name: name.to_string(),
                span,
            },
            args: args
                .into_iter()
                .map(|value| Argument {
                    name: None,
                    value,
                    span,
                })
                .collect(),
            span,
        }),
        span,
    }
}

/// `columns` with every multi-column call replaced by its columns; `None` when there is none.
pub(super) fn expand_multi_output(columns: &[NamedExpr]) -> PlanResult<Option<Vec<NamedExpr>>> {
    let is_multi = |item: &NamedExpr| match &item.expr.kind {
        ExprKind::Call(call) => MULTI_OUTPUT.iter().any(|m| m.0 == call.name.name),
        _ => false,
    };
    if !columns.iter().any(is_multi) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for item in columns {
        let ExprKind::Call(call) = &item.expr.kind else {
            out.push(item.clone());
            continue;
        };
        let Some((name, dynamic_form, fields)) =
            MULTI_OUTPUT.iter().find(|m| m.0 == call.name.name)
        else {
            out.push(item.clone());
            continue;
        };
        if item.names.len() > fields.len() {
            return Err(error(
                format!(
                    "{name} returns {} columns, {} names are given",
                    fields.len(),
                    item.names.len()
                ),
                item.span,
            ));
        }
        // `fit = series_fit_line(y)`: fewer names than columns keep the first columns.
        let fields = if item.names.is_empty() {
            fields
        } else {
            &fields[..item.names.len()]
        };
        let span = item.expr.span;
        let prefix = match call.args.first().and_then(|a| implicit_name(&a.value)) {
            Some(arg) => format!("{name}_{arg}"),
            None => name.to_string(),
        };
        let bag = call_expr(
            dynamic_form,
            call.args.iter().map(|a| a.value.clone()).collect(),
            span,
        );
        for (index, (field, conversion)) in fields.iter().enumerate() {
            let field_expr = ast::Expr {
                kind: ExprKind::Index {
                    target: Box::new(bag.clone()),
                    index: Box::new(ast::Expr {
                        kind: ExprKind::Literal(ast::Literal {
                            kind: ast::LiteralKind::String(field.to_string()),
                            span,
                        }),
                        span,
                    }),
                },
                span,
            };
            let expr = match conversion {
                Some(function) => call_expr(function, vec![field_expr], span),
                None => field_expr,
            };
            let column_name = match item.names.get(index) {
                Some(given) => given.clone(),
                None => Ident {
                    name: format!("{prefix}_{field}"),
                    span,
                },
            };
            out.push(NamedExpr {
                names: vec![column_name],
                expr,
                span: item.span,
            });
        }
    }
    Ok(Some(out))
}
