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
use std::io::{self, Write};
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

/// Whether what follows the last good frame (`from..size`) is what a crash
/// leaves: zeros, or one partial frame — no frame's magic after its first
/// byte (zeros hold none either). Read in chunks.
fn torn_tail(file: &File, from: u64, size: u64) -> io::Result<bool> {
    const CHUNK: usize = 1 << 20;
    // The last 3 bytes of the previous chunk, so a magic across chunks is seen.
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = from;
    while at < size {
        let n = usize::try_from((size - at).min(CHUNK as u64)).unwrap_or(CHUNK);
        file.read_exact_at(&mut buf[..n], at)?;
        let chunk = &buf[..n];
        let mut window = std::mem::take(&mut carry);
        window.extend_from_slice(chunk);
        // Skip the position of the first bad frame's own magic.
        let skip = usize::from(at == from);
        if window.windows(4).skip(skip).any(|w| w == MAGIC) {
            return Ok(false);
        }
        carry = window[window.len().saturating_sub(3)..].to_vec();
        at += n as u64;
    }
    Ok(true)
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
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        let size = file.metadata()?.len();
        // Frame by frame (a log may hold gigabytes; memory holds one frame,
        // and a length field past the end of the file is a torn frame, not
        // an allocation).
        let mut found = Vec::new();
        let mut at = 0u64;
        let mut head = [0u8; HEADER as usize];
        let mut bytes = Vec::new();
        let good_end = loop {
            if at + HEADER > size || file.read_exact_at(&mut head, at).is_err() {
                break at;
            }
            let instance = InstanceId(u64::from_le_bytes(head[4..12].try_into().unwrap_or([0; 8])));
            let len = u32::from_le_bytes(head[12..16].try_into().unwrap_or([0; 4]));
            let crc = u32::from_le_bytes(head[16..20].try_into().unwrap_or([0; 4]));
            let start = at + HEADER;
            let stop = start + u64::from(len);
            if &head[..4] != MAGIC || stop > size {
                break at;
            }
            bytes.resize(len as usize, 0);
            if file.read_exact_at(&mut bytes, start).is_err() || frame_crc(instance, &bytes) != crc
            {
                break at;
            }
            found.push(Found {
                instance,
                offset: start,
                len,
            });
            at = stop;
        };
        if good_end < size {
            // A crash leaves at most one partial frame, or zeros after the
            // last one; anything else is damage: keep a copy.
            if !torn_tail(&file, good_end, size)? {
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
        file.set_len(good_end)?;
        file.sync_all()?;
        Ok((
            PayloadLog {
                path: path.to_owned(),
                file,
                end: good_end,
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

    /// Replace the log by one holding only the frames `live` names (each
    /// `(instance, offset, len)`: where its payload is in this log,
    /// appended or synced), in that order; returns each one's new offset.
    /// Copied frame by frame: one payload in memory at a time, whatever
    /// the log holds. Durable when it returns; on an error this log is
    /// left as it was.
    pub fn rewrite(&mut self, live: &[(InstanceId, u64, u32)]) -> io::Result<Vec<u64>> {
        let tmp = self.path.with_extension("new");
        let mut offsets = Vec::with_capacity(live.len());
        let mut end = 0u64;
        let copied = (|| -> io::Result<()> {
            let mut out = io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            let mut frame = Vec::new();
            for &(instance, offset, len) in live {
                let bytes = self.read(offset, len)?;
                frame.clear();
                push_frame(&mut frame, instance, &bytes);
                out.write_all(&frame)?;
                offsets.push(end + HEADER);
                end += frame.len() as u64;
            }
            out.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()
        })();
        if let Err(e) = copied {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.end = end;
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
        // Garbage and an oversized length never panic (nor allocate it).
        let mut huge = b"HMP1".to_vec();
        huge.extend_from_slice(&7u64.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 4 + 16]);
        for junk in [&b"HMP1"[..], b"garbage garbage garbage", &[0xFF; 64], &huge] {
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
        let mut at = Vec::new();
        for i in 0..10u64 {
            at.push(log.append(InstanceId(i), &[i as u8; 1000]).unwrap());
        }
        log.sync().unwrap();
        // One kept from the synced file, one appended since.
        let late = log.append(InstanceId(10), &[10u8; 500]).unwrap();
        let offsets = log
            .rewrite(&[(InstanceId(7), at[7], 1000), (InstanceId(10), late, 500)])
            .unwrap();
        assert!(log.len() < 1600, "{}", log.len());
        assert_eq!(log.read(offsets[0], 1000).unwrap(), [7u8; 1000]);
        assert_eq!(log.read(offsets[1], 500).unwrap(), [10u8; 500]);
        let (_, found) = PayloadLog::open(&path).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].instance, InstanceId(7));
        assert_eq!(found[1].instance, InstanceId(10));
        // A frame that is not there fails the rewrite and leaves the log.
        let before = std::fs::read(&path).unwrap();
        assert!(log.rewrite(&[(InstanceId(1), 1 << 40, 10)]).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!path.with_extension("new").exists());
        assert_eq!(log.read(offsets[0], 1000).unwrap(), [7u8; 1000]);
    }
}
