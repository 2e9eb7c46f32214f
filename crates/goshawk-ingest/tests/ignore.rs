//! `.goshawkignore`: patterns in a walked directory exclude files below it, and the exclusions
//! are returned so that callers report them.

use std::path::Path;

use goshawk_ingest::{IGNORE_FILE, expand_inputs};

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "{}").unwrap();
}

#[test]
fn ignore_patterns_match_relative_paths_and_names_below_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in [
        "a.json",
        "notes.md",
        "keys/answer.jsonl",
        "logs/b.json",
        "logs/deep/notes.md",
    ] {
        touch(&root.join(file));
    }
    std::fs::write(root.join(IGNORE_FILE), "# not logs\n\n*.md\nkeys/*\n").unwrap();
    // A nested ignore file applies only below its own directory.
    std::fs::write(root.join("logs").join(IGNORE_FILE), "b.json\n").unwrap();
    touch(&root.join("other/b.json"));

    let expanded = expand_inputs(&[root.display().to_string()]).unwrap();
    let relative = |paths: &[std::path::PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    };
    assert_eq!(relative(&expanded.files), ["a.json", "other/b.json"]);
    assert_eq!(
        relative(&expanded.ignored),
        [
            ".goshawkignore",
            "keys/answer.jsonl",
            "logs/.goshawkignore",
            "logs/b.json",
            "logs/deep/notes.md",
            "notes.md"
        ]
    );
}

#[test]
fn a_file_named_explicitly_is_never_ignored() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("x.md"));
    std::fs::write(dir.path().join(IGNORE_FILE), "*.md\n").unwrap();
    let expanded = expand_inputs(&[dir.path().join("x.md").display().to_string()]).unwrap();
    assert_eq!(expanded.files.len(), 1);
    assert!(expanded.ignored.is_empty());
}

#[test]
fn a_bad_pattern_is_an_error_naming_the_ignore_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(IGNORE_FILE), "[unclosed\n").unwrap();
    let err = expand_inputs(&[dir.path().display().to_string()]).unwrap_err();
    assert!(err.to_string().contains(".goshawkignore"), "{err}");
}
