//! Measures the candidate in-engine representations of Kusto `dynamic` on the operations KQL
//! hunts use most: member/index access (`x.Details.Owners[0].Name` then `tostring`),
//! `bag_keys`, `array_length`. Run: `cargo bench -p goshawk-kql-engine --bench dynamic_repr`.
//! Results and the decision are in docs/engine-types.md.

use std::hint::black_box;
use std::time::Instant;

use jiter::Jiter;
use serde_json::Value;

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

const PATH: [Step<'static>; 4] = [
    Step::Key("Details"),
    Step::Key("Owners"),
    Step::Index(0),
    Step::Key("Name"),
];

fn document(i: usize, padding: usize) -> String {
    let extra: String = (0..padding)
        .map(|p| format!(r#""Prop{p}":{{"oldValue":"v{p}-{i}","newValue":[{p},{i},"x"]}},"#))
        .collect();
    format!(
        r#"{{"Id":"{i:08}-1111-2222-3333-444455556666","Name":"Contoso HR {i}",{extra}"Details":{{"Tags":["hr","prod","eu"],"Owners":[{{"Name":"owner{i}@contoso.com","Role":"admin"}}],"Enabled":true}}}}"#,
    )
}

/// serde_json: parse the whole document into a tree, then walk it.
fn serde_path(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let mut current = &value;
    for step in &PATH {
        current = match step {
            Step::Key(k) => current.get(*k)?,
            Step::Index(i) => current.get(*i)?,
        };
    }
    Some(match current {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn serde_keys(text: &str) -> usize {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    value.as_object().map_or(0, |m| m.keys().count())
}

fn serde_len(text: &str) -> usize {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    value
        .pointer("/Details/Tags")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// jiter: walk the text lazily, skipping everything off the path, and return the raw slice.
fn jiter_find<'a>(text: &'a str, path: &[Step<'_>]) -> Option<&'a [u8]> {
    let mut jiter = Jiter::new(text.as_bytes());
    for step in path {
        match step {
            Step::Key(wanted) => {
                let mut key = jiter.next_object().ok()?;
                loop {
                    let k = key?;
                    if k == *wanted {
                        break;
                    }
                    jiter.next_skip().ok()?;
                    key = jiter.next_key().ok()?;
                }
            }
            Step::Index(wanted) => {
                let mut peek = jiter.next_array().ok()?;
                let mut index = 0;
                loop {
                    peek?;
                    if index == *wanted {
                        break;
                    }
                    jiter.next_skip().ok()?;
                    peek = jiter.array_step().ok()?;
                    index += 1;
                }
            }
        }
    }
    let start = jiter.current_index();
    let peek = jiter.peek().ok()?;
    let start = start
        + text.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    jiter.known_skip(peek).ok()?;
    Some(jiter.slice_to_current(start))
}

fn jiter_path(text: &str) -> Option<String> {
    let raw = jiter_find(text, &PATH)?;
    if raw.first() == Some(&b'"') {
        let mut j = Jiter::new(raw);
        return j.next_str().ok().map(str::to_string);
    }
    std::str::from_utf8(raw).ok().map(str::to_string)
}

fn jiter_keys(text: &str) -> usize {
    let mut jiter = Jiter::new(text.as_bytes());
    let mut count = 0;
    let Ok(mut key) = jiter.next_object() else {
        return 0;
    };
    while key.is_some() {
        count += 1;
        if jiter.next_skip().is_err() {
            return count;
        }
        key = jiter.next_key().unwrap_or(None);
    }
    count
}

fn jiter_len(text: &str) -> usize {
    let Some(raw) = jiter_find(text, &[Step::Key("Details"), Step::Key("Tags")]) else {
        return 0;
    };
    let mut jiter = Jiter::new(raw);
    let mut count = 0;
    let Ok(mut peek) = jiter.next_array() else {
        return 0;
    };
    while let Some(p) = peek {
        count += 1;
        if jiter.known_skip(p).is_err() {
            break;
        }
        peek = jiter.array_step().unwrap_or(None);
    }
    count
}

/// Already-parsed trees: the access cost alone, a lower bound for any binary encoding.
fn parsed_path(value: &Value) -> Option<String> {
    let mut current = value;
    for step in &PATH {
        current = match step {
            Step::Key(k) => current.get(*k)?,
            Step::Index(i) => current.get(*i)?,
        };
    }
    current.as_str().map(str::to_string)
}

/// Best of five runs: the build machine is shared, so the minimum is the least noisy figure.
fn time<T>(label: &str, rows: usize, bytes: usize, mut f: impl FnMut() -> T) {
    let mut elapsed = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        black_box(f());
        elapsed = elapsed.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{label:<34} {:>8.1} ns/row {:>8.2} M rows/s {:>7.0} MB/s",
        elapsed * 1e9 / rows as f64,
        rows as f64 / elapsed / 1e6,
        bytes as f64 / elapsed / 1e6
    );
}

fn main() {
    let rows = 50_000;
    for padding in [0, 8] {
        let docs: Vec<String> = (0..rows).map(|i| document(i, padding)).collect();
        let bytes: usize = docs.iter().map(String::len).sum();
        println!("--- {} rows, {} bytes/doc on average", rows, bytes / rows);
        for doc in docs.iter().take(3) {
            assert_eq!(serde_path(doc), jiter_path(doc));
            assert_eq!(serde_keys(doc), jiter_keys(doc));
            assert_eq!(serde_len(doc), jiter_len(doc));
        }
        time("serde_json tree: path + tostring", rows, bytes, || {
            docs.iter().filter_map(|d| serde_path(d)).count()
        });
        time("jiter lazy: path + tostring", rows, bytes, || {
            docs.iter().filter_map(|d| jiter_path(d)).count()
        });
        time("serde_json tree: bag_keys count", rows, bytes, || {
            docs.iter().map(|d| serde_keys(d)).sum::<usize>()
        });
        time("jiter lazy: bag_keys count", rows, bytes, || {
            docs.iter().map(|d| jiter_keys(d)).sum::<usize>()
        });
        time("serde_json tree: array_length", rows, bytes, || {
            docs.iter().map(|d| serde_len(d)).sum::<usize>()
        });
        time("jiter lazy: array_length", rows, bytes, || {
            docs.iter().map(|d| jiter_len(d)).sum::<usize>()
        });
        let parsed: Vec<Value> = docs
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        time("pre-parsed tree: path only", rows, bytes, || {
            parsed.iter().filter_map(parsed_path).count()
        });
        let bytes_in_memory: usize = docs.iter().map(|d| d.len()).sum();
        println!("text held in memory: {} MB", bytes_in_memory / 1_000_000);
    }
}
