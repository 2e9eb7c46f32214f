//! The rejects file of one source: one JSON line per record that could not be read or mapped,
//! with where it was, why, and its raw text (bounded). Written to a temporary file and renamed
//! into place before the source is recorded in the manifest.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{IngestError, Result};
use crate::lake::REJECTS_DIR;
use crate::sink::sync_dir;

#[derive(Debug, serde::Serialize)]
pub struct Reject<'a> {
    pub source: &'a str,
    /// 1-based line of the record's first byte in the decoded text.
    pub line: u64,
    /// Byte offset of the record in the decoded text (after gunzip and UTF-16 transcoding).
    pub byte_offset: u64,
    pub reason: &'a str,
    pub raw: String,
    pub raw_bytes: u64,
    pub raw_truncated: bool,
}

pub struct RejectsWriter {
    dir: PathBuf,
    name: String,
    temp: Option<(PathBuf, BufWriter<File>)>,
    max_raw: usize,
    pub count: u64,
}

impl RejectsWriter {
    pub fn new(lake: &Path, source_id: &str, max_raw: usize) -> Self {
        RejectsWriter {
            dir: lake.join(REJECTS_DIR),
            name: format!("{source_id}.jsonl"),
            temp: None,
            max_raw,
            count: 0,
        }
    }

    /// Records a reject; `raw` is cut to the configured size.
    pub fn reject(
        &mut self,
        source: &str,
        line: u64,
        byte_offset: u64,
        reason: &str,
        raw: &[u8],
        raw_len: u64,
    ) -> Result<()> {
        let kept = &raw[..raw.len().min(self.max_raw)];
        let entry = Reject {
            source,
            line,
            byte_offset,
            reason,
            raw: String::from_utf8_lossy(kept).into_owned(),
            raw_bytes: raw_len,
            raw_truncated: (kept.len() as u64) < raw_len,
        };
        if self.temp.is_none() {
            fs::create_dir_all(&self.dir).map_err(|e| IngestError::io(&self.dir, e))?;
            let path = self.dir.join(format!(".{}.tmp", self.name));
            let file = File::create(&path).map_err(|e| IngestError::io(&path, e))?;
            self.temp = Some((path, BufWriter::new(file)));
        }
        let Some((path, writer)) = self.temp.as_mut() else {
            return Ok(());
        };
        serde_json::to_writer(&mut *writer, &entry)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"))
            .map_err(|e| IngestError::io(path.as_path(), e))?;
        self.count += 1;
        Ok(())
    }

    /// Puts the rejects file in place; returns its path relative to the lake, if any.
    pub fn finish(self) -> Result<Option<String>> {
        let Some((temp_path, writer)) = self.temp else {
            return Ok(None);
        };
        let file = writer
            .into_inner()
            .map_err(|e| IngestError::io(&temp_path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| IngestError::io(&temp_path, e))?;
        let final_path = self.dir.join(&self.name);
        fs::rename(&temp_path, &final_path).map_err(|e| IngestError::io(&final_path, e))?;
        sync_dir(&self.dir)?;
        Ok(Some(format!("{REJECTS_DIR}/{}", self.name)))
    }
}
