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

/// How much decoded text is read ahead to recognise the format (JSON or CSV).
const SNIFF_BYTES: usize = 64 << 10;

/// An opened source: UTF-8 text with any BOM removed, and its first bytes (up to the end of
/// the first line, at most 64 KiB), which the reader still yields.
pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    pub container: Container,
    pub head: Vec<u8>,
}

/// Opens `path` as a stream of UTF-8 bytes with any BOM removed.
pub fn open_text(path: &Path, bytes_read: Arc<AtomicU64>) -> io::Result<Opened> {
    open_reader(File::open(path)?, bytes_read)
}

/// [`open_text`] of a file already read into memory.
pub fn open_bytes(content: Vec<u8>, bytes_read: Arc<AtomicU64>) -> io::Result<Opened> {
    open_reader(io::Cursor::new(content), bytes_read)
}

/// True when `content` is plain UTF-8 as it stands: not gzip, no byte-order mark (so the text
/// [`open_text`] yields is `content` itself, byte for byte).
pub fn is_plain_text(content: &[u8]) -> bool {
    !content.starts_with(&GZIP_MAGIC)
        && !content.starts_with(&[0xef, 0xbb, 0xbf])
        && !content.starts_with(&[0xff, 0xfe])
        && !content.starts_with(&[0xfe, 0xff])
}

fn open_reader<R: Read + Send + 'static>(
    source: R,
    bytes_read: Arc<AtomicU64>,
) -> io::Result<Opened> {
    let mut raw = BufReader::with_capacity(
        READ_BUFFER,
        CountingReader {
            inner: source,
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
    let mut decoded = DecodeReaderBytesBuilder::new()
        .bom_sniffing(true)
        .strip_bom(true)
        .build(decompressed);
    // The decoder hands out its first bytes in small pieces; read ahead until the first line is
    // complete so that format detection sees a whole header line.
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    while head.len() < SNIFF_BYTES && !has_first_line(&head) {
        let n = match decoded.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        head.extend_from_slice(&chunk[..n]);
    }
    let reader = io::Cursor::new(head.clone()).chain(decoded);
    Ok(Opened {
        reader: Box::new(BufReader::with_capacity(READ_BUFFER, reader)),
        container: Container { gzip },
        head,
    })
}

/// True when `head` holds a complete line with something other than whitespace.
fn has_first_line(head: &[u8]) -> bool {
    head.iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|start| head[start..].contains(&b'\n'))
}
