//! Garbage, deep nesting and odd UTF-8 must give a diagnostic, never a panic or stack overflow.
//! Each check runs on a thread with a 2 MiB stack, the default for test and worker threads.

use goshawk_kql_syntax::{MAX_NESTING_DEPTH, parse_expression, parse_query};

fn on_small_stack(check: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(check)
        .expect("spawning a test thread")
        .join()
        .expect("the check panicked or overflowed");
}

#[test]
fn nesting_just_under_the_limit_parses() {
    on_small_stack(|| {
        let depth = (MAX_NESTING_DEPTH - 10) as usize;
        let query = format!("print {}1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(
            parse_query(&query).is_ok(),
            "{depth} parentheses should parse"
        );
    });
}

#[test]
fn nesting_beyond_the_limit_is_an_error() {
    on_small_stack(|| {
        let deep = 100_000;
        let inputs = [
            format!("print {}1{}", "(".repeat(deep), ")".repeat(deep)),
            format!("print {}1", "-".repeat(deep)),
            format!("print dynamic({}{})", "[".repeat(deep), "]".repeat(deep)),
            format!("T{}", " | where x in (T".repeat(deep)),
            format!("let f = () {};", "{ let g = () ".repeat(deep)),
            format!("T | mv-apply x on ({}", "T | mv-apply y on (".repeat(deep)),
            format!("{}T", "(".repeat(deep)),
        ];
        for input in inputs {
            let diagnostic = parse_query(&input).expect_err("deep input must be rejected");
            assert!(
                diagnostic.message.contains("nested too deeply"),
                "unexpected message: {}",
                diagnostic.message
            );
        }
    });
}

#[test]
fn long_operator_chains_are_bounded() {
    on_small_stack(|| {
        let ok = format!("1{}", " + 1".repeat(900));
        let parsed = parse_expression(&ok).expect("900 additions parse");
        assert!(format!("{parsed:?}").len() > 1000);
        let too_long = format!("1{}", " or 1".repeat(50_000));
        let diagnostic = parse_expression(&too_long).expect_err("50,000 links are rejected");
        assert!(
            diagnostic.message.contains("chains more than"),
            "{}",
            diagnostic.message
        );
        let members = format!("a{}", ".b".repeat(50_000));
        assert!(parse_expression(&members).is_err());
    });
}

/// A small deterministic generator (xorshift) so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn random_token_soup_never_panics() {
    const PIECES: &[&str] = &[
        "T",
        "|",
        "where",
        "x",
        "==",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ".",
        "..",
        ":",
        "=",
        "\"s\"",
        "'",
        "\"",
        "@\"",
        "h'",
        "```",
        "1",
        "1.5",
        "1e",
        "0x",
        "10m",
        "5x",
        "-",
        "+",
        "*",
        "/",
        "!",
        "!has",
        "in~",
        "!in",
        "between",
        "let",
        "datetime(",
        "guid(",
        "dynamic(",
        "int(",
        "time(",
        "join",
        "on",
        "$left",
        "kind=",
        "union",
        "mv-apply",
        "project-away",
        "summarize",
        "by",
        "parse",
        "with",
        "scan",
        "step",
        "=>",
        "graph-match",
        "-[",
        "]->",
        "é",
        "\u{a0}",
        "\u{2003}",
        "🦀",
        "\u{0}",
        "\n",
        "//",
        "`",
        "#",
        "\\",
        "datatable(",
        "externaldata(",
        "evaluate",
        "render",
        "typeof(",
        "make-series",
        "from",
        "to",
        "step",
    ];
    on_small_stack(|| {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let length = 1 + rng.next() % 24;
            let mut query = String::new();
            for _ in 0..length {
                query.push_str(rng.pick(PIECES));
                if rng.next().is_multiple_of(3) {
                    query.push(' ');
                }
            }
            if let Err(diagnostic) = parse_query(&query) {
                // Spans must stay inside the source and on character boundaries.
                let (start, end) = (diagnostic.span.start as usize, diagnostic.span.end as usize);
                assert!(start <= end && end <= query.len(), "bad span for {query:?}");
                assert!(
                    query.is_char_boundary(start) && query.is_char_boundary(end),
                    "{query:?}"
                );
                let rendered = diagnostic.render(&query, &Default::default());
                assert!(rendered.starts_with("error: "), "{rendered}");
            }
            let _ = parse_expression(&query);
        }
    });
}

#[test]
fn random_bytes_never_panic() {
    on_small_stack(|| {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..20_000 {
            let length = (rng.next() % 64) as usize;
            // Bias towards ASCII punctuation and letters so the parser gets past the lexer.
            const ALPHABET: &[u8] = b" |()[]{},;.:=!<>~+-*/%\\\"'@`$hxd0123456789abcinon";
            let bytes: Vec<u8> = (0..length)
                .map(|_| match rng.next() % 4 {
                    0 => (rng.next() % 256) as u8,
                    _ => ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize],
                })
                .collect();
            let query = String::from_utf8_lossy(&bytes);
            let _ = parse_query(&query);
            let _ = parse_expression(&query);
        }
    });
}

#[test]
fn extreme_numbers_do_not_overflow() {
    for query in [
        "print long(-0x8000000000000000)",
        "print dynamic([-0x8000000000000000, -9223372036854775808])",
        "print int(-0xFFFFFFFF), int(-2147483648), long(-9223372036854775808)",
        "print time(-106751.23:47:16.8547758), time(9999999999999999999d)",
        "print 1e999, 0xFFFFFFFFFFFFFFFFFF, 99999999999999999999d, 1.00000000000000000000000001s",
        "print -(-9223372036854775808)",
    ] {
        if let Err(diagnostic) = parse_query(query) {
            assert!(!diagnostic.message.is_empty(), "{query}");
        }
    }
}

#[test]
fn large_flat_input_parses_in_linear_time() {
    let values: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let query = format!("datatable(x:long)[{}]", values.join(","));
    let started = std::time::Instant::now();
    parse_query(&query).expect("a long datatable parses");
    // Generous even for unoptimised builds; a quadratic parser would take minutes.
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}
