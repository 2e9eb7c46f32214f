//! Hash functions: `hash` and `hash_xxhash64` (xxHash64, optionally modulo), `hash_sha1`,
//! `hash_sha256`.
//!
//! What is hashed is what the real engine hashes: a `datetime` or `timespan` as its 8-byte
//! little-endian .NET tick count (`hash(datetime(2015-01-01))` is 1380966698541616202, as
//! documented), every other value as the UTF-8 text of `tostring()`; the SHA digests hash the
//! text only (`hash_sha1(datetime(2020-01-01))` is the digest of
//! `2020-01-01T00:00:00.0000000Z`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use sha1::Digest;

use super::{Call, KustoScalar, returns};
use crate::format::string_value;

/// .NET ticks (100 ns) between 0001-01-01 and the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// The bytes Kusto's xxHash64 sees for argument `index`, row by row (`None` for null).
fn hashed_bytes(call: &Call<'_>, index: usize) -> DFResult<Vec<Option<Vec<u8>>>> {
    let ty = call.types[index];
    if matches!(ty, KustoType::DateTime | KustoType::TimeSpan) {
        let nanos = arrow::compute::cast(&call.args[index], &DataType::Int64)?;
        let offset = if ty == KustoType::DateTime {
            UNIX_EPOCH_TICKS
        } else {
            0
        };
        return Ok(nanos
            .as_primitive::<Int64Type>()
            .iter()
            .map(|n| n.map(|n| (n.div_euclid(100) + offset).to_le_bytes().to_vec()))
            .collect());
    }
    let texts = call.strings(index);
    Ok((0..call.rows)
        .map(|row| string_value(&texts, row).map(|t| t.as_bytes().to_vec()))
        .collect())
}

/// `hash(value [, modulo])` / `hash_xxhash64(value [, modulo])`: xxHash64 with seed 0; a
/// modulo that is null or not positive gives null.
fn xxhash(name: &'static str) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        returns(KustoType::Long),
        Arc::new(|call| {
            let bytes = hashed_bytes(call, 0)?;
            let modulo = if call.args.len() > 1 {
                Some(call.longs(1)?)
            } else {
                None
            };
            let values: Int64Array = bytes
                .iter()
                .enumerate()
                .map(|(row, bytes)| {
                    let hash = twox_hash::XxHash64::oneshot(0, bytes.as_ref()?) as i64;
                    match &modulo {
                        None => Some(hash),
                        Some(m) if m.is_null(row) || m.value(row) <= 0 => None,
                        Some(m) => Some((hash as u64 % m.value(row) as u64) as i64),
                    }
                })
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

/// A hex digest of the value's text; null stays null.
fn digest<D: Digest>(name: &'static str) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::String),
        Arc::new(|call| {
            let texts = call.strings(0);
            let values: StringArray = (0..call.rows)
                .map(|row| {
                    let text = string_value(&texts, row)?;
                    let hash = D::digest(text.as_bytes());
                    Some(hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
                })
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        xxhash("hash"),
        xxhash("hash_xxhash64"),
        digest::<sha1::Sha1>("hash_sha1"),
        digest::<sha2::Sha256>("hash_sha256"),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;
    use datafusion::scalar::ScalarValue;

    use crate::scalar::test_support::{eval, lit_str};

    fn date(nanos: i64) -> datafusion::logical_expr::Expr {
        lit(ScalarValue::TimestampNanosecond(
            Some(nanos),
            Some("UTC".into()),
        ))
    }

    #[tokio::test]
    async fn datetimes_hash_their_ticks() {
        // 2015-01-01 and 2020-01-01 as Unix nanoseconds.
        let y2015 = 1_420_070_400_000_000_000;
        let y2020 = 1_577_836_800_000_000_000;
        for name in ["hash", "hash_xxhash64"] {
            assert_eq!(eval(name, vec![date(y2015)]).await, ["1380966698541616202"]);
            assert_eq!(
                eval(name, vec![lit_str("World")]).await,
                ["1846988464401551951"]
            );
        }
        assert_eq!(
            eval("hash_sha1", vec![date(y2020)]).await,
            ["e903e533f4d636b4fc0dcf3cf81e7b7f330de776"]
        );
        assert_eq!(
            eval("hash_sha256", vec![lit_str("World")]).await,
            ["78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524"]
        );
    }
}
