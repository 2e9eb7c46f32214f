//! `project-by-names "A", dynamic(["B", "C*"]), column_names_of(T)`: keeps the columns named
//! by constant strings and string arrays, in that order (`*` is a wildcard); names that match
//! no column are skipped.

use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast;
use goshawk_types::KustoType;
use serde_json::Value;

use super::fold::fold_constant;
use super::ops::wildcard_match;
use super::{Env, PlanResult, Planner, Tab, col, error};

/// The names a constant stands for: a string, or the strings of a dynamic array.
fn names_of(value: &ScalarValue, ty: KustoType) -> Option<Vec<String>> {
    let text = match value {
        ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) => text,
        ScalarValue::Utf8(None) | ScalarValue::Null => return Some(Vec::new()),
        _ => return None,
    };
    if ty != KustoType::Dynamic {
        return Some(vec![text.clone()]);
    }
    match crate::dynamic::parse_lenient(text) {
        Value::String(name) => Some(vec![name]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Some(name),
                _ => None,
            })
            .collect(),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

impl Planner<'_> {
    pub(super) fn plan_project_by_names(
        &self,
        tab: Tab,
        columns: &[ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut keep: Vec<String> = Vec::new();
        for expr in columns {
            let typed = self.lower_expr(expr, &tab.columns, env)?;
            let names = fold_constant(&typed.expr)
                .and_then(|value| names_of(&value, typed.ty))
                .ok_or_else(|| {
                    error(
                        "project-by-names takes constant column names: strings or arrays of \
                         strings",
                        expr.span,
                    )
                })?;
            for pattern in names {
                for column in &tab.columns {
                    if wildcard_match(&pattern, &column.name) && !keep.contains(&column.name) {
                        keep.push(column.name.clone());
                    }
                }
            }
        }
        let items = keep
            .iter()
            .filter_map(|name| tab.column(name).cloned())
            .map(|c| (col(&c.name), c))
            .collect();
        self.project_tab(tab, items, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_string_arrays_name_columns() {
        let one = ScalarValue::Utf8(Some("Name".into()));
        assert_eq!(
            names_of(&one, KustoType::String),
            Some(vec!["Name".to_string()])
        );
        let many = ScalarValue::Utf8(Some(r#"["Country","NonExistent"]"#.into()));
        assert_eq!(
            names_of(&many, KustoType::Dynamic),
            Some(vec!["Country".to_string(), "NonExistent".to_string()])
        );
        let wrong = ScalarValue::Utf8(Some("[1]".into()));
        assert_eq!(names_of(&wrong, KustoType::Dynamic), None);
    }
}
