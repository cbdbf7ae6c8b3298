//! The journal file: the only module of this crate that does IO.
//!
//! Layout: a 48-byte header — magic `HMJRNL\r\n`, format version (u32 LE),
//! the mission's identity (32 bytes: SHA-256 of the task graph's meaning,
//! [`hivemind_ir::TaskGraph::identity_sha256`]), CRC-32 of those 44 bytes
//! (u32 LE) — then record frames ([`crate::record`]).
//!
//! Records are appended to a buffer and made durable by [`Journal::commit`]
//! (one write and one `fdatasync` for the whole batch: group commit).
//!
//! Opening never deletes what was durable. Only a *torn tail* — the last
//! frame cut short by a crash mid-write, or zeros a crash left after the
//! last frame — is truncated (with a warning): it was never committed, so
//! nothing acknowledged is lost. Anything else is refused with an error
//! that leaves the file byte-identical: a file that is not a journal, a
//! newer format, a damaged header, a frame that fails its checksum with
//! more data after it, or a frame whose checksum holds but whose record
//! this build cannot read (written by a newer version). [`Journal::repair`]
//! is the explicit way out: it copies the file aside and then cuts it at
//! the first bad frame.
//!
//! [`Journal::compact`] replaces the file by a single snapshot record
//! (write a temporary file, fsync, rename, reopen, fsync the directory), so
//! the journal stays bounded; appends after it go to the new file even
//! when the directory fsync fails.

use crate::record::{decode, encode_into, DecodeError, Record};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"HMJRNL\r\n";
/// Bumped on any incompatible change to the header or the frames.
pub const FORMAT_VERSION: u32 = 1;
pub const FILE_HEADER_BYTES: usize = 48;

/// The mission a journal belongs to: SHA-256 of its task graph's meaning.
pub type Identity = [u8; 32];

/// The identity of a mission, from its graph (`identity_sha256` as bytes).
pub fn identity_of(graph: &hivemind_ir::TaskGraph) -> Identity {
    let hex = graph.identity_sha256();
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a HiveMind journal (it does not start with the journal magic); left untouched")]
    Foreign { path: PathBuf },
    #[error("journal {path} has format version {found}; this build reads version {FORMAT_VERSION}; left untouched")]
    Version { path: PathBuf, found: u32 },
    #[error("journal {path}: the header is damaged (checksum mismatch); left untouched")]
    Header { path: PathBuf },
    #[error("journal {path} belongs to another mission; left untouched")]
    OtherMission { path: PathBuf },
    #[error(
        "journal {path} already exists and is not empty; open it to recover, or move it aside"
    )]
    Exists { path: PathBuf },
    #[error("journal {path} is corrupt at byte {offset} with {after} bytes of records after it ({error}); left untouched (`repair` copies it aside and cuts it there)")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        after: u64,
        error: DecodeError,
    },
    #[error("journal {path}: the record at byte {offset} has a valid checksum but this build cannot read it ({error}): written by a newer version? left untouched")]
    Unreadable {
        path: PathBuf,
        offset: u64,
        error: DecodeError,
    },
}

/// What was cut off the end of a journal on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub offset: u64,
    pub dropped_bytes: u64,
    pub error: DecodeError,
}

pub struct Opened {
    pub journal: Journal,
    pub records: Vec<Record>,
    pub identity: Identity,
    pub torn: Option<TornTail>,
}

pub struct Journal {
    path: PathBuf,
    file: File,
    identity: Identity,
    len: u64,
    buf: Vec<u8>,
    pending: u64,
}

fn header(identity: &Identity) -> [u8; FILE_HEADER_BYTES] {
    let mut h = [0u8; FILE_HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..44].copy_from_slice(identity);
    let crc = crate::crc32::crc32(&h[..44]);
    h[44..48].copy_from_slice(&crc.to_le_bytes());
    h
}

/// How far the frames of `body` (the bytes after the header) are good.
enum Scan {
    Clean(Vec<Record>),
    Torn(Vec<Record>, usize, DecodeError),
    Corrupt(usize, DecodeError),
    Unreadable(usize, DecodeError),
}

fn scan(body: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut at = 0;
    while at < body.len() {
        match decode(&body[at..]) {
            Ok((r, used)) => {
                records.push(r);
                at += used;
            }
            // A checksum that holds over a payload this build cannot read
            // was written whole: never a torn write.
            Err(e @ DecodeError::Payload(_)) => return Scan::Unreadable(at, e),
            Err(e) => {
                let rest = &body[at..];
                let torn = match e {
                    // Zeros after the last frame (space a crash left).
                    _ if rest.iter().all(|&b| b == 0) => true,
                    // Cut short by the end of the file, unless the length
                    // field is what is wrong: the rest is one whole frame,
                    // or a good frame follows.
                    DecodeError::Truncated { .. } => {
                        !whole_frame_with_bad_length(rest) && !frame_after(rest)
                    }
                    // The last frame whose payload never landed: JSON ends
                    // in `}`, an unwritten block in zeros.
                    DecodeError::Checksum { .. } => {
                        frame_end(rest) == Some(rest.len()) && rest.last() == Some(&0)
                    }
                    _ => false,
                };
                return if torn {
                    Scan::Torn(records, at, e)
                } else {
                    Scan::Corrupt(at, e)
                };
            }
        }
    }
    Scan::Clean(records)
}

/// The bytes after the frame header are exactly the payload the checksum
/// names: a complete frame whose length field was damaged.
fn whole_frame_with_bad_length(rest: &[u8]) -> bool {
    let (Some(crc), Some(payload)) = (rest.get(4..8), rest.get(crate::record::HEADER_BYTES..))
    else {
        return false;
    };
    u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) == crate::crc32::crc32(payload)
}

/// A good frame starts somewhere after the first byte of `rest` (so what
/// failed was not the last frame). Candidates are filtered on the JSON
/// braces a payload starts and ends with before any checksum is computed.
fn frame_after(rest: &[u8]) -> bool {
    let h = crate::record::HEADER_BYTES;
    (1..rest.len()).any(|off| {
        let at = &rest[off..];
        let Some(end) = frame_end(at) else {
            return false;
        };
        end > h && at.get(h) == Some(&b'{') && at.get(end - 1) == Some(&b'}') && decode(at).is_ok()
    })
}

/// Where the frame starting at `bytes` ends, by its length field.
fn frame_end(bytes: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    Some(crate::record::HEADER_BYTES + len as usize)
}

impl Journal {
    /// Start a new journal for the mission `identity` at `path`. Refuses a
    /// path that holds anything (never overwrites a journal).
    pub fn create(path: &Path, identity: Identity) -> Result<Journal, JournalError> {
        let io = io_error(path);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() > 0 {
            return Err(JournalError::Exists {
                path: path.to_path_buf(),
            });
        }
        file.write_all(&header(&identity)).map_err(io)?;
        file.sync_all().map_err(io)?;
        sync_dir(path).map_err(io)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            identity,
            len: FILE_HEADER_BYTES as u64,
            buf: Vec::new(),
            pending: 0,
        })
    }

    /// Open the journal at `path` and read its records back (see the
    /// module documentation for what is truncated and what is refused).
    pub fn open(path: &Path) -> Result<Opened, JournalError> {
        let io = io_error(path);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let identity = check_header(path, &bytes)?;
        let body = &bytes[FILE_HEADER_BYTES..];
        let (records, torn) = match scan(body) {
            Scan::Clean(records) => (records, None),
            Scan::Torn(records, at, error) => {
                let offset = (FILE_HEADER_BYTES + at) as u64;
                let t = TornTail {
                    offset,
                    dropped_bytes: (body.len() - at) as u64,
                    error,
                };
                tracing::warn!(
                    path = %path.display(),
                    offset = t.offset,
                    dropped = t.dropped_bytes,
                    error = %t.error,
                    "journal ends in a torn write (never committed); truncating it"
                );
                file.set_len(offset).map_err(io)?;
                file.sync_all().map_err(io)?;
                (records, Some(t))
            }
            Scan::Corrupt(at, error) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    offset: (FILE_HEADER_BYTES + at) as u64,
                    after: (body.len() - at) as u64,
                    error,
                })
            }
            Scan::Unreadable(at, error) => {
                return Err(JournalError::Unreadable {
                    path: path.to_path_buf(),
                    offset: (FILE_HEADER_BYTES + at) as u64,
                    error,
                })
            }
        };
        let len = torn
            .as_ref()
            .map_or(bytes.len() as u64, |t: &TornTail| t.offset);
        Ok(Opened {
            journal: Journal {
                path: path.to_path_buf(),
                file,
                identity,
                len,
                buf: Vec::new(),
                pending: 0,
            },
            records,
            identity,
            torn,
        })
    }

    /// Open the journal for the mission `identity`: refuses a journal of
    /// another mission.
    pub fn open_for(path: &Path, identity: Identity) -> Result<Opened, JournalError> {
        let opened = Journal::open(path)?;
        if opened.identity != identity {
            return Err(JournalError::OtherMission {
                path: path.to_path_buf(),
            });
        }
        Ok(opened)
    }

    /// Copy a journal that [`Journal::open`] refuses as corrupt to
    /// `<path>.corrupt` (never overwriting an earlier copy), then cut it
    /// before its first bad frame. Returns where the copy is. Refuses files
    /// that are not journals, or of another format, untouched.
    pub fn repair(path: &Path) -> Result<PathBuf, JournalError> {
        let io = io_error(path);
        let bytes = std::fs::read(path).map_err(io)?;
        check_header(path, &bytes)?;
        let cut = match scan(&bytes[FILE_HEADER_BYTES..]) {
            Scan::Clean(_) => bytes.len(),
            Scan::Torn(_, at, _) | Scan::Corrupt(at, _) | Scan::Unreadable(at, _) => {
                FILE_HEADER_BYTES + at
            }
        };
        let mut aside = path.as_os_str().to_owned();
        aside.push(".corrupt");
        let mut aside = PathBuf::from(aside);
        let mut n = 1;
        while aside.exists() {
            let mut next = path.as_os_str().to_owned();
            next.push(format!(".corrupt.{n}"));
            aside = PathBuf::from(next);
            n += 1;
        }
        std::fs::copy(path, &aside).map_err(io)?;
        File::open(&aside).and_then(|f| f.sync_all()).map_err(io)?;
        let f = OpenOptions::new().write(true).open(path).map_err(io)?;
        f.set_len(cut as u64).map_err(io)?;
        f.sync_all().map_err(io)?;
        sync_dir(path).map_err(io)?;
        Ok(aside)
    }

    fn io(&self, source: std::io::Error) -> JournalError {
        io_error(&self.path)(source)
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Buffer a record; it is durable only after [`Journal::commit`].
    pub fn append(&mut self, record: &Record) {
        encode_into(record, &mut self.buf);
        self.pending += 1;
    }

    /// Write and fsync everything appended since the last commit. Returns the
    /// number of records made durable.
    pub fn commit(&mut self) -> Result<u64, JournalError> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        self.file.write_all(&self.buf).map_err(|e| self.io(e))?;
        self.file.sync_data().map_err(|e| self.io(e))?;
        self.len += self.buf.len() as u64;
        self.buf.clear();
        Ok(std::mem::take(&mut self.pending))
    }

    /// Durable size in bytes, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// No record is durable yet.
    pub fn is_empty(&self) -> bool {
        self.len <= FILE_HEADER_BYTES as u64
    }

    /// Replace the journal by one snapshot record (uncommitted appends are
    /// dropped: the snapshot supersedes them). A failure before the rename
    /// leaves the old journal in place and in use; after it, the new file
    /// is in use whatever the directory fsync says.
    pub fn compact(&mut self, snapshot: &Record) -> Result<(), JournalError> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".compact.tmp");
        let tmp = PathBuf::from(tmp);
        let mut bytes = header(&self.identity).to_vec();
        encode_into(snapshot, &mut bytes);
        let io = io_error(&tmp);
        {
            let mut f = File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        // From here the path names the new file: switch to it first, so no
        // append can go to the old, unlinked one.
        let reopened = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e));
        match reopened {
            Ok(f) => {
                self.file = f;
                self.len = bytes.len() as u64;
                self.buf.clear();
                self.pending = 0;
            }
            Err(e) => {
                // The handle still points at the unlinked file: make every
                // later commit fail rather than write where no one reads.
                self.poison();
                return Err(e);
            }
        }
        // The rename is durable only once the directory is synced.
        sync_dir(&self.path).map_err(|e| self.io(e))
    }

    /// After a failed reopen: a handle that refuses writes.
    fn poison(&mut self) {
        if let Ok(f) = File::open(&self.path) {
            // Read-only: `commit` fails with an IO error.
            self.file = f;
        }
        self.buf.clear();
        self.pending = 0;
    }
}

/// An IO error on `path`, as the journal reports it.
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> JournalError + Copy + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The header's identity, or why the file is refused.
fn check_header(path: &Path, bytes: &[u8]) -> Result<Identity, JournalError> {
    let refuse_foreign = || JournalError::Foreign {
        path: path.to_path_buf(),
    };
    if bytes.len() < FILE_HEADER_BYTES {
        // A crash during `create` leaves a prefix of the header: refuse it
        // too (nothing was ever committed, but it is not ours to delete).
        return Err(
            if MAGIC.starts_with(&bytes[..bytes.len().min(8)]) && !bytes.is_empty() {
                JournalError::Header {
                    path: path.to_path_buf(),
                }
            } else {
                refuse_foreign()
            },
        );
    }
    if &bytes[..8] != MAGIC {
        return Err(refuse_foreign());
    }
    let crc = u32::from_le_bytes([bytes[44], bytes[45], bytes[46], bytes[47]]);
    if crate::crc32::crc32(&bytes[..44]) != crc {
        return Err(JournalError::Header {
            path: path.to_path_buf(),
        });
    }
    let found = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if found != FORMAT_VERSION {
        return Err(JournalError::Version {
            path: path.to_path_buf(),
            found,
        });
    }
    let mut identity = [0u8; 32];
    identity.copy_from_slice(&bytes[12..44]);
    Ok(identity)
}

/// Make a creation or rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Command, Event};
    use crate::time::Micros;

    fn rec(i: u64) -> Record {
        Record::Event {
            at: Micros(i),
            event: Event::Operator {
                command: Command::Abort {
                    reason: format!("r{i}"),
                },
            },
        }
    }

    fn journal_with(n: u64) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut j = Journal::create(&path, [7; 32]).expect("create");
        for i in 0..n {
            j.append(&rec(i));
        }
        j.commit().expect("commit");
        let bytes = std::fs::read(&path).expect("read");
        (dir, path, bytes)
    }

    /// Every single-bit flip anywhere in a small journal is refused with the
    /// file left byte-identical: never a record lost silently, never a panic.
    #[test]
    fn a_flipped_bit_anywhere_never_deletes_durable_records() {
        let (_dir, path, good) = journal_with(4);
        let frames: Vec<usize> = {
            let mut ends = vec![FILE_HEADER_BYTES];
            let mut at = FILE_HEADER_BYTES;
            while at < good.len() {
                let (_, used) = decode(&good[at..]).expect("frame");
                at += used;
                ends.push(at);
            }
            ends
        };
        for byte in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[byte] ^= 1 << bit;
                std::fs::write(&path, &bad).expect("write");
                // A flip is damage to committed data, never a torn write:
                // refused, the file untouched.
                let frame = frames.iter().rposition(|&f| f <= byte).unwrap_or(0);
                match Journal::open(&path) {
                    Ok(o) => panic!(
                        "byte {byte} (frame {frame}) bit {bit}: accepted with {} records",
                        o.records.len()
                    ),
                    Err(_) => {
                        assert_eq!(
                            std::fs::read(&path).expect("read"),
                            bad,
                            "byte {byte}: file changed"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn foreign_newer_and_other_mission_files_are_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notes.txt");
        let text = b"shopping list: eggs, milk, 3 drones\n".repeat(10);
        std::fs::write(&path, &text).expect("write");
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Foreign { .. })
        ));
        assert!(matches!(
            Journal::create(&path, [0; 32]),
            Err(JournalError::Exists { .. })
        ));
        assert!(matches!(
            Journal::repair(&path),
            Err(JournalError::Foreign { .. })
        ));
        assert_eq!(std::fs::read(&path).expect("read"), text);

        let (_d, path, good) = journal_with(2);
        let mut newer = good.clone();
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crate::crc32::crc32(&newer[..44]);
        newer[44..48].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &newer).expect("write");
        let e = Journal::open(&path).err().expect("refused");
        assert!(matches!(e, JournalError::Version { found: 2, .. }), "{e}");
        assert_eq!(std::fs::read(&path).expect("read"), newer);

        std::fs::write(&path, &good).expect("write");
        assert!(matches!(
            Journal::open_for(&path, [8; 32]),
            Err(JournalError::OtherMission { .. })
        ));
        assert_eq!(
            Journal::open_for(&path, [7; 32])
                .expect("ours")
                .records
                .len(),
            2
        );
    }

    #[test]
    fn a_record_from_a_newer_version_is_refused_not_truncated() {
        let (_d, path, mut bytes) = journal_with(2);
        // A well-formed frame (valid checksum) holding a record kind this
        // build does not know.
        let payload = br#"{"model_pushed":{"at":5}}"#;
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crate::crc32::crc32(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        std::fs::write(&path, &bytes).expect("write");
        let e = Journal::open(&path).err().expect("refused");
        assert!(matches!(e, JournalError::Unreadable { .. }), "{e}");
        assert_eq!(std::fs::read(&path).expect("read"), bytes);
    }

    #[test]
    fn torn_tails_are_cut_and_repair_copies_aside_first() {
        let (_d, path, good) = journal_with(3);
        // Half a frame, then zeros a crash left: both are cut.
        for tail in [&rec(9).clone(), &rec(10)] {
            let mut frame = Vec::new();
            encode_into(tail, &mut frame);
            let mut torn = good.clone();
            torn.extend_from_slice(&frame[..frame.len() / 2]);
            std::fs::write(&path, &torn).expect("write");
            let o = Journal::open(&path).expect("open");
            assert_eq!(o.records.len(), 3);
            assert!(o.torn.is_some());
            assert_eq!(std::fs::read(&path).expect("read"), good);
        }
        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 4096]);
        std::fs::write(&path, &zeros).expect("write");
        assert_eq!(Journal::open(&path).expect("open").records.len(), 3);
        // Corruption in the middle: refused; repair keeps a copy and cuts.
        let mut bad = good.clone();
        bad[FILE_HEADER_BYTES + 10] ^= 0x40;
        std::fs::write(&path, &bad).expect("write");
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Corrupt { .. })
        ));
        let aside = Journal::repair(&path).expect("repair");
        assert_eq!(std::fs::read(&aside).expect("copy"), bad);
        let o = Journal::open(&path).expect("open repaired");
        assert!(o.records.is_empty());
        let second = Journal::repair(&path).expect("repair again");
        assert_ne!(second, aside, "an earlier copy is never overwritten");
    }

    /// Crash points of compaction: before the rename the old journal is
    /// whole and a leftover temporary file is ignored (and replaced by the
    /// next compaction); after it, the new file is a journal on its own.
    #[test]
    fn a_compaction_cut_short_at_any_point_leaves_a_readable_journal() {
        let (_d, path, good) = journal_with(5);
        let tmp = {
            let mut t = path.as_os_str().to_owned();
            t.push(".compact.tmp");
            PathBuf::from(t)
        };
        // Crashed while writing the temporary file: half a snapshot.
        let mut half = header(&[7; 32]).to_vec();
        encode_into(&rec(99), &mut half);
        half.truncate(half.len() - 7);
        std::fs::write(&tmp, &half).expect("write tmp");
        let o = Journal::open(&path).expect("the journal is untouched");
        assert_eq!(o.records.len(), 5);
        assert_eq!(std::fs::read(&path).expect("read"), good);
        // The next compaction replaces the leftover and succeeds.
        let mut j = o.journal;
        j.compact(&rec(99)).expect("compact over a leftover");
        assert!(!tmp.exists(), "the temporary file was renamed into place");
        assert_eq!(Journal::open(&path).expect("open").records, vec![rec(99)]);
        // Crashed after the rename, before the directory fsync: the file
        // under the journal's name is the complete new one.
        let mut whole = header(&[7; 32]).to_vec();
        encode_into(&rec(7), &mut whole);
        std::fs::write(&path, &whole).expect("write");
        assert_eq!(Journal::open(&path).expect("open").records, vec![rec(7)]);
    }

    #[test]
    fn compaction_keeps_the_header_and_appends_go_to_the_new_file() {
        let (_d, path, _) = journal_with(5);
        let mut o = Journal::open(&path).expect("open");
        o.journal.compact(&rec(99)).expect("compact");
        o.journal.append(&rec(100));
        o.journal.commit().expect("commit");
        let again = Journal::open(&path).expect("open");
        assert_eq!(again.records, vec![rec(99), rec(100)]);
        assert_eq!(again.identity, [7; 32]);
    }
}
