//! Turns an input file into UTF-8 text whatever its container and encoding: gzip is recognised
//! by its magic bytes (not the extension), and a byte-order mark selects UTF-8, UTF-16 LE or
//! UTF-16 BE (PowerShell writes UTF-16 with a BOM by default).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs_io::DecodeReaderBytesBuilder;
use flate2::read::MultiGzDecoder;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 1 << 20;

/// What the container and encoding sniffing found, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    pub gzip: bool,
}

/// Counts the bytes read from the file itself (compressed bytes for gzip), so that progress
/// can be reported against the file size.
struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` as a stream of UTF-8 bytes with any BOM removed.
pub fn open_text(
    path: &Path,
    bytes_read: Arc<AtomicU64>,
) -> io::Result<(Box<dyn BufRead + Send>, Container)> {
    let file = File::open(path)?;
    let mut raw = BufReader::with_capacity(
        READ_BUFFER,
        CountingReader {
            inner: file,
            counter: bytes_read,
        },
    );
    let gzip = raw.fill_buf()?.starts_with(&GZIP_MAGIC);
    let decompressed: Box<dyn Read + Send> = if gzip {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    // Without a BOM the bytes pass through untouched (JSON and CSV exports are UTF-8); with one,
    // UTF-16 is transcoded and the BOM is dropped so that the first key or header is clean.
    let decoded = DecodeReaderBytesBuilder::new()
        .bom_sniffing(true)
        .strip_bom(true)
        .build(decompressed);
    Ok((
        Box::new(BufReader::with_capacity(READ_BUFFER, decoded)),
        Container { gzip },
    ))
}
