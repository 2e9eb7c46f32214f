//! Smaller scalar functions: `punycode_from_string`, `punycode_to_string`, `format_bytes`,
//! `around`, `assert`, `parse_path` and `parse_command_line`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{
    Call, KustoScalar, returns, to_bool_array, to_datetime_array, to_real_array, to_timespan_array,
};
use crate::error::EngineError;
use crate::format::string_value;

/// A text-to-text function; null or text it cannot convert gives "" (as Kusto does for
/// punycode that does not decode).
fn text_map(name: &'static str, f: fn(&str) -> Option<String>) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::String),
        Arc::new(move |call| {
            let texts = call.strings(0);
            let values: StringArray = (0..call.rows)
                .map(|row| Some(string_value(&texts, row).and_then(f).unwrap_or_default()))
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

const BYTE_UNITS: [&str; 7] = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];

/// `format_bytes(size, precision, units, base)`: `size` in the named unit (or the largest
/// unit it reaches), `precision` decimals, units of 1024 (base 2) or 1000 (base 10).
fn format_bytes(size: f64, precision: usize, unit: &str, base: i64) -> Option<String> {
    let step: f64 = match base {
        2 => 1024.0,
        10 => 1000.0,
        _ => return None,
    };
    let exponent = if unit.is_empty() {
        let mut exponent = 0;
        while exponent + 1 < BYTE_UNITS.len() && size.abs() >= step.powi(exponent as i32 + 1) {
            exponent += 1;
        }
        exponent
    } else {
        BYTE_UNITS
            .iter()
            .position(|u| u.eq_ignore_ascii_case(unit) || (*u == "Bytes" && unit == "B"))?
    };
    let value = size / step.powi(exponent as i32);
    Some(format!(
        "{value:.precision$} {}",
        BYTE_UNITS[exponent],
        precision = precision.min(15)
    ))
}

fn format_bytes_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let sizes = to_real_array(&call.args[0], call.types[0])?;
    let optional_long = |index: usize, default: i64| -> DFResult<Vec<Option<i64>>> {
        if call.args.len() > index {
            Ok(call.longs(index)?.iter().collect())
        } else {
            Ok(vec![Some(default); call.rows])
        }
    };
    let precisions = optional_long(1, 0)?;
    let bases = optional_long(3, 2)?;
    let units = (call.args.len() > 2).then(|| call.strings(2));
    let values: StringArray = (0..call.rows)
        .map(|row| {
            let size = sizes.is_valid(row).then(|| sizes.value(row))?;
            let precision = usize::try_from(precisions[row]?).ok()?;
            let unit = units
                .as_ref()
                .and_then(|u| string_value(u, row))
                .unwrap_or("");
            format_bytes(size, precision, unit.trim(), bases[row]?)
        })
        .collect();
    Ok(Arc::new(values) as ArrayRef)
}

/// `around(value, center, delta)`: whether `value` lies within `delta` of `center`, bounds
/// included; datetimes take a timespan delta.
fn around_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let temporal = call
        .types
        .iter()
        .take(2)
        .any(|t| matches!(t, KustoType::DateTime | KustoType::TimeSpan));
    let result: BooleanArray = if temporal {
        let as_nanos = |index: usize| -> DFResult<Vec<Option<i64>>> {
            Ok(match call.types[index] {
                KustoType::DateTime => to_datetime_array(&call.args[index], call.types[index])?
                    .iter()
                    .collect(),
                _ => to_timespan_array(&call.args[index], call.types[index])?
                    .iter()
                    .collect(),
            })
        };
        let (values, centers, deltas) = (as_nanos(0)?, as_nanos(1)?, as_nanos(2)?);
        (0..call.rows)
            .map(|row| {
                let (v, c, d) = (values[row]?, centers[row]?, deltas[row]?);
                Some(v >= c.saturating_sub(d) && v <= c.saturating_add(d))
            })
            .collect()
    } else {
        let reals = |index: usize| to_real_array(&call.args[index], call.types[index]);
        let (values, centers, deltas): (Float64Array, Float64Array, Float64Array) =
            (reals(0)?, reals(1)?, reals(2)?);
        (0..call.rows)
            .map(|row| {
                let at = |a: &Float64Array| a.is_valid(row).then(|| a.value(row));
                let (v, c, d) = (at(&values)?, at(&centers)?, at(&deltas)?);
                Some(v >= c - d && v <= c + d)
            })
            .collect()
    };
    Ok(Arc::new(result) as ArrayRef)
}

/// `assert(condition, message)`: true, or the query fails with `message` when the condition
/// does not hold.
fn assert_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let conditions = to_bool_array(&call.args[0], call.types[0])?;
    let messages = call.strings(1);
    for row in 0..call.rows {
        if !(conditions.is_valid(row) && conditions.value(row)) {
            return Err(EngineError::InvalidArgument {
                name: call.name.to_string(),
                message: format!(
                    "assertion failed: {}",
                    string_value(&messages, row).unwrap_or("")
                ),
            }
            .into());
        }
    }
    Ok(Arc::new(BooleanArray::from(vec![true; call.rows])) as ArrayRef)
}

/// `parse_path(path)`: the parts of a file path, URL-style `scheme://` included, as Kusto
/// names them; a `:stream` after the file name is its alternate data stream.
fn parse_path(text: &str) -> Value {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("", text),
    };
    let (directory, file) = match rest.rfind(['\\', '/']) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => ("", rest),
    };
    let (file, stream) = file.split_once(':').unwrap_or((file, ""));
    let extension = file.rsplit_once('.').map_or("", |(_, ext)| ext);
    let bytes = directory.as_bytes();
    let root = if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        &directory[..2]
    } else {
        ""
    };
    let directory_name = directory.rsplit(['\\', '/']).next().unwrap_or(directory);
    let mut parts = Map::new();
    for (key, value) in [
        ("Scheme", scheme),
        ("RootPath", root),
        ("DirectoryPath", directory),
        ("DirectoryName", directory_name),
        ("Filename", file),
        ("Extension", extension),
        ("AlternateDataStreamName", stream),
    ] {
        parts.insert(key.to_string(), Value::from(value));
    }
    Value::Object(parts)
}

/// `parse_command_line(text, "windows")`: the arguments as Windows' `CommandLineToArgvW`
/// splits them: blanks separate, double quotes group (`""` inside quotes is a quote), and
/// backslashes escape only before a quote (2n backslashes and a quote are n backslashes and a
/// delimiter, 2n+1 are n backslashes and a literal quote).
fn windows_arguments(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut arguments = Vec::new();
    let mut current = String::new();
    let mut in_argument = false;
    let mut quoted = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let run = chars[i..].iter().take_while(|&&c| c == '\\').count();
            in_argument = true;
            if chars.get(i + run) == Some(&'"') {
                current.extend(std::iter::repeat_n('\\', run / 2));
                if run % 2 == 1 {
                    current.push('"');
                    i += run + 1;
                } else {
                    i += run;
                }
            } else {
                current.extend(std::iter::repeat_n('\\', run));
                i += run;
            }
            continue;
        }
        match c {
            '"' if quoted && chars.get(i + 1) == Some(&'"') => {
                current.push('"');
                i += 1;
            }
            '"' => {
                quoted = !quoted;
                in_argument = true;
            }
            ' ' | '\t' | '\n' | '\r' if !quoted => {
                if in_argument {
                    arguments.push(std::mem::take(&mut current));
                    in_argument = false;
                }
            }
            other => {
                current.push(other);
                in_argument = true;
            }
        }
        i += 1;
    }
    if in_argument {
        arguments.push(current);
    }
    arguments
}

fn parse_command_line_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let parser = call.constant_string(1, "the parser")?;
    if !parser.eq_ignore_ascii_case("windows") {
        return Err(EngineError::InvalidArgument {
            name: call.name.to_string(),
            message: format!("the parser must be \"windows\", got \"{parser}\""),
        }
        .into());
    }
    let texts = call.strings(0);
    let values: StringArray = (0..call.rows)
        .map(|row| {
            let arguments = windows_arguments(string_value(&texts, row)?);
            Some(Value::from(arguments).to_string())
        })
        .collect();
    Ok(Arc::new(values) as ArrayRef)
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        text_map("punycode_from_string", idna::punycode::encode_str),
        text_map("punycode_to_string", idna::punycode::decode_to_string),
        KustoScalar::new(
            "format_bytes",
            1,
            Some(4),
            returns(KustoType::String),
            Arc::new(format_bytes_kernel),
        ),
        KustoScalar::new(
            "around",
            3,
            Some(3),
            returns(KustoType::Bool),
            Arc::new(around_kernel),
        ),
        KustoScalar::new(
            "parse_path",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let texts = call.strings(0);
                let values: StringArray = (0..call.rows)
                    .map(|row| Some(parse_path(string_value(&texts, row)?).to_string()))
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "parse_command_line",
            2,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(parse_command_line_kernel),
        ),
        KustoScalar::new(
            "assert",
            2,
            Some(2),
            returns(KustoType::Bool),
            Arc::new(assert_kernel),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;
    use datafusion::scalar::ScalarValue;

    use crate::scalar::test_support::{call, eval, lit_str, try_eval_expr};

    #[tokio::test]
    async fn punycode_round_trips() {
        assert_eq!(
            eval("punycode_from_string", vec![lit_str("académie-française")]).await,
            ["acadmie-franaise-npb1a"]
        );
        assert_eq!(
            eval("punycode_from_string", vec![lit_str("艺术")]).await,
            ["cqv902d"]
        );
        assert_eq!(
            eval(
                "punycode_to_string",
                vec![lit_str("acadmie-franaise-npb1a")]
            )
            .await,
            ["académie-française"]
        );
    }

    #[tokio::test]
    async fn format_bytes_matches_the_docs() {
        for (args, expected) in [
            (vec![lit(564_i64)], "564 Bytes"),
            (vec![lit(10332_i64), lit(1_i64)], "10.1 KB"),
            (vec![lit(20010332_i64)], "19 MB"),
            (vec![lit(20010332_i64), lit(2_i64)], "19.08 MB"),
            (
                vec![lit(20010332_i64), lit(0_i64), lit_str("KB")],
                "19541 KB",
            ),
            (
                vec![lit(20010332_i64), lit(1_i64), lit_str(""), lit(10_i64)],
                "20.0 MB",
            ),
        ] {
            assert_eq!(eval("format_bytes", args).await, [expected]);
        }
    }

    #[tokio::test]
    async fn around_includes_both_bounds() {
        let minute = 60_000_000_000_i64;
        let date = |n: i64| {
            lit(ScalarValue::TimestampNanosecond(
                Some(n),
                Some("UTC".into()),
            ))
        };
        let span = |n: i64| lit(ScalarValue::DurationNanosecond(Some(n)));
        for (offset, expected) in [(-minute, "True"), (minute, "True"), (minute + 1, "False")] {
            assert_eq!(
                eval("around", vec![date(offset), date(0), span(minute)]).await,
                [expected]
            );
        }
        assert_eq!(
            eval("around", vec![lit(4.5), lit(5_i64), lit(0.5)]).await,
            ["True"]
        );
    }

    #[tokio::test]
    async fn assert_fails_the_query_with_its_message() {
        assert_eq!(
            eval("assert", vec![lit(true), lit_str("never")]).await,
            ["True"]
        );
        let failed = try_eval_expr(call("assert", vec![lit(false), lit_str("len > 0")])).await;
        assert!(
            failed.err().is_some_and(|e| e.contains("len > 0")),
            "assert(false) must fail"
        );
    }

    #[test]
    fn paths_split_into_kusto_parts() {
        let parts = |p: &str| super::parse_path(p).to_string();
        assert_eq!(
            parts(r"C:\temp\file.txt"),
            r#"{"Scheme":"","RootPath":"C:","DirectoryPath":"C:\\temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}"#
        );
        assert_eq!(
            parts("file://C:/temp/file.txt:some.exe"),
            r#"{"Scheme":"file","RootPath":"C:","DirectoryPath":"C:/temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":"some.exe"}"#
        );
        assert_eq!(
            parts("/usr/lib/temp/file.txt.gz"),
            r#"{"Scheme":"","RootPath":"","DirectoryPath":"/usr/lib/temp","DirectoryName":"temp","Filename":"file.txt.gz","Extension":"gz","AlternateDataStreamName":""}"#
        );
    }

    #[test]
    fn windows_command_lines_split_like_argv() {
        assert_eq!(
            super::windows_arguments(r#"echo "hello world!" print$?"#),
            ["echo", "hello world!", "print$?"]
        );
        assert_eq!(
            super::windows_arguments(r#"a\\"b c" d\"e f\\g "x""y""#),
            [r"a\b c", r#"d"e"#, r"f\\g", r#"x"y"#]
        );
    }
}
