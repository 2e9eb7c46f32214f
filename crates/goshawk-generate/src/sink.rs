//! The export containers records are written into: Microsoft Graph result pages, Azure Monitor
//! `{"records":[...]}` messages (Event Hub bodies) and storage-account `PT1H.json` blobs.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::GenerateError;
use crate::json::{self, TICKS_PER_HOUR};

/// Files and bytes one writer produced.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WriteStats {
    pub files: u64,
    pub bytes: u64,
    pub records: u64,
}

impl WriteStats {
    pub(crate) fn add(&mut self, other: WriteStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.records += other.records;
    }
}

/// Where the log files of a run go.
#[derive(Clone, Copy)]
pub(crate) struct Output<'a> {
    pub dir: &'a Path,
    /// Count the bytes but write no log file (`--dry-run`): measures generation alone.
    pub discard: bool,
}

/// A log file, or nothing in a dry run.
pub(crate) enum Target {
    File(File),
    Discard,
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Target::File(file) => file.write(buf),
            Target::Discard => Ok(buf.len()),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Target::File(file) => file.write_all(buf),
            Target::Discard => Ok(()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Target::File(file) => file.flush(),
            Target::Discard => Ok(()),
        }
    }
}

pub(crate) type Writer = BufWriter<Target>;

pub(crate) fn create_file(path: &Path, discard: bool) -> Result<Writer, GenerateError> {
    if discard {
        return Ok(BufWriter::with_capacity(256 * 1024, Target::Discard));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| GenerateError::io(parent, source))?;
    }
    let file = File::create(path).map_err(|source| GenerateError::io(path, source))?;
    Ok(BufWriter::with_capacity(256 * 1024, Target::File(file)))
}

pub(crate) fn write_all(
    writer: &mut impl Write,
    path: &Path,
    bytes: &[u8],
) -> Result<(), GenerateError> {
    writer
        .write_all(bytes)
        .map_err(|source| GenerateError::io(path, source))
}

pub(crate) fn finish_file(mut writer: Writer, path: &Path) -> Result<(), GenerateError> {
    writer
        .flush()
        .map_err(|source| GenerateError::io(path, source))
}

/// Writes a whole file at once (messages, answer keys).
pub(crate) fn write_file(path: &Path, bytes: &[u8], discard: bool) -> Result<(), GenerateError> {
    if discard {
        return Ok(());
    }
    let mut writer = create_file(path, false)?;
    write_all(&mut writer, path, bytes)?;
    finish_file(writer, path)
}

const GRAPH_CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata#auditLogs/provisioning";
const GRAPH_QUERY: &str =
    "https://graph.microsoft.com/v1.0/auditLogs/provisioning?$filter=activityDateTime%20ge%20";

/// Pages of `GET /auditLogs/provisioning` for one UTC day (a backfill script exports a day at a
/// time to keep each query bounded): each page is a file under `DIR/YYYY-MM-DD/`, linked to the
/// next one by `@odata.nextLink` exactly as a client that saves every response would have them.
pub(crate) struct GraphPager {
    dir: PathBuf,
    day: i64,
    page_size: usize,
    page_number: u64,
    in_page: usize,
    current: Option<(Writer, PathBuf)>,
    discard: bool,
    pub stats: WriteStats,
}

impl GraphPager {
    pub(crate) fn new(root: PathBuf, day: i64, page_size: usize, discard: bool) -> Self {
        GraphPager {
            dir: root.join(day_folder(day * json::TICKS_PER_DAY)),
            discard,
            day,
            page_size,
            page_number: 0,
            in_page: 0,
            current: None,
            stats: WriteStats::default(),
        }
    }

    pub(crate) fn push(&mut self, record: &[u8]) -> Result<(), GenerateError> {
        if self.in_page == self.page_size {
            self.close_page(true)?;
        }
        if self.current.is_none() {
            self.page_number += 1;
            let path = self
                .dir
                .join(format!("provisioning-page-{:05}.json", self.page_number));
            let mut writer = create_file(&path, self.discard)?;
            let mut head = Vec::with_capacity(128);
            head.extend_from_slice(b"{\"@odata.context\":");
            json::str(&mut head, GRAPH_CONTEXT);
            head.extend_from_slice(b",\"value\":[");
            write_all(&mut writer, &path, &head)?;
            self.stats.bytes += head.len() as u64;
            self.stats.files += 1;
            self.current = Some((writer, path));
            self.in_page = 0;
        }
        if let Some((writer, path)) = self.current.as_mut() {
            if self.in_page > 0 {
                write_all(writer, path, b",")?;
                self.stats.bytes += 1;
            }
            write_all(writer, path, record)?;
            self.stats.bytes += record.len() as u64;
            self.stats.records += 1;
            self.in_page += 1;
        }
        Ok(())
    }

    fn close_page(&mut self, has_next: bool) -> Result<(), GenerateError> {
        let Some((mut writer, path)) = self.current.take() else {
            return Ok(());
        };
        let mut tail = Vec::with_capacity(256);
        tail.push(b']');
        if has_next {
            // The skip token is opaque to clients; the day and a page counter keep it
            // deterministic.
            let mut link = Vec::with_capacity(256);
            link.extend_from_slice(GRAPH_QUERY.as_bytes());
            json::datetime_raw(&mut link, self.day * json::TICKS_PER_DAY, 0);
            link.extend_from_slice(b"%20and%20activityDateTime%20lt%20");
            json::datetime_raw(&mut link, (self.day + 1) * json::TICKS_PER_DAY, 0);
            let rest = format!(
                "&$top={}&$skiptoken={:016x}{:08x}",
                self.page_size,
                crate::random::splitmix64(self.page_number ^ (self.day as u64) << 20),
                self.page_number
            );
            link.extend_from_slice(rest.as_bytes());
            tail.extend_from_slice(b",\"@odata.nextLink\":");
            json::str(&mut tail, &String::from_utf8_lossy(&link));
        }
        tail.extend_from_slice(b"}\n");
        write_all(&mut writer, &path, &tail)?;
        self.stats.bytes += tail.len() as u64;
        finish_file(writer, &path)
    }

    pub(crate) fn finish(&mut self) -> Result<(), GenerateError> {
        self.close_page(false)
    }
}

/// `YYYY-MM-DD` of the day containing `ticks`.
pub(crate) fn day_folder(ticks: i64) -> String {
    let mut day = Vec::with_capacity(24);
    json::datetime_raw(&mut day, ticks, 0);
    String::from_utf8_lossy(&day[..10]).into_owned()
}

/// Azure Monitor diagnostic-settings messages as an Event Hub consumer receives them: one
/// `{"records":[...]}` body per file under `DIR/YYYY-MM-DD/`, at most `max_records` records of
/// one hour (the service batches records over short windows). The hour is the record's own
/// for provisioning, the operation's start for activity (a completion record a few seconds
/// into the next hour stays with its operation). One writer serves one day, so sequence
/// numbers restart every day.
pub(crate) struct MessageWriter {
    dir: PathBuf,
    max_records: usize,
    sequence: u64,
    body: Vec<u8>,
    in_body: usize,
    body_hour: i64,
    discard: bool,
    pub stats: WriteStats,
}

impl MessageWriter {
    pub(crate) fn new(dir: PathBuf, max_records: usize, discard: bool) -> Self {
        MessageWriter {
            discard,
            dir,
            max_records,
            sequence: 0,
            body: Vec::with_capacity(1 << 20),
            in_body: 0,
            body_hour: i64::MIN,
            stats: WriteStats::default(),
        }
    }

    /// Adds a record to the message of the hour containing `hour_ticks`.
    pub(crate) fn push(&mut self, hour_ticks: i64, record: &[u8]) -> Result<(), GenerateError> {
        let hour = hour_ticks.div_euclid(TICKS_PER_HOUR);
        if self.in_body > 0 && (self.in_body == self.max_records || hour != self.body_hour) {
            self.flush_message()?;
        }
        if self.in_body == 0 {
            self.body.extend_from_slice(b"{\"records\":[");
            self.body_hour = hour;
        } else {
            self.body.push(b',');
        }
        self.body.extend_from_slice(record);
        self.in_body += 1;
        Ok(())
    }

    fn flush_message(&mut self) -> Result<(), GenerateError> {
        if self.in_body == 0 {
            return Ok(());
        }
        self.body.extend_from_slice(b"]}\n");
        self.sequence += 1;
        let path = self
            .dir
            .join(day_folder(self.body_hour * TICKS_PER_HOUR))
            .join(format!("message-{:07}.json", self.sequence));
        write_file(&path, &self.body, self.discard)?;
        self.stats.files += 1;
        self.stats.bytes += self.body.len() as u64;
        self.stats.records += self.in_body as u64;
        self.body.clear();
        self.in_body = 0;
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> Result<(), GenerateError> {
        self.flush_message()
    }
}

/// The blob path diagnostic settings use in a storage account for one subscription and hour:
/// `resourceId=/SUBSCRIPTIONS/<SUB>/y=2026/m=05/d=01/h=00/m=00/PT1H.json`.
pub(crate) fn pt1h_path(root: &Path, subscription_id: &str, hour_start_ticks: i64) -> PathBuf {
    let (year, month, day, hour, _, _, _) = json::split_ticks(hour_start_ticks);
    root.join("resourceId=")
        .join("SUBSCRIPTIONS")
        .join(subscription_id.to_ascii_uppercase())
        .join(format!("y={year}"))
        .join(format!("m={month:02}"))
        .join(format!("d={day:02}"))
        .join(format!("h={hour:02}"))
        .join("m=00")
        .join("PT1H.json")
}
