//! Functions that Sentinel content leans on: `extract_json` (`extractjson`), `parse_url`, the
//! `unixtime_*_todatetime` family, `parse_csv` and `translate` (`hash` is in `digests`).

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, TimestampNanosecondArray};
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{KustoScalar, returns, to_long_array, to_real_array};
use crate::dynamic::{PathStep, get_path, parse_lenient};
use crate::format::string_value;

/// `$.a.b[0]['c']` as path steps; `None` for a path Kusto would reject.
fn json_path(path: &str) -> Option<Vec<PathStep>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(PathStep::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = after[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            steps.push(match quoted {
                Some(key) => PathStep::Key(key.to_string()),
                None => PathStep::Index(inner.parse().ok()?),
            });
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The pieces of `scheme://user:password@host:port/path?query#fragment`, as Kusto's
/// `parse_url` names them; every member is "" when the text has no scheme.
fn parse_url(text: &str) -> Value {
    let mut result = Map::new();
    let put = |result: &mut Map<String, Value>, key: &str, value: &str| {
        result.insert(key.to_string(), Value::String(value.to_string()));
    };
    let Some((scheme, rest)) = text.split_once("://") else {
        for key in [
            "Scheme", "Host", "Port", "Path", "Username", "Password", "Fragment",
        ] {
            put(&mut result, key, "");
        }
        result.insert("Query Parameters".into(), Value::Object(Map::new()));
        return Value::Object(result);
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    // The port follows the last ':' unless that ':' is inside an IPv6 literal.
    let (host, port) = match hostport.rfind(':') {
        Some(at) if !hostport[at..].contains(']') => (&hostport[..at], &hostport[at + 1..]),
        _ => (hostport, ""),
    };
    put(&mut result, "Scheme", scheme);
    put(&mut result, "Host", host);
    put(&mut result, "Port", port);
    put(&mut result, "Path", path);
    put(&mut result, "Username", username);
    put(&mut result, "Password", password);
    let mut parameters = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        parameters.insert(key.to_string(), Value::String(value.to_string()));
    }
    result.insert("Query Parameters".into(), Value::Object(parameters));
    put(&mut result, "Fragment", fragment);
    Value::Object(result)
}

/// `unixtime_<unit>_todatetime`: `per_unit` nanoseconds per unit. Integer inputs convert
/// exactly; real ones are rounded to Kusto's 100 ns tick.
fn unixtime(name: &'static str, per_unit: i64) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::DateTime),
        Arc::new(move |call| {
            let values: TimestampNanosecondArray = match call.types[0] {
                KustoType::Int | KustoType::Long | KustoType::Bool => {
                    to_long_array(&call.args[0], call.types[0])?
                        .iter()
                        .map(|v| v?.checked_mul(per_unit).map(|n| n - n.rem_euclid(100)))
                        .collect()
                }
                _ => to_real_array(&call.args[0], call.types[0])?
                    .iter()
                    .map(|v| {
                        let ticks = (v? * per_unit as f64 / 100.0).round();
                        (ticks.is_finite() && ticks.abs() < (i64::MAX / 100) as f64)
                            .then(|| ticks as i64 * 100)
                    })
                    .collect(),
            };
            Ok(Arc::new(values.with_timezone("UTC")) as ArrayRef)
        }),
    )
}

/// The fields of the first CSV record of `text` (Kusto's `parse_csv` ignores later records).
fn parse_csv(text: &str) -> Value {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let fields = match reader.records().next() {
        Some(Ok(record)) => record
            .iter()
            .map(|field| Value::String(field.to_string()))
            .collect(),
        // Kusto returns the text it could not split as the only field.
        Some(Err(_)) => vec![Value::String(text.to_string())],
        None => vec![Value::String(String::new())],
    };
    Value::Array(fields)
}

/// `translate(from, to, text)`: each character of `from` becomes the character at the same
/// place in `to` (the last one of `to` when `to` is shorter); with an empty `to` it is removed.
fn translate(from: &str, to: &str, text: &str) -> String {
    let to: Vec<char> = to.chars().collect();
    text.chars()
        .filter_map(|c| match from.chars().position(|f| f == c) {
            None => Some(c),
            Some(_) if to.is_empty() => None,
            Some(at) => Some(to[at.min(to.len() - 1)]),
        })
        .collect()
}

pub(super) fn functions() -> Vec<KustoScalar> {
    let extract_json = |name: &'static str| {
        KustoScalar::new(
            name,
            2,
            Some(2),
            returns(KustoType::String),
            Arc::new(|call| {
                let paths = call.strings(0);
                let texts = call.strings(1);
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        // Kusto strings are never null: a missing value is "".
                        let found = (|| {
                            let steps = json_path(string_value(&paths, row)?)?;
                            let document = parse_lenient(string_value(&texts, row)?);
                            match get_path(&document, &steps)? {
                                Value::Null => None,
                                Value::String(s) => Some(s.clone()),
                                other => Some(other.to_string()),
                            }
                        })();
                        Some(found.unwrap_or_default())
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        )
    };
    vec![
        extract_json("extract_json"),
        extract_json("extractjson"),
        KustoScalar::new(
            "parse_url",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let texts = call.strings(0);
                let values: StringArray = (0..call.rows)
                    .map(|row| Some(parse_url(string_value(&texts, row).unwrap_or("")).to_string()))
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "parse_csv",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let texts = call.strings(0);
                let values: StringArray = (0..call.rows)
                    .map(|row| Some(parse_csv(string_value(&texts, row).unwrap_or("")).to_string()))
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "translate",
            3,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let (from, to, texts) = (call.strings(0), call.strings(1), call.strings(2));
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let at = |a: &StringArray| string_value(a, row).unwrap_or("").to_string();
                        Some(translate(&at(&from), &at(&to), &at(&texts)))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        unixtime("unixtime_seconds_todatetime", 1_000_000_000),
        unixtime("unixtime_milliseconds_todatetime", 1_000_000),
        unixtime("unixtime_microseconds_todatetime", 1_000),
        unixtime("unixtime_nanoseconds_todatetime", 1),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{eval, lit_str};

    #[tokio::test]
    async fn extract_json_follows_a_json_path() {
        let doc = r#"{"a":{"b":[10,{"c":"x"}]},"n":null}"#;
        for (path, expected) in [
            ("$.a.b[0]", "10"),
            ("$.a.b[1].c", "x"),
            ("$['a']['b'][1]['c']", "x"),
            ("$.a.b[1]", r#"{"c":"x"}"#),
            ("$.missing", ""),
            ("$.n", ""),
            ("a.b", ""),
        ] {
            assert_eq!(
                eval("extractjson", vec![lit_str(path), lit_str(doc)]).await,
                [expected],
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn parse_url_splits_every_part() {
        let out = eval(
            "parse_url",
            vec![lit_str(
                "scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment",
            )],
        )
        .await;
        assert_eq!(
            out,
            [
                r#"{"Scheme":"scheme","Host":"host","Port":"1234","Path":"/this/is/a/path","Username":"username","Password":"password","Query Parameters":{"k1":"v1","k2":"v2"},"Fragment":"fragment"}"#
            ]
        );
        let bare = eval("parse_url", vec![lit_str("https://[::1]/x")]).await;
        assert!(bare[0].contains(r#""Host":"[::1]","Port":"""#), "{bare:?}");
        let none = eval("parse_url", vec![lit_str("not a url")]).await;
        assert!(none[0].contains(r#""Scheme":"""#), "{none:?}");
    }

    #[tokio::test]
    async fn parse_csv_translate_and_hash() {
        assert_eq!(
            eval(
                "parse_csv",
                vec![lit_str(
                    "aa,\"b,b,b\",cc,\"Escaping quotes: \"\"Title\"\"\""
                )]
            )
            .await,
            [r#"["aa","b,b,b","cc","Escaping quotes: \"Title\""]"#]
        );
        assert_eq!(
            eval("parse_csv", vec![lit_str("record1,a\nrecord2,x")]).await,
            [r#"["record1","a"]"#]
        );
        assert_eq!(
            eval(
                "translate",
                vec![lit_str("abc"), lit_str("x"), lit_str("abcd")]
            )
            .await,
            ["xxxd"]
        );
        assert_eq!(
            eval(
                "translate",
                vec![lit_str("ab"), lit_str(""), lit_str("abcab")]
            )
            .await,
            ["c"]
        );
        // The values of Kusto's documentation.
        assert_eq!(
            eval("hash", vec![lit_str("World")]).await,
            ["1846988464401551951"]
        );
        assert_eq!(
            eval("hash", vec![lit_str("World"), lit(100_i64)]).await,
            ["51"]
        );
    }

    #[tokio::test]
    async fn unixtime_conversions() {
        assert_eq!(
            eval("unixtime_seconds_todatetime", vec![lit(1546300800_i64)]).await,
            ["2019-01-01T00:00:00.0000000Z"]
        );
        assert_eq!(
            eval(
                "unixtime_milliseconds_todatetime",
                vec![lit(1546300800123_i64)]
            )
            .await,
            ["2019-01-01T00:00:00.1230000Z"]
        );
        assert_eq!(
            eval("unixtime_seconds_todatetime", vec![lit(1546300800.5_f64)]).await,
            ["2019-01-01T00:00:00.5000000Z"]
        );
        assert_eq!(
            eval(
                "unixtime_nanoseconds_todatetime",
                vec![lit(1546300800000000050_i64)]
            )
            .await,
            ["2019-01-01T00:00:00.0000000Z"]
        );
    }
}
