//! Hand-rolled JSON emission into byte buffers. Building `serde_json::Value`s per record would
//! allocate a tree per record; writing straight into a reused buffer keeps generation well
//! above a million records per second.

use rand::RngCore;

/// Ticks are 100 ns units since the Unix epoch, the resolution of Kusto and Azure timestamps.
pub(crate) const TICKS_PER_SECOND: i64 = 10_000_000;
pub(crate) const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
pub(crate) const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub(crate) const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

const HEX: &[u8; 16] = b"0123456789abcdef";

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte is a control character, `"` or `\`, eight bytes at a time (exact).
fn needs_escape(bytes: &[u8]) -> bool {
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word_bytes = [0u8; 8];
        word_bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word_bytes);
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        if control
            | has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            != 0
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// A JSON string literal, escaped.
pub(crate) fn str(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    let bytes = value.as_bytes();
    // Almost every value (ids, names, paths) needs no escaping: copy it in one go.
    if !needs_escape(bytes) {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..index]);
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(byte >> 4)]);
                buf.push(HEX[usize::from(byte & 0xf)]);
                start = index + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..index]);
        buf.extend_from_slice(escape);
        start = index + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// A JSON string literal of a value that never needs escaping: identifiers, numbers, names and
/// texts from the generator's own tables (a test checks every table). Skipping the check is
/// what makes most members a plain copy.
pub(crate) fn safe(buf: &mut Vec<u8>, value: &str) {
    debug_assert!(!needs_escape(value.as_bytes()), "{value:?} needs escaping");
    buf.push(b'"');
    buf.extend_from_slice(value.as_bytes());
    buf.push(b'"');
}

/// `"key":"value",` for a value that never needs escaping (see [`safe`]).
pub(crate) fn member_safe(buf: &mut Vec<u8>, name: &str, value: &str) {
    key(buf, name);
    safe(buf, value);
    buf.push(b',');
}

/// Whether `value` can be written with [`safe`].
pub(crate) fn is_safe(value: &str) -> bool {
    !needs_escape(value.as_bytes())
}

/// `"key":` (keys are compile-time constants that never need escaping).
pub(crate) fn key(buf: &mut Vec<u8>, name: &str) {
    buf.push(b'"');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// `"key":"value",` - the common case of a string member followed by more members.
pub(crate) fn member_str(buf: &mut Vec<u8>, name: &str, value: &str) {
    key(buf, name);
    str(buf, value);
    buf.push(b',');
}

pub(crate) fn int(buf: &mut Vec<u8>, value: i64) {
    let mut formatter = itoa::Buffer::new();
    buf.extend_from_slice(formatter.format(value).as_bytes());
}

pub(crate) fn member_int(buf: &mut Vec<u8>, name: &str, value: i64) {
    key(buf, name);
    int(buf, value);
    buf.push(b',');
}

/// Replaces a trailing comma left by the `member_*` helpers with the closing bracket.
pub(crate) fn close(buf: &mut Vec<u8>, bracket: u8) {
    if buf.last() == Some(&b',') {
        buf.pop();
    }
    buf.push(bracket);
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, exact for all i64 days
/// the generator can produce).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Breaks ticks into (year, month, day, hour, minute, second, sub-second ticks).
pub(crate) fn split_ticks(ticks: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = ticks.div_euclid(TICKS_PER_DAY);
    let in_day = ticks.rem_euclid(TICKS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds = (in_day / TICKS_PER_SECOND) as u32;
    let fraction = (in_day % TICKS_PER_SECOND) as u32;
    (
        year,
        month,
        day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        fraction,
    )
}

fn two_digits(buf: &mut Vec<u8>, value: u32) {
    buf.push(b'0' + (value / 10 % 10) as u8);
    buf.push(b'0' + (value % 10) as u8);
}

/// ISO 8601 UTC timestamp without quotes; `fraction_digits` is 0 (Graph's whole seconds),
/// 3 or 7 (Azure Monitor's 100 ns ticks).
pub(crate) fn datetime_raw(buf: &mut Vec<u8>, ticks: i64, fraction_digits: u32) {
    let (year, month, day, hour, minute, second, fraction) = split_ticks(ticks);
    int(buf, year);
    buf.push(b'-');
    two_digits(buf, month);
    buf.push(b'-');
    two_digits(buf, day);
    buf.push(b'T');
    two_digits(buf, hour);
    buf.push(b':');
    two_digits(buf, minute);
    buf.push(b':');
    two_digits(buf, second);
    if fraction_digits > 0 {
        buf.push(b'.');
        let mut divisor = 1_000_000;
        for _ in 0..fraction_digits.min(7) {
            buf.push(b'0' + (fraction / divisor % 10) as u8);
            divisor /= 10;
        }
    }
    buf.push(b'Z');
}

pub(crate) fn datetime(buf: &mut Vec<u8>, ticks: i64, fraction_digits: u32) {
    buf.push(b'"');
    datetime_raw(buf, ticks, fraction_digits);
    buf.push(b'"');
}

/// A random (version 4) GUID, lower-case hex with dashes, without quotes.
pub(crate) fn guid_raw(buf: &mut Vec<u8>, rng: &mut impl RngCore) {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            buf.push(b'-');
        }
        buf.push(HEX[usize::from(byte >> 4)]);
        buf.push(HEX[usize::from(byte & 0xf)]);
    }
}

pub(crate) fn guid(buf: &mut Vec<u8>, rng: &mut impl RngCore) {
    buf.push(b'"');
    guid_raw(buf, rng);
    buf.push(b'"');
}

/// A GUID built from two hashes, written without quotes.
pub(crate) fn guid_from_raw(buf: &mut Vec<u8>, high: u64, low: u64) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            buf.push(b'-');
        }
        buf.push(HEX[usize::from(byte >> 4)]);
        buf.push(HEX[usize::from(byte & 0xf)]);
    }
}

/// A GUID built from two hashes: stable identifiers recomputed wherever they are needed.
pub(crate) fn guid_from(high: u64, low: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut buf = Vec::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            buf.push(b'-');
        }
        buf.push(HEX[usize::from(byte >> 4)]);
        buf.push(HEX[usize::from(byte & 0xf)]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A GUID as an owned string, for identifiers fixed up front (tenants, principals, jobs).
pub(crate) fn new_guid(rng: &mut impl RngCore) -> String {
    let mut buf = Vec::with_capacity(36);
    guid_raw(&mut buf, rng);
    String::from_utf8_lossy(&buf).into_owned()
}

/// 32 lower-case hex digits (role assignment ids, job id parts).
pub(crate) fn new_hex32(rng: &mut impl RngCore) -> String {
    new_guid(rng).replace('-', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_format_like_azure() {
        // 2026-05-01T00:13:46.3554259Z
        let ticks = (1_777_594_426 * TICKS_PER_SECOND) + 3_554_259;
        let mut buf = Vec::new();
        datetime_raw(&mut buf, ticks, 7);
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "2026-05-01T00:13:46.3554259Z"
        );
        buf.clear();
        datetime_raw(&mut buf, ticks, 0);
        assert_eq!(String::from_utf8_lossy(&buf), "2026-05-01T00:13:46Z");
        buf.clear();
        datetime_raw(&mut buf, 951_782_400 * TICKS_PER_SECOND, 3);
        assert_eq!(String::from_utf8_lossy(&buf), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn escape_detection_matches_a_byte_by_byte_check() {
        let slow = |bytes: &[u8]| bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let mut samples: Vec<Vec<u8>> = Vec::new();
        for special in [0u8, 0x1f, b'"', b'\\', b' ', b'!', 0x7f, 0xc3, b'#', b']'] {
            for position in 0..19 {
                let mut text = b"abcdefghijklmnopqrs".to_vec();
                text[position] = special;
                samples.push(text);
            }
        }
        for sample in &samples {
            assert_eq!(needs_escape(sample), slow(sample), "{sample:?}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut buf = Vec::new();
        str(&mut buf, "a\"b\\c\nd\u{1}é");
        let parsed: String = serde_json::from_slice(&buf).unwrap_or_default();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }
}
