//! IP address functions: `parse_ipv4`, `parse_ipv4_mask`, `ipv4_is_in_range`,
//! `ipv4_is_in_any_range`, `ipv4_compare`, `ipv4_is_match`, `format_ipv4`, `format_ipv4_mask`,
//! `has_ipv4`, `has_ipv4_prefix`, `has_any_ipv4`, `has_any_ipv4_prefix`, and the IPv6 forms
//! `parse_ipv6`, `parse_ipv6_mask`, `ipv6_compare`, `ipv6_is_match`, `ipv6_is_in_range`,
//! `ipv6_is_in_any_range` (IPv4 text is compared as the IPv4-mapped IPv6 address).
//!
//! Addresses may carry a prefix length (`10.0.0.1/8`); comparisons use the shortest prefix of
//! the operands and the optional prefix argument, as Kusto does. Text that is not an address
//! gives null (or `false` for the `has_*` text searches).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use goshawk_types::KustoType;
use serde_json::Value;

use super::{Call, KustoScalar, returns};
use crate::format::string_value;

/// `a.b.c.d` or `a.b.c.d/n` as (address bits, prefix length).
fn parse_v4(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, prefix.trim().parse::<u32>().ok()?),
        None => (text, 32),
    };
    if prefix > 32 {
        return None;
    }
    let address: Ipv4Addr = address.trim().parse().ok()?;
    Some((u32::from(address), prefix))
}

fn mask_v4(bits: u32, prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - prefix))
    }
}

/// An IPv6 address (or IPv4 text, as its IPv4-mapped form) with an optional prefix length.
fn parse_v6(text: &str) -> Option<(u128, u32)> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address.trim(), Some(prefix.trim().parse::<u32>().ok()?)),
        None => (text, None),
    };
    if let Ok(v4) = address.parse::<Ipv4Addr>() {
        let prefix = prefix.unwrap_or(32);
        if prefix > 32 {
            return None;
        }
        return Some((u128::from(v4.to_ipv6_mapped()), prefix + 96));
    }
    let v6: Ipv6Addr = address.parse().ok()?;
    let prefix = prefix.unwrap_or(128);
    (prefix <= 128).then(|| (u128::from(v6), prefix))
}

fn mask_v6(bits: u128, prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - prefix))
    }
}

/// The optional prefix argument at `index`, per row (`None` when absent or null).
fn prefix_arg(call: &Call<'_>, index: usize) -> Vec<Option<i64>> {
    if index >= call.args.len() {
        return vec![None; call.rows];
    }
    match call.longs(index) {
        Ok(values) => values.iter().collect(),
        Err(_) => vec![None; call.rows],
    }
}

/// Text of argument `index` at `row`, `None` for a null.
fn text_at(strings: &StringArray, row: usize) -> Option<&str> {
    string_value(strings, row)
}

/// The string values of the arguments from `first` on, per row: each argument is a string or a
/// dynamic array of strings.
fn string_lists(call: &Call<'_>, first: usize) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); call.rows];
    for index in first..call.args.len() {
        let strings = call.strings(index);
        for (row, list) in rows.iter_mut().enumerate() {
            let Some(text) = text_at(&strings, row) else {
                continue;
            };
            if call.types[index] == KustoType::Dynamic {
                match crate::dynamic::parse_lenient(text) {
                    Value::Array(items) => list.extend(items.iter().map(|item| match item {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })),
                    Value::String(s) => list.push(s),
                    _ => {}
                }
            } else {
                list.push(text.to_string());
            }
        }
    }
    rows
}

fn bools(values: impl IntoIterator<Item = Option<bool>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<BooleanArray>())
}

/// -1, 0 or 1 comparing two masked IPv4 addresses, with the shortest of the prefixes.
fn compare_v4(a: &str, b: &str, prefix: Option<i64>) -> Option<i64> {
    let (a, pa) = parse_v4(a)?;
    let (b, pb) = parse_v4(b)?;
    let mut prefix_len = pa.min(pb);
    if let Some(p) = prefix {
        prefix_len = prefix_len.min(u32::try_from(p).ok().filter(|p| *p <= 32)?);
    }
    Some(mask_v4(a, prefix_len).cmp(&mask_v4(b, prefix_len)) as i64)
}

fn compare_v6(a: &str, b: &str, prefix: Option<i64>) -> Option<i64> {
    let (a, pa) = parse_v6(a)?;
    let (b, pb) = parse_v6(b)?;
    let mut prefix_len = pa.min(pb);
    if let Some(p) = prefix {
        prefix_len = prefix_len.min(u32::try_from(p).ok().filter(|p| *p <= 128)?);
    }
    Some(mask_v6(a, prefix_len).cmp(&mask_v6(b, prefix_len)) as i64)
}

/// Whether `address` lies in `range` (`a.b.c.d/n`, or one address).
fn in_range_v4(address: &str, range: &str) -> Option<bool> {
    let (a, _) = parse_v4(address)?;
    let (r, prefix) = parse_v4(range)?;
    Some(mask_v4(a, prefix) == mask_v4(r, prefix))
}

fn in_range_v6(address: &str, range: &str) -> Option<bool> {
    let (a, _) = parse_v6(address)?;
    let (r, prefix) = parse_v6(range)?;
    Some(mask_v6(a, prefix) == mask_v6(r, prefix))
}

/// The IPv4 addresses that appear in `text` delimited by characters that are neither letters,
/// digits nor dots (`05:04:54127.0.0.1` holds none: the address runs into other digits).
fn addresses_in(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|token| token.trim_end_matches('.'))
        .filter(|token| {
            token.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && token.parse::<Ipv4Addr>().is_ok()
        })
}

/// Whether `text` holds the address `ip`, or (when `ip` ends with a dot) an address starting
/// with that prefix.
fn has_address(text: &str, ip: &str, prefix_search: bool) -> bool {
    let ip = ip.trim();
    if prefix_search && ip.ends_with('.') {
        let dots = ip.matches('.').count();
        if dots == 0 || dots > 3 || !ip.trim_end_matches('.').split('.').all(valid_octet) {
            return false;
        }
        return addresses_in(text).any(|a| a.starts_with(ip));
    }
    if ip.parse::<Ipv4Addr>().is_err() {
        return false;
    }
    addresses_in(text).any(|a| a == ip)
}

fn valid_octet(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.parse::<u8>().is_ok()
}

/// A long or text argument as an IPv4 address with its prefix length.
fn address_arg(text: &str) -> Option<(u32, u32)> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse::<u32>().ok().map(|bits| (bits, 32));
    }
    parse_v4(trimmed)
}

fn format_v4(text: &str, prefix: Option<i64>, with_mask: bool) -> String {
    let Some((bits, own)) = address_arg(text) else {
        return String::new();
    };
    let prefix_len = match prefix {
        None => own,
        Some(p) if (0..=32).contains(&p) => own.min(p as u32),
        Some(_) => return String::new(),
    };
    let address = Ipv4Addr::from(mask_v4(bits, prefix_len));
    if with_mask {
        format!("{address}/{prefix_len}")
    } else {
        address.to_string()
    }
}

/// `f(a, b[, prefix])` over two address arguments and an optional prefix.
fn pairwise<T>(
    call: &Call<'_>,
    compare: fn(&str, &str, Option<i64>) -> Option<T>,
) -> Vec<Option<T>> {
    let (a, b) = (call.strings(0), call.strings(1));
    let prefixes = prefix_arg(call, 2);
    (0..call.rows)
        .map(|row| {
            let (x, y) = (text_at(&a, row)?, text_at(&b, row)?);
            if call.args.len() > 2 && prefixes[row].is_none() {
                return None;
            }
            compare(x, y, prefixes[row])
        })
        .collect()
}

fn comparison(name: &'static str, v6: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(3),
        returns(KustoType::Long),
        Arc::new(move |call| {
            let values = pairwise(call, if v6 { compare_v6 } else { compare_v4 });
            Ok(Arc::new(values.into_iter().collect::<Int64Array>()) as ArrayRef)
        }),
    )
}

fn is_match(name: &'static str, v6: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(3),
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let values = pairwise(call, if v6 { compare_v6 } else { compare_v4 });
            Ok(bools(values.into_iter().map(|v| v.map(|c| c == 0))))
        }),
    )
}

fn in_range(name: &'static str, any: bool, check: fn(&str, &str) -> Option<bool>) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        if any { Some(64) } else { Some(2) },
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let addresses = call.strings(0);
            let ranges = string_lists(call, 1);
            Ok(bools((0..call.rows).map(|row| {
                let address = text_at(&addresses, row)?;
                let mut valid = false;
                for range in &ranges[row] {
                    match check(address, range) {
                        Some(true) => return Some(true),
                        Some(false) => valid = true,
                        None => {}
                    }
                }
                valid.then_some(false)
            })))
        }),
    )
}

fn text_search(name: &'static str, any: bool, prefix_search: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        if any { Some(64) } else { Some(2) },
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let texts = call.strings(0);
            let needles = string_lists(call, 1);
            Ok(bools((0..call.rows).map(|row| {
                let text = text_at(&texts, row).unwrap_or("");
                Some(
                    needles[row]
                        .iter()
                        .any(|ip| has_address(text, ip, prefix_search)),
                )
            })))
        }),
    )
}

fn format_function(name: &'static str, with_mask: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        returns(KustoType::String),
        Arc::new(move |call| {
            let addresses = call.strings(0);
            let prefixes = prefix_arg(call, 1);
            let values: StringArray = (0..call.rows)
                .map(|row| {
                    let text = text_at(&addresses, row).unwrap_or("");
                    if call.args.len() > 1 && prefixes[row].is_none() {
                        return Some(String::new());
                    }
                    Some(format_v4(text, prefixes[row], with_mask))
                })
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

/// The canonical IPv6 text Kusto's `parse_ipv6` returns: eight groups of four hex digits.
fn canonical_v6(bits: u128) -> String {
    let groups: Vec<String> = (0..8)
        .map(|i| format!("{:04x}", (bits >> (112 - 16 * i)) as u16))
        .collect();
    groups.join(":")
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "parse_ipv4",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| {
                let texts = call.strings(0);
                let values: Int64Array = (0..call.rows)
                    .map(|row| {
                        let (bits, prefix) = parse_v4(text_at(&texts, row)?)?;
                        Some(i64::from(mask_v4(bits, prefix)))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "parse_ipv4_mask",
            2,
            Some(2),
            returns(KustoType::Long),
            Arc::new(|call| {
                let texts = call.strings(0);
                let prefixes = prefix_arg(call, 1);
                let values: Int64Array = (0..call.rows)
                    .map(|row| {
                        let (bits, own) = parse_v4(text_at(&texts, row)?)?;
                        let prefix = u32::try_from(prefixes[row]?).ok().filter(|p| *p <= 32)?;
                        Some(i64::from(mask_v4(bits, own.min(prefix))))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        in_range("ipv4_is_in_range", false, in_range_v4),
        in_range("ipv4_is_in_any_range", true, in_range_v4),
        comparison("ipv4_compare", false),
        is_match("ipv4_is_match", false),
        format_function("format_ipv4", false),
        format_function("format_ipv4_mask", true),
        text_search("has_ipv4", false, false),
        text_search("has_ipv4_prefix", false, true),
        text_search("has_any_ipv4", true, false),
        text_search("has_any_ipv4_prefix", true, true),
        KustoScalar::new(
            "parse_ipv6",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                let texts = call.strings(0);
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let (bits, prefix) = parse_v6(text_at(&texts, row)?)?;
                        Some(canonical_v6(mask_v6(bits, prefix)))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "parse_ipv6_mask",
            2,
            Some(2),
            returns(KustoType::String),
            Arc::new(|call| {
                let texts = call.strings(0);
                let prefixes = prefix_arg(call, 1);
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let text = text_at(&texts, row)?.trim();
                        // `::a.b.c.d` is read as the IPv4 address it embeds (the docs show
                        // `::192.168.255.255` as `...:ffff:c0a8:ffff`, its own `/24` as 120
                        // bits); the mask argument always counts IPv6 bits.
                        let text = text
                            .strip_prefix("::")
                            .filter(|rest| !rest.contains(':') && rest.contains('.'))
                            .unwrap_or(text);
                        let (bits, own) = parse_v6(text)?;
                        let prefix = u32::try_from(prefixes[row]?).ok()?;
                        (prefix <= 128).then(|| canonical_v6(mask_v6(bits, own.min(prefix))))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        comparison("ipv6_compare", true),
        is_match("ipv6_is_match", true),
        in_range("ipv6_is_in_range", false, in_range_v6),
        in_range("ipv6_is_in_any_range", true, in_range_v6),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{call, eval, lit_str};

    #[tokio::test]
    async fn parse_ipv6_mask_counts_ipv6_bits_as_documented() {
        for (address, mask, expected) in [
            (
                "192.168.255.255",
                120,
                "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            ),
            (
                "192.168.255.255/24",
                124,
                "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            ),
            (
                "fe80::85d:e82c:9446:7994/120",
                124,
                "fe80:0000:0000:0000:085d:e82c:9446:7900",
            ),
            (
                "::192.168.255.255",
                128,
                "0000:0000:0000:0000:0000:ffff:c0a8:ffff",
            ),
            (
                "::192.168.255.255/24",
                128,
                "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            ),
        ] {
            assert_eq!(
                eval(
                    "parse_ipv6_mask",
                    vec![lit_str(address), lit(i64::from(mask))]
                )
                .await,
                [expected],
                "{address}/{mask}"
            );
        }
    }

    #[tokio::test]
    async fn ipv4_parsing_ranges_and_comparisons() {
        assert_eq!(
            eval("parse_ipv4", vec![lit_str("127.0.0.1")]).await,
            ["2130706433"]
        );
        assert_eq!(
            eval("parse_ipv4", vec![lit_str("192.1.168.1/24")]).await,
            ["3221334016"]
        );
        assert_eq!(eval("parse_ipv4", vec![lit_str("1.2.3")]).await, ["null"]);
        assert_eq!(
            eval(
                "ipv4_is_in_range",
                vec![lit_str("192.168.1.6"), lit_str("192.168.1.1/24")]
            )
            .await,
            ["True"]
        );
        assert_eq!(
            eval(
                "ipv4_is_in_any_range",
                vec![
                    lit_str("10.1.2.3"),
                    call(
                        "parse_json",
                        vec![lit_str(r#"["192.168.0.0/16","10.0.0.0/8"]"#)]
                    )
                ]
            )
            .await,
            ["True"]
        );
        assert_eq!(
            eval(
                "ipv4_compare",
                vec![
                    lit_str("192.168.1.1"),
                    lit_str("192.168.1.255"),
                    lit(24_i64)
                ]
            )
            .await,
            ["0"]
        );
        assert_eq!(
            eval(
                "ipv4_compare",
                vec![lit_str("192.168.1.1"), lit_str("192.168.1.255")]
            )
            .await,
            ["-1"]
        );
        assert_eq!(
            eval(
                "format_ipv4_mask",
                vec![lit_str("192.168.1.1"), lit(24_i64)]
            )
            .await,
            ["192.168.1.0/24"]
        );
    }

    #[tokio::test]
    async fn ipv4_text_search_needs_delimited_addresses() {
        let log = "05:04:54 127.0.0.1 GET /favicon.ico 404";
        assert_eq!(
            eval("has_ipv4", vec![lit_str(log), lit_str("127.0.0.1")]).await,
            ["True"]
        );
        assert_eq!(
            eval(
                "has_ipv4",
                vec![lit_str("05:04:54127.0.0.1 GET"), lit_str("127.0.0.1")]
            )
            .await,
            ["False"]
        );
        assert_eq!(
            eval("has_ipv4_prefix", vec![lit_str(log), lit_str("127.0.")]).await,
            ["True"]
        );
        assert_eq!(
            eval("has_ipv4_prefix", vec![lit_str(log), lit_str("127.0")]).await,
            ["False"]
        );
        assert_eq!(
            eval(
                "has_any_ipv4",
                vec![lit_str(log), lit_str("10.0.0.1"), lit_str("127.0.0.1")]
            )
            .await,
            ["True"]
        );
    }

    #[tokio::test]
    async fn ipv6_ranges_include_mapped_ipv4() {
        assert_eq!(
            eval(
                "ipv6_is_in_range",
                vec![
                    lit_str("a5e:f127:8a9d:146d:e102:b5d3:c755:abcd"),
                    lit_str("a5e:f127:8a9d:146d:e102:b5d3:c755:0000/112")
                ]
            )
            .await,
            ["True"]
        );
        assert_eq!(
            eval(
                "ipv6_is_match",
                vec![lit_str("192.168.1.1/24"), lit_str("192.168.1.255")]
            )
            .await,
            ["True"]
        );
        assert_eq!(
            eval("parse_ipv6", vec![lit_str("::ffff:127.0.0.1")]).await,
            ["0000:0000:0000:0000:0000:ffff:7f00:0001"]
        );
    }
}
