//! Ingests Azure log exports into goshawk's Parquet lake, losing nothing
