//! `--audit-log PATH`: every audit event as one CloudTrail record
//! ([`mayfly_core::cloudtrail`]) per line, appended to a file.
//!
//! Requests never wait for the disk: [`FileAuditSink::record`] hands the
//! event to a bounded queue and a dedicated writer thread renders whatever is
//! queued, writes it with one call and flushes; `fsync` follows at most once
//! a second (and when the queue goes idle, and on close). A full queue drops
//! the event, counts it and says so at warn. Events also go on to the next
//! sink (the `audit` tracing target). [`FileAuditSink::close`] writes what is
//! queued before the process exits.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mayfly_core::audit::{AuditEvent, AuditSink};

/// How many events may wait for the writer.
const QUEUE_CAPACITY: usize = 8192;

/// Most bytes rendered before they are written: requests may refill the
/// queue as fast as the writer drains it, so the batch, not only the queue,
/// must bound the writer's memory.
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The least time between two `fsync`s of the log.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// What the writer thread is sent.
enum Message {
    Event(Box<AuditEvent>),
    /// Write what came before, sync, and stop.
    Close,
}

/// Appends CloudTrail records to a file through a writer thread, and
/// forwards every event to `next`.
pub struct FileAuditSink {
    path: PathBuf,
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
    next: Arc<dyn AuditSink>,
}

impl std::fmt::Debug for FileAuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAuditSink")
            .field("path", &self.path)
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl FileAuditSink {
    /// Open (or create, mode 0600) `path` for appending and start the
    /// writer thread.
    pub fn open(path: &Path, next: Arc<dyn AuditSink>) -> Result<Self> {
        let file = open_log(path)?;
        let (queue, received) = std::sync::mpsc::sync_channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = {
            let path = path.to_owned();
            let dropped = Arc::clone(&dropped);
            std::thread::Builder::new()
                .name("audit-log".into())
                .spawn(move || write_loop(&path, file, &received, &dropped))
                .context("starting the audit log writer")?
        };
        Ok(Self {
            path: path.to_owned(),
            queue,
            dropped,
            writer: Mutex::new(Some(writer)),
            next,
        })
    }

    /// Write everything queued so far, sync the file and stop the writer;
    /// events recorded afterwards only reach the next sink. Blocks until
    /// the writer is done.
    pub fn close(&self) {
        let writer = match self.writer.lock() {
            Ok(mut writer) => writer.take(),
            Err(_) => None,
        };
        let Some(writer) = writer else {
            return;
        };
        // Waits for room: at shutdown the queue's order matters more than
        // latency.
        if self.queue.send(Message::Close).is_ok() && writer.join().is_err() {
            tracing::error!(path = %self.path.display(), "the audit log writer panicked");
        }
    }

    /// Events the queue had no room for.
    #[cfg(test)]
    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AuditSink for FileAuditSink {
    fn record(&self, event: AuditEvent) {
        if self.next.enabled() {
            self.next.record(event.clone());
        }
        match self.queue.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // The writer reports the count; the first drop is told at once.
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(path = %self.path.display(), "audit log queue full: dropping audit records");
                }
            }
            // Closed (shutting down): the next sink still had it.
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Open the log for appending, creating it owner-only.
fn open_log(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .with_context(|| format!("reading the audit log's metadata {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = %format!("{:o}", mode & 0o777), "the audit log is readable by others than its owner");
        }
    }
    Ok(file)
}

/// Render `first`, then whatever else is queued, into `batch`, stopping
/// when the queue is empty or `batch` holds `limit` bytes or more; whether a
/// [`Message::Close`] came (what was queued after it stays queued).
fn fill_batch(
    first: Message,
    received: &Receiver<Message>,
    batch: &mut String,
    limit: usize,
) -> bool {
    let mut next = Some(first);
    while let Some(message) = next {
        match message {
            Message::Event(event) => {
                batch.push_str(&mayfly_core::cloudtrail::render_line(&event));
                batch.push('\n');
            }
            Message::Close => return true,
        }
        if batch.len() >= limit {
            return false;
        }
        next = received.try_recv().ok();
    }
    false
}

/// The writer thread: batch, write, flush, sync at most every second.
fn write_loop(path: &Path, mut file: File, received: &Receiver<Message>, dropped: &AtomicU64) {
    let mut batch = String::new();
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut reported_dropped = 0;
    loop {
        let first = match received.recv_timeout(SYNC_INTERVAL) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                if unsynced {
                    sync(path, &file);
                    unsynced = false;
                    last_sync = Instant::now();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let closing = fill_batch(first, received, &mut batch, MAX_BATCH_BYTES);
        if !batch.is_empty() {
            if let Err(error) = file.write_all(batch.as_bytes()).and_then(|()| file.flush()) {
                tracing::error!(path = %path.display(), %error, "writing the audit log failed; records lost");
            }
            batch.clear();
            unsynced = true;
        }
        let total_dropped = dropped.load(Ordering::Relaxed);
        if total_dropped > reported_dropped {
            tracing::warn!(path = %path.display(), dropped = total_dropped - reported_dropped, total_dropped, "audit records dropped: the audit log queue was full");
            reported_dropped = total_dropped;
        }
        if unsynced && (closing || last_sync.elapsed() >= SYNC_INTERVAL) {
            sync(path, &file);
            unsynced = false;
            last_sync = Instant::now();
        }
        if closing {
            break;
        }
    }
}

fn sync(path: &Path, file: &File) {
    if let Err(error) = file.sync_data() {
        tracing::error!(path = %path.display(), %error, "syncing the audit log failed");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::net::{IpAddr, Ipv4Addr};
    use std::time::UNIX_EPOCH;

    use mayfly_core::audit::{AuditOutcome, MemoryAuditSink};

    use super::*;

    #[test]
    fn a_batch_stops_at_its_byte_limit_or_at_close_and_leaves_the_rest_queued() {
        let (queue, received) = std::sync::mpsc::sync_channel(16);
        for n in 1..10 {
            queue.send(Message::Event(Box::new(event(n)))).unwrap();
        }
        let mut batch = String::new();
        // Over the limit after the first record: the rest stays queued.
        let closing = fill_batch(Message::Event(Box::new(event(0))), &received, &mut batch, 1);
        assert!(!closing);
        assert_eq!(batch.lines().count(), 1);
        assert!(batch.contains("request-0"));
        // With room, everything queued, up to a Close.
        queue.send(Message::Close).unwrap();
        queue.send(Message::Event(Box::new(event(99)))).unwrap();
        batch.clear();
        let first = received.recv().unwrap();
        let closing = fill_batch(first, &received, &mut batch, usize::MAX);
        assert!(closing);
        assert_eq!(batch.lines().count(), 9);
        assert!(batch.contains("request-1") && batch.contains("request-9"));
        assert!(
            matches!(received.try_recv(), Ok(Message::Event(e)) if e.request_id == "request-99")
        );
    }

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            request_id: format!("request-{n}"),
            service: "sts",
            action: "GetCallerIdentity".into(),
            caller: None,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            parameters: Vec::new(),
            outcome: AuditOutcome::Error {
                code: "MissingAuthenticationToken".into(),
            },
            issued_access_key_id: None,
            event_id: format!("event-{n}"),
            user_agent: None,
            region: None,
            error_message: None,
            issued: None,
            external_identity: None,
        }
    }

    #[test]
    fn appends_one_record_per_line_and_forwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "earlier\n").unwrap();
        let memory = Arc::new(MemoryAuditSink::default());
        let sink = FileAuditSink::open(&path, Arc::clone(&memory) as Arc<dyn AuditSink>).unwrap();
        for n in 0..100 {
            sink.record(event(n));
        }
        sink.close();
        // After close, events still reach the next sink but not the file.
        sink.record(event(100));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 101, "{text}");
        assert_eq!(lines[0], "earlier");
        for (n, line) in lines[1..].iter().enumerate() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["requestID"], format!("request-{n}"));
            assert_eq!(record["errorCode"], "MissingAuthenticationToken");
        }
        assert_eq!(memory.events().len(), 101);
        assert_eq!(sink.dropped(), 1);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        // A queue of two that nobody drains (no writer thread).
        let (queue, received) = std::sync::mpsc::sync_channel(2);
        let memory = Arc::new(MemoryAuditSink::default());
        let sink = FileAuditSink {
            path: PathBuf::from("unused"),
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            writer: Mutex::new(None),
            next: Arc::clone(&memory) as Arc<dyn AuditSink>,
        };
        for n in 0..5 {
            sink.record(event(n));
        }
        assert_eq!(sink.dropped(), 3);
        assert_eq!(memory.events().len(), 5, "the next sink gets every event");
        let queued: Vec<String> = received
            .try_iter()
            .map(|message| match message {
                Message::Event(event) => event.request_id,
                Message::Close => "close".to_owned(),
            })
            .collect();
        assert_eq!(queued, ["request-0", "request-1"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_log_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let sink = FileAuditSink::open(&path, Arc::new(MemoryAuditSink::default())).unwrap();
        sink.close();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
