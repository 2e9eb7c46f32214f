//! Splits a stream of JSON text into records without building a tree of the whole input.
//!
//! One pass over the bytes tracks only string state and nesting depth, so a 50 GB pretty-printed
//! array costs as much memory as its largest element. Accepted layouts: JSON Lines, concatenated
//! values, one or several top-level arrays, and envelopes whose `records` (Event Hub, storage
//! diagnostic logs) or `value` (Graph API pages) member is an array of records. Envelope members
//! other than that array (`@odata.context`, `@odata.nextLink`) are paging metadata, not records,
//! and are skipped.
//!
//! Anything that is not JSON is cut out line by line and reported as malformed, and scanning goes
//! on after it, so one bad line never hides the records that follow it.

use std::io::{self, BufRead};

/// A unit of input found by the scanner, with where it starts in the decoded text.
#[derive(Debug)]
pub enum ScanItem {
    Record {
        line: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    Malformed {
        line: u64,
        offset: u64,
        raw: Vec<u8>,
        raw_len: u64,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outer {
    TopLevel,
    TopArray,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    TopLevel,
    TopArray,
    EnvelopeArray(Outer),
}

impl From<Outer> for Context {
    fn from(outer: Outer) -> Self {
        match outer {
            Outer::TopLevel => Context::TopLevel,
            Outer::TopArray => Context::TopArray,
        }
    }
}

/// Where the scanner is inside the members of a top-level object, to recognise an envelope
/// (`"records": [` or `"value": [`) before the array's elements have been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Off,
    ExpectKey,
    InKey,
    AfterKey,
    AfterColon,
    InValue,
}

#[derive(Debug)]
struct Capture {
    ret: Context,
    keep: bool,
    depth: u32,
    in_string: bool,
    escape: bool,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
    len: u64,
    key_state: KeyState,
    key: Vec<u8>,
    envelope_of: Option<Outer>,
}

#[derive(Debug)]
struct Garbage {
    ret: Context,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
    len: u64,
}

#[derive(Debug)]
enum Mode {
    Between(Context),
    Capture(Box<Capture>),
    Garbage(Garbage),
}

const ENVELOPE_KEYS: [&[u8]; 2] = [b"records", b"value"];
const MAX_KEY_LEN: usize = 16;
const RECORD_CAPACITY: usize = 4096;

pub struct JsonScanner<R> {
    reader: R,
    mode: Mode,
    line: u64,
    offset: u64,
    max_record_bytes: usize,
    max_raw_bytes: usize,
    done: bool,
}

enum Step {
    Continue,
    Emit(ScanItem),
    /// Emit, and process the current byte again in the new mode.
    EmitAndRetry(ScanItem),
}

impl<R: BufRead> JsonScanner<R> {
    pub fn new(reader: R, max_record_bytes: usize, max_raw_bytes: usize) -> Self {
        JsonScanner {
            reader,
            mode: Mode::Between(Context::TopLevel),
            line: 1,
            offset: 0,
            max_record_bytes,
            max_raw_bytes,
            done: false,
        }
    }

    /// The next record or malformed stretch; `Ok(None)` at the end of the input. An I/O error
    /// (a corrupt gzip stream, say) ends the scan: the caller reports it with the offset.
    pub fn next_item(&mut self) -> io::Result<Option<ScanItem>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.done = true;
                    return Err(err);
                }
            };
            if chunk.is_empty() {
                self.done = true;
                return Ok(self.finish());
            }
            let mut consumed = 0;
            let mut emitted = None;
            while consumed < chunk.len() {
                let (used, step) = step_chunk(
                    &mut self.mode,
                    &chunk[consumed..],
                    &mut self.line,
                    &mut self.offset,
                    self.max_record_bytes,
                    self.max_raw_bytes,
                );
                consumed += used;
                match step {
                    Step::Continue => {}
                    Step::Emit(item) | Step::EmitAndRetry(item) => {
                        emitted = Some(item);
                        break;
                    }
                }
            }
            self.reader.consume(consumed);
            if let Some(item) = emitted {
                return Ok(Some(item));
            }
        }
    }

    /// The input ended: whatever value or garbage was open is truncated input.
    fn finish(&mut self) -> Option<ScanItem> {
        match std::mem::replace(&mut self.mode, Mode::Between(Context::TopLevel)) {
            Mode::Between(_) => None,
            Mode::Capture(capture) if !capture.keep => None,
            Mode::Capture(capture) => Some(ScanItem::Malformed {
                line: capture.line,
                offset: capture.offset,
                raw: bounded(capture.buf, self.max_raw_bytes),
                raw_len: capture.len,
                reason: "truncated JSON: the input ends inside this value".to_string(),
            }),
            Mode::Garbage(garbage) => Some(garbage_item(garbage, self.max_raw_bytes)),
        }
    }
}

impl<R: BufRead> Iterator for JsonScanner<R> {
    type Item = io::Result<ScanItem>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

fn bounded(mut raw: Vec<u8>, max: usize) -> Vec<u8> {
    raw.truncate(max);
    raw
}

fn garbage_item(garbage: Garbage, max_raw: usize) -> ScanItem {
    ScanItem::Malformed {
        line: garbage.line,
        offset: garbage.offset,
        raw: bounded(garbage.buf, max_raw),
        raw_len: garbage.len,
        reason: "not JSON: expected an object, an array or a records/value envelope".to_string(),
    }
}

fn start_capture(ret: Context, line: u64, offset: u64, first: u8, detect: bool) -> Mode {
    Mode::Capture(Box::new(Capture {
        ret,
        keep: true,
        depth: 1,
        in_string: false,
        escape: false,
        line,
        offset,
        buf: {
            // Azure records are a few kB: start at that size instead of doubling up to it.
            let mut buf = Vec::with_capacity(RECORD_CAPACITY);
            buf.push(first);
            buf
        },
        len: 1,
        key_state: if first == b'{' {
            KeyState::ExpectKey
        } else {
            KeyState::Off
        },
        key: Vec::new(),
        envelope_of: match (detect, ret) {
            (true, Context::TopLevel) => Some(Outer::TopLevel),
            (true, Context::TopArray) => Some(Outer::TopArray),
            _ => None,
        },
    }))
}

/// Processes bytes from `chunk` until it is used up or an item is complete; returns how many
/// bytes were used.
fn step_chunk(
    mode: &mut Mode,
    chunk: &[u8],
    line: &mut u64,
    offset: &mut u64,
    max_record: usize,
    max_raw: usize,
) -> (usize, Step) {
    let mut i = 0;
    while i < chunk.len() {
        // Fast path: inside a string nothing but a quote, a backslash or a newline matters.
        if let Mode::Capture(capture) = mode
            && capture.in_string
            && !capture.escape
            && capture.key_state != KeyState::InKey
        {
            let rest = &chunk[i..];
            let run = memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
            if run > 0 {
                push_bytes(capture, &rest[..run], max_record);
                i += run;
                *offset += run as u64;
                continue;
            }
        }
        let byte = chunk[i];
        let step = step_byte(mode, byte, *line, *offset, max_record, max_raw);
        match step {
            Step::EmitAndRetry(item) => return (i, Step::EmitAndRetry(item)),
            other => {
                i += 1;
                *offset += 1;
                if byte == b'\n' {
                    *line += 1;
                }
                if let Step::Emit(item) = other {
                    return (i, Step::Emit(item));
                }
            }
        }
    }
    (i, Step::Continue)
}

fn push_bytes(capture: &mut Capture, bytes: &[u8], max_record: usize) {
    capture.len += bytes.len() as u64;
    if capture.keep && capture.buf.len() < max_record {
        let room = max_record - capture.buf.len();
        capture
            .buf
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn step_byte(
    mode: &mut Mode,
    byte: u8,
    line: u64,
    offset: u64,
    max_record: usize,
    max_raw: usize,
) -> Step {
    match mode {
        Mode::Between(context) => {
            let context = *context;
            if is_space(byte) {
                return Step::Continue;
            }
            match (context, byte) {
                (Context::TopLevel, b'{') => {
                    *mode = start_capture(context, line, offset, byte, true);
                }
                (Context::TopLevel, b'[') => *mode = Mode::Between(Context::TopArray),
                (Context::TopArray | Context::EnvelopeArray(_), b',') => {}
                (Context::TopArray, b']') => *mode = Mode::Between(Context::TopLevel),
                (Context::TopArray, b'{') => {
                    *mode = start_capture(context, line, offset, byte, true);
                }
                (Context::TopArray | Context::EnvelopeArray(_), b'[')
                | (Context::EnvelopeArray(_), b'{') => {
                    *mode = start_capture(context, line, offset, byte, false);
                }
                (Context::EnvelopeArray(outer), b']') => {
                    // The rest of the envelope object is paging metadata: skip to its end.
                    *mode = Mode::Capture(Box::new(Capture {
                        ret: outer.into(),
                        keep: false,
                        depth: 1,
                        in_string: false,
                        escape: false,
                        line,
                        offset,
                        buf: Vec::new(),
                        len: 0,
                        key_state: KeyState::Off,
                        key: Vec::new(),
                        envelope_of: None,
                    }));
                }
                _ => {
                    *mode = Mode::Garbage(Garbage {
                        ret: context,
                        line,
                        offset,
                        buf: vec![byte],
                        len: 1,
                    });
                }
            }
            Step::Continue
        }
        Mode::Garbage(garbage) => {
            if byte == b'\n' {
                let ret = garbage.ret;
                let Mode::Garbage(garbage) = std::mem::replace(mode, Mode::Between(ret)) else {
                    return Step::Continue;
                };
                return Step::Emit(garbage_item(garbage, max_raw));
            }
            garbage.len += 1;
            if garbage.buf.len() < max_raw {
                garbage.buf.push(byte);
            }
            Step::Continue
        }
        Mode::Capture(capture) => match step_capture(capture, byte, max_record) {
            None => Step::Continue,
            Some(outcome) => finish_capture(mode, outcome, max_record, max_raw),
        },
    }
}

enum CaptureOutcome {
    Complete,
    /// A raw newline inside a string, or an object where a key belongs: the value was cut off
    /// (typically a truncated line of JSON Lines) and the current byte starts something new.
    Broken(&'static str),
    Envelope(Outer),
}

fn step_capture(capture: &mut Capture, byte: u8, max_record: usize) -> Option<CaptureOutcome> {
    if capture.in_string {
        if capture.escape {
            capture.escape = false;
        } else if byte == b'\\' {
            capture.escape = true;
        } else if byte == b'"' {
            capture.in_string = false;
            if capture.key_state == KeyState::InKey {
                capture.key_state = KeyState::AfterKey;
            }
        } else if byte == b'\n' {
            return Some(CaptureOutcome::Broken(
                "truncated JSON: a string is not closed before the end of the line",
            ));
        }
        if capture.key_state == KeyState::InKey && capture.key.len() <= MAX_KEY_LEN {
            capture.key.push(byte);
        }
        push_bytes(capture, &[byte], max_record);
        return None;
    }
    if is_space(byte) {
        push_bytes(capture, &[byte], max_record);
        return None;
    }
    let at_member_level = capture.depth == 1;
    match byte {
        b'"' => {
            capture.in_string = true;
            if at_member_level && capture.key_state == KeyState::ExpectKey {
                capture.key_state = KeyState::InKey;
                capture.key.clear();
            }
        }
        b':' if at_member_level && capture.key_state == KeyState::AfterKey => {
            capture.key_state = KeyState::AfterColon;
        }
        b'{' | b'[' => {
            if at_member_level {
                match capture.key_state {
                    KeyState::ExpectKey if byte == b'{' => {
                        return Some(CaptureOutcome::Broken(
                            "truncated JSON: a new object starts where a member name belongs",
                        ));
                    }
                    KeyState::AfterColon => {
                        let name = capture.key.strip_suffix(b"\"").unwrap_or(&capture.key);
                        if byte == b'['
                            && ENVELOPE_KEYS.contains(&name)
                            && let Some(outer) = capture.envelope_of
                        {
                            return Some(CaptureOutcome::Envelope(outer));
                        }
                        capture.key_state = KeyState::InValue;
                    }
                    _ => {}
                }
            }
            capture.depth += 1;
        }
        b'}' | b']' => {
            capture.depth = capture.depth.saturating_sub(1);
            push_bytes(capture, &[byte], max_record);
            if capture.depth == 0 {
                return Some(CaptureOutcome::Complete);
            }
            return None;
        }
        b',' if at_member_level && capture.key_state != KeyState::Off => {
            capture.key_state = KeyState::ExpectKey;
        }
        _ => {
            if at_member_level && capture.key_state == KeyState::AfterColon {
                capture.key_state = KeyState::InValue;
            }
        }
    }
    push_bytes(capture, &[byte], max_record);
    None
}

fn finish_capture(
    mode: &mut Mode,
    outcome: CaptureOutcome,
    max_record: usize,
    max_raw: usize,
) -> Step {
    let Mode::Capture(capture) = std::mem::replace(mode, Mode::Between(Context::TopLevel)) else {
        return Step::Continue;
    };
    let capture = *capture;
    match outcome {
        CaptureOutcome::Envelope(outer) => {
            *mode = Mode::Between(Context::EnvelopeArray(outer));
            Step::Continue
        }
        CaptureOutcome::Complete => {
            *mode = Mode::Between(capture.ret);
            if !capture.keep {
                return Step::Continue;
            }
            if capture.len > max_record as u64 {
                return Step::Emit(ScanItem::Malformed {
                    line: capture.line,
                    offset: capture.offset,
                    raw: bounded(capture.buf, max_raw),
                    raw_len: capture.len,
                    reason: format!(
                        "record of {} bytes is larger than the limit of {max_record} bytes",
                        capture.len
                    ),
                });
            }
            Step::Emit(ScanItem::Record {
                line: capture.line,
                offset: capture.offset,
                bytes: capture.buf,
            })
        }
        CaptureOutcome::Broken(reason) => {
            *mode = Mode::Between(capture.ret);
            if !capture.keep {
                return Step::Continue;
            }
            Step::EmitAndRetry(ScanItem::Malformed {
                line: capture.line,
                offset: capture.offset,
                raw: bounded(capture.buf, max_raw),
                raw_len: capture.len,
                reason: reason.to_string(),
            })
        }
    }
}
