//! Results the controller has not acknowledged yet, on disk.
//!
//! Every result is queued for writing (to a temporary file, fsynced,
//! renamed) when it is sent, and removed when the controller's `Ack` for
//! its instance arrives. The writes happen on the outbox's own thread, in
//! order, so an fsync never delays a result on the wire and an `Ack` never
//! overtakes the write it removes; [`Outbox::pending`] waits for the queue
//! first. A queued result waits up to [`WRITE_BEHIND`] for its `Ack`, and
//! one acknowledged before its write starts is not written at all (the
//! controller journaled it: the write and its fsync would only be
//! deleted). A crash can lose only a result still in the queue — one the
//! controller did not acknowledge, so its device's failure makes the
//! controller run the task again. After a disconnect, a controller restart
//! or an agent crash the agent sends every file left here again; the
//! controller records a result once per instance, so a replay is never
//! counted twice. One file per result keeps a torn write from touching any
//! other result.
//!
//! File format: `HMR1` magic, crc32 of the rest, then the encoded
//! `Uplink::Result` frame. A file that fails its check (a crash during
//! the write of a temporary file cannot leave one: the rename is atomic,
//! but a disk may still lie) is moved aside, never silently deleted.

use hivemind_proto::crc32::crc32;
use hivemind_proto::wire::{decode_uplink, encode_uplink};
use hivemind_proto::{InstanceId, Uplink};
use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 4] = b"HMR1";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot encode result: {0}")]
    Encode(String),
}

pub struct Outbox {
    dir: PathBuf,
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// The queue between the agent and the outbox thread. The thread is woken
/// only when it has to act (a job in an empty queue, a sync, the close),
/// not per job: at hundreds of results a second a wake-up per result cost
/// more than the results themselves.
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Jobs arrived since the last settle.
    fresh: bool,
    closed: bool,
}

/// How long a result waits in memory for its acknowledgement before it
/// is written. On a working link the controller's `Ack` (journaled, one
/// round trip) comes well within it, so results reach the disk only while
/// the link is slow or down: no write, fsync and unlink per result (flash
/// wear on a vehicle, CPU beside its functions). A crash in this window
/// loses only results the controller has not acknowledged, as a crash
/// during a queued write always could: the controller runs those again.
pub const WRITE_BEHIND: Duration = Duration::from_millis(100);

enum Job {
    Put(InstanceId, Vec<u8>, Instant),
    Ack(InstanceId),
    Sync(mpsc::Sender<()>),
}

impl Job {
    fn is_sync(&self) -> bool {
        matches!(self, Job::Sync(_))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn file(dir: &Path, instance: InstanceId) -> PathBuf {
    dir.join(format!("{}.result", instance.0))
}

/// The result files in `dir`, oldest instance first.
fn result_files(dir: &Path) -> Result<Vec<(InstanceId, PathBuf)>, OutboxError> {
    let rd = fs::read_dir(dir).map_err(io(dir))?;
    let mut files: Vec<(InstanceId, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| {
            let n = p
                .file_name()?
                .to_str()?
                .strip_suffix(".result")?
                .parse()
                .ok()?;
            Some((InstanceId(n), p))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

impl Outbox {
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let wdir = dir.to_owned();
        let on_disk: HashSet<InstanceId> = result_files(dir)?.into_iter().map(|(i, _)| i).collect();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let theirs = shared.clone();
        let writer = std::thread::Builder::new()
            .name("outbox".into())
            .spawn(move || writer(&wdir, &theirs, on_disk))
            .map_err(io(dir))?;
        Ok(Outbox {
            dir: dir.to_owned(),
            shared,
            writer: Some(writer),
        })
    }

    fn queue(&self, job: Job) {
        let mut q = self.shared.lock();
        let wake = q.jobs.is_empty() || job.is_sync();
        q.jobs.push_back(job);
        q.fresh = true;
        drop(q);
        if wake {
            self.shared.wake.notify_one();
        }
    }

    /// Keep `result` (an `Uplink::Result`) until it is acknowledged.
    pub fn put(&self, instance: InstanceId, result: &Uplink) -> Result<(), OutboxError> {
        let body = encode_uplink(result).map_err(|e| OutboxError::Encode(e.to_string()))?;
        let mut bytes = Vec::with_capacity(body.len() + 8);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&crc32(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        self.queue(Job::Put(instance, bytes, Instant::now()));
        Ok(())
    }

    /// The controller recorded it.
    pub fn ack(&self, instance: InstanceId) {
        self.queue(Job::Ack(instance));
    }

    /// Wait until every queued write and removal is done.
    pub fn sync(&self) {
        let (tx, rx) = mpsc::channel();
        self.queue(Job::Sync(tx));
        let _ = rx.recv();
    }

    /// Every result still held, oldest instance first. Damaged files are
    /// moved aside (`.damaged`) and reported.
    pub fn pending(&self) -> Result<Vec<Uplink>, OutboxError> {
        self.sync();
        let mut out = Vec::new();
        let files = result_files(&self.dir)?;
        for (_, path) in files {
            let bytes = fs::read(&path).map_err(io(&path))?;
            match check(&bytes) {
                Some(msg) => out.push(msg),
                None => {
                    tracing::error!(path = %path.display(), "damaged buffered result moved aside");
                    let _ = fs::rename(&path, path.with_extension("damaged"));
                }
            }
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.sync();
        result_files(&self.dir).map_or(0, |f| f.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Outbox {
    /// Finish the queued writes.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Shared {
    /// The queue, even if a thread panicked holding it (its jobs are
    /// still in order).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The outbox thread: jobs in order; a put waits up to [`WRITE_BEHIND`]
/// for its acknowledgement (a sync, or the outbox closing, ends the wait).
/// What arrived is settled against the whole queue before every job, so
/// a result acknowledged before its write starts is never written.
fn writer(dir: &Path, shared: &Shared, mut on_disk: HashSet<InstanceId>) {
    let mut q = shared.lock();
    loop {
        if std::mem::take(&mut q.fresh) {
            let jobs = std::mem::take(&mut q.jobs);
            q.jobs = settle(jobs.into(), &on_disk).into();
        }
        let wait = match q.jobs.front() {
            None if q.closed => return,
            None => None,
            Some(Job::Put(_, _, at)) if !q.closed && !q.jobs.iter().any(Job::is_sync) => {
                let due = *at + WRITE_BEHIND;
                let now = Instant::now();
                if due > now {
                    Some(due - now)
                } else {
                    Some(Duration::ZERO)
                }
            }
            Some(_) => Some(Duration::ZERO),
        };
        match wait {
            None => {
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            Some(d) if !d.is_zero() => {
                q = shared
                    .wake
                    .wait_timeout(q, d)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
                continue;
            }
            Some(_) => {}
        }
        let Some(job) = q.jobs.pop_front() else {
            continue;
        };
        // The disk work happens without the lock: the agent keeps queueing.
        drop(q);
        match job {
            Job::Put(instance, bytes, _) => {
                let path = file(dir, instance);
                match write_file(&path, &bytes) {
                    Ok(()) => {
                        on_disk.insert(instance);
                    }
                    Err(e) => {
                        tracing::error!(path = %path.display(), "cannot buffer a result: {e}")
                    }
                }
            }
            Job::Ack(instance) => {
                if on_disk.remove(&instance) {
                    let _ = fs::remove_file(file(dir, instance));
                }
            }
            Job::Sync(done) => {
                let _ = done.send(());
            }
        }
        q = shared.lock();
    }
}

/// Queued jobs without the writes that would only be deleted: a
/// result acknowledged later in the queue is not written (the
/// controller already journaled it). The acknowledgement itself stays
/// while a file for that instance is on disk (`on_disk`: an earlier write)
/// or a put for it is still queued; otherwise it has nothing left to do.
/// Order is kept.
fn settle(batch: Vec<Job>, on_disk: &HashSet<InstanceId>) -> Vec<Job> {
    let mut cancelled = vec![false; batch.len()];
    // Per instance, the indices of its puts not yet followed by an ack.
    let mut open: std::collections::HashMap<InstanceId, Vec<usize>> = Default::default();
    for (k, job) in batch.iter().enumerate() {
        match job {
            Job::Put(i, _, _) => open.entry(*i).or_default().push(k),
            Job::Ack(i) => {
                for p in open.remove(i).unwrap_or_default() {
                    cancelled[p] = true;
                }
                if !on_disk.contains(i) && !open.contains_key(i) {
                    cancelled[k] = true;
                }
            }
            Job::Sync(_) => {}
        }
    }
    batch
        .into_iter()
        .zip(cancelled)
        .filter_map(|(job, gone)| (!gone).then_some(job))
        .collect()
}

fn check(bytes: &[u8]) -> Option<Uplink> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (crc, body) = rest.split_at_checked(4)?;
    let want = u32::from_le_bytes(crc.try_into().ok()?);
    if crc32(body) != want {
        return None;
    }
    match decode_uplink(body).ok()? {
        m @ Uplink::Result { .. } => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hivemind_proto::Epoch;

    fn result(i: u64) -> Uplink {
        Uplink::Result {
            epoch: Epoch(2),
            instance: InstanceId(i),
            items: 1,
            model_version: 0,
            payload: vec![i as u8; 100],
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        }
    }

    #[test]
    fn results_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        for i in [3, 1, 2] {
            ob.put(InstanceId(i), &result(i)).unwrap();
        }
        ob.ack(InstanceId(2));
        drop(ob);
        let ob = Outbox::open(dir.path()).unwrap();
        assert_eq!(ob.pending().unwrap(), vec![result(1), result(3)]);
        assert_eq!(ob.len(), 2);
    }

    #[test]
    fn a_result_acknowledged_in_its_batch_is_never_written() {
        let put = |i| Job::Put(InstanceId(i), vec![i as u8], Instant::now());
        let kinds = |jobs: Vec<Job>| -> Vec<String> {
            jobs.into_iter()
                .map(|j| match j {
                    Job::Put(i, _, _) => format!("put {}", i.0),
                    Job::Ack(i) => format!("ack {}", i.0),
                    Job::Sync(_) => "sync".into(),
                })
                .collect()
        };
        let batch = || {
            let (tx, _rx) = mpsc::channel();
            vec![
                put(1),
                put(2),
                Job::Ack(InstanceId(1)),
                Job::Sync(tx),
                Job::Ack(InstanceId(3)),
                put(2),
                Job::Ack(InstanceId(2)),
                put(4),
            ]
        };
        // Every put followed by its instance's ack in the queue is not
        // written; an ack stays only where an earlier write left a file.
        assert_eq!(
            kinds(settle(batch(), &HashSet::new())),
            vec!["sync", "put 4"]
        );
        let on_disk = [1, 3].map(InstanceId).into_iter().collect();
        assert_eq!(
            kinds(settle(batch(), &on_disk)),
            vec!["ack 1", "sync", "ack 3", "put 4"]
        );
    }

    #[test]
    fn an_unacknowledged_result_reaches_the_disk_after_its_wait() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.put(InstanceId(7), &result(7)).unwrap();
        ob.put(InstanceId(8), &result(8)).unwrap();
        ob.ack(InstanceId(8));
        // No sync: the writer alone writes 7 once its wait is over, and
        // never 8 (acknowledged within it).
        let path = dir.path().join("7.result");
        let waited = Instant::now();
        while !path.exists() && waited.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(path.exists(), "7 was never written");
        assert!(waited.elapsed() >= WRITE_BEHIND / 2);
        assert!(!dir.path().join("8.result").exists());
        assert_eq!(ob.pending().unwrap(), vec![result(7)]);
    }

    #[test]
    fn a_damaged_file_is_moved_aside_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.put(InstanceId(1), &result(1)).unwrap();
        ob.put(InstanceId(2), &result(2)).unwrap();
        ob.sync();
        let p = dir.path().join("1.result");
        let mut b = fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0xFF;
        fs::write(&p, b).unwrap();
        fs::write(dir.path().join("9.result"), b"HM").unwrap();
        ob.sync();
        assert_eq!(ob.pending().unwrap(), vec![result(2)]);
        assert!(dir.path().join("1.damaged").exists());
        assert!(dir.path().join("9.damaged").exists());
    }
}
