//! The built-in detections (Sentinel YAML and Elastic TOML under `builtin/rules/`).

/// `(origin, text)` of every built-in rule file.
pub(super) const FILES: &[(&str, &str)] = &[(
    "builtin/rules/hunt01.yaml",
    include_str!("rules/hunt01.yaml"),
)];
