//! Parses the whole Sentinel query corpus (2,515 queries, 3.9 MB) per iteration.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn load_queries() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sentinel/queries.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read the corpus at {}: {err}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("bad JSON line in {}: {err}", path.display()));
            record["query"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn parse_corpus(c: &mut Criterion) {
    let queries = load_queries();
    let bytes: usize = queries.iter().map(String::len).sum();
    let mut group = c.benchmark_group("sentinel_corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("parse_all_queries", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for query in &queries {
                if goshawk_kql_syntax::parse_query(black_box(query)).is_ok() {
                    accepted += 1;
                }
            }
            black_box(accepted)
        });
    });
    group.finish();
}

criterion_group!(benches, parse_corpus);
criterion_main!(benches);
