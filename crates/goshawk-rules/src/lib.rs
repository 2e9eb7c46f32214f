//! Detection content: Sentinel YAML and Elastic TOML rules
