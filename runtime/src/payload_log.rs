//! The payload log: every result payload the controller keeps, on disk,
//! made durable before the journal commit that records its result — so a
//! result the journal holds always has its bytes, and a controller killed
//! and restarted hands its consumers the real input, not an empty one.
//!
//! Frames are appended to a buffer and written with one `fdatasync` per
//! group commit ([`PayloadLog::sync`], which the driver calls before the
//! journal's commit). Frame: magic `HMP1`, instance id (u64 LE), length
//! (u32 LE), CRC-32 of the id, the length and the bytes (u32 LE), then
//! the bytes.
//!
//! Opening reads every frame. A torn tail (a frame cut short, or a frame
//! that fails its check with nothing after it: a crash mid-write, never
//! committed) is cut off. A bad frame with data after it is damage, not a
//! crash: the file is copied aside (`.damaged`) before it is cut, never
//! silently dropped. The log shrinks by [`PayloadLog::rewrite`]: the live
//! payloads into a new file (fsync, rename, directory fsync).

use hivemind_controller::InstanceId;
use hivemind_proto::crc32::crc32_parts;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"HMP1";
const HEADER: u64 = 20;

/// A payload found when the log was opened: its bytes are at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub instance: InstanceId,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug)]
pub struct PayloadLog {
    path: PathBuf,
    file: File,
    /// Bytes durable (written and synced) in the file.
    end: u64,
    /// Frames appended since the last sync.
    pending: Vec<u8>,
}

fn frame_crc(instance: InstanceId, bytes: &[u8]) -> u32 {
    let len = (bytes.len() as u32).to_le_bytes();
    crc32_parts(&[&instance.0.to_le_bytes(), &len, bytes])
}

fn push_frame(out: &mut Vec<u8>, instance: InstanceId, bytes: &[u8]) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&instance.0.to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame_crc(instance, bytes).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl PayloadLog {
    /// Open (or create) the log and index every intact frame.
    pub fn open(path: &Path) -> io::Result<(PayloadLog, Vec<Found>)> {
        let mut data = Vec::new();
        if path.exists() {
            File::open(path)?.read_to_end(&mut data)?;
        }
        let mut found = Vec::new();
        let mut at = 0usize;
        let good_end = loop {
            let Some(head) = data.get(at..at + HEADER as usize) else {
                break at;
            };
            let instance = InstanceId(u64::from_le_bytes(head[4..12].try_into().unwrap_or([0; 8])));
            let len = u32::from_le_bytes(head[12..16].try_into().unwrap_or([0; 4]));
            let crc = u32::from_le_bytes(head[16..20].try_into().unwrap_or([0; 4]));
            let start = at + HEADER as usize;
            let Some(bytes) = start
                .checked_add(len as usize)
                .and_then(|stop| data.get(start..stop))
            else {
                break at;
            };
            if &head[..4] != MAGIC || frame_crc(instance, bytes) != crc {
                break at;
            }
            found.push(Found {
                instance,
                offset: start as u64,
                len,
            });
            at = start + len as usize;
        };
        if good_end < data.len() {
            let rest = &data[good_end..];
            // A crash leaves at most one partial frame, or zeros after the
            // last one; anything else is damage: keep a copy.
            let torn = rest.iter().all(|&b| b == 0) || !rest.windows(4).skip(1).any(|w| w == MAGIC);
            if !torn {
                let aside = path.with_extension("damaged");
                fs::copy(path, &aside)?;
                tracing::error!(
                    path = %path.display(),
                    aside = %aside.display(),
                    at = good_end,
                    "payload log damaged: copied aside, cut at the first bad frame"
                );
            } else {
                tracing::warn!(path = %path.display(), at = good_end, "payload log: torn tail cut");
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(good_end as u64)?;
        file.sync_all()?;
        Ok((
            PayloadLog {
                path: path.to_owned(),
                file,
                end: good_end as u64,
                pending: Vec::new(),
            },
            found,
        ))
    }

    /// Queue `bytes` as `instance`'s payload; returns where its bytes will
    /// be. Durable after the next [`PayloadLog::sync`].
    pub fn append(&mut self, instance: InstanceId, bytes: &[u8]) -> io::Result<u64> {
        if u32::try_from(bytes.len()).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a payload of {} bytes is over 4 GiB", bytes.len()),
            ));
        }
        let offset = self.len() + HEADER;
        push_frame(&mut self.pending, instance, bytes);
        Ok(offset)
    }

    /// Write what was appended and make it durable (one `fdatasync`).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.write()? {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Hand what was appended to the kernel (it survives the process, not
    /// the machine); whether there was anything. [`PayloadLog::sync_data`]
    /// makes it durable.
    pub fn write(&mut self) -> io::Result<bool> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        self.file.write_all_at(&self.pending, self.end)?;
        self.end += self.pending.len() as u64;
        self.pending.clear();
        Ok(true)
    }

    /// Make what was written durable.
    pub fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The bytes at `offset` (appended, synced or not).
    pub fn read(&self, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        if offset >= self.end {
            let from = (offset - self.end) as usize;
            return self
                .pending
                .get(from..from + len as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past the log's end"));
        }
        let mut out = vec![0; len as usize];
        self.file.read_exact_at(&mut out, offset)?;
        Ok(out)
    }

    /// Bytes in the log, appended ones included.
    pub fn len(&self) -> u64 {
        self.end + self.pending.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replace the log by one holding only `live` (in that order); returns
    /// each one's new offset. Durable when it returns.
    pub fn rewrite(&mut self, live: &[(InstanceId, &[u8])]) -> io::Result<Vec<u64>> {
        let tmp = self.path.with_extension("new");
        let mut out = Vec::new();
        let mut offsets = Vec::with_capacity(live.len());
        for (instance, bytes) in live {
            offsets.push(out.len() as u64 + HEADER);
            push_frame(&mut out, *instance, bytes);
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.end = out.len() as u64;
        self.pending.clear();
        Ok(offsets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_payloads_survive_a_reopen_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.log");
        let (mut log, found) = PayloadLog::open(&path).unwrap();
        assert!(found.is_empty());
        let a = log.append(InstanceId(1), b"first").unwrap();
        let b = log.append(InstanceId(9), &[]).unwrap();
        // Readable before the sync (a consumer may run first).
        assert_eq!(log.read(a, 5).unwrap(), b"first");
        log.sync().unwrap();
        let c = log.append(InstanceId(3), b"not synced").unwrap();
        assert_eq!(log.read(c, 10).unwrap(), b"not synced");
        drop(log);
        let (log, found) = PayloadLog::open(&path).unwrap();
        assert_eq!(
            found,
            vec![
                Found {
                    instance: InstanceId(1),
                    offset: a,
                    len: 5
                },
                Found {
                    instance: InstanceId(9),
                    offset: b,
                    len: 0
                },
            ],
            "what was never synced is not there"
        );
        assert_eq!(log.read(a, 5).unwrap(), b"first");
    }

    #[test]
    fn a_torn_tail_is_cut_and_damage_is_copied_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.log");
        let (mut log, _) = PayloadLog::open(&path).unwrap();
        for i in 0..3 {
            log.append(InstanceId(i), &[i as u8; 100]).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        let whole = fs::read(&path).unwrap();
        // Cut mid-frame: the last frame is gone, quietly.
        fs::write(&path, &whole[..whole.len() - 30]).unwrap();
        let (_, found) = PayloadLog::open(&path).unwrap();
        assert_eq!(found.len(), 2);
        assert!(!path.with_extension("damaged").exists());
        // A flipped byte in the first frame, with frames after it: damage.
        let mut bad = whole.clone();
        bad[40] ^= 0xFF;
        fs::write(&path, &bad).unwrap();
        let (_, found) = PayloadLog::open(&path).unwrap();
        assert!(found.is_empty());
        assert_eq!(fs::read(path.with_extension("damaged")).unwrap(), bad);
        // Garbage and an oversized length never panic.
        for junk in [&b"HMP1"[..], b"garbage garbage garbage", &[0xFF; 64]] {
            fs::write(&path, junk).unwrap();
            let (log, found) = PayloadLog::open(&path).unwrap();
            assert!(found.is_empty());
            assert_eq!(log.len(), 0);
        }
    }

    #[test]
    fn a_rewrite_keeps_only_the_live_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.log");
        let (mut log, _) = PayloadLog::open(&path).unwrap();
        for i in 0..10u64 {
            log.append(InstanceId(i), &[i as u8; 1000]).unwrap();
        }
        log.sync().unwrap();
        let keep = [7u8; 1000];
        let offsets = log.rewrite(&[(InstanceId(7), &keep)]).unwrap();
        assert!(log.len() < 1100);
        assert_eq!(log.read(offsets[0], 1000).unwrap(), keep);
        let (_, found) = PayloadLog::open(&path).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].instance, InstanceId(7));
    }
}
