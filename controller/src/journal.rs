//! The journal file: the only module of this crate that does IO. Records
//! are appended to a buffer and made durable by [`Journal::commit`] (one
//! write and one `fdatasync` for the whole batch: group commit). Opening a
//! journal decodes it, truncates a torn or corrupt tail with a warning, and
//! hands the good records to [`crate::Controller::recover`].
//! [`Journal::compact`] replaces the file by a single snapshot record
//! (write a temporary file, fsync, rename, fsync the directory), so the
//! journal stays bounded.

use crate::record::{decode_all, encode_into, DecodeError, Record};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
    pub torn: Option<TornTail>,
}

pub struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
    buf: Vec<u8>,
    pending: u64,
}

impl Journal {
    /// Open (or create) the journal at `path`, keeping its valid prefix.
    pub fn open(path: &Path) -> Result<Opened, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let decoded = decode_all(&bytes);
        let torn = decoded.tail_error.map(|error| TornTail {
            offset: decoded.valid_len as u64,
            dropped_bytes: (bytes.len() - decoded.valid_len) as u64,
            error,
        });
        if let Some(t) = &torn {
            tracing::warn!(
                path = %path.display(),
                offset = t.offset,
                dropped = t.dropped_bytes,
                error = %t.error,
                "journal tail is torn or corrupt; truncating it"
            );
            file.set_len(t.offset).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(Opened {
            journal: Journal {
                path: path.to_path_buf(),
                file,
                len: decoded.valid_len as u64,
                buf: Vec::new(),
                pending: 0,
            },
            records: decoded.records,
            torn,
        })
    }

    fn io(&self, source: std::io::Error) -> JournalError {
        JournalError::Io {
            path: self.path.clone(),
            source,
        }
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

    /// Durable size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replace the journal by one snapshot record (uncommitted appends are
    /// dropped: the snapshot supersedes them).
    pub fn compact(&mut self, snapshot: &Record) -> Result<(), JournalError> {
        let tmp = self.path.with_extension("compact.tmp");
        let mut bytes = Vec::new();
        encode_into(snapshot, &mut bytes);
        let io = |source| JournalError::Io {
            path: tmp.clone(),
            source,
        };
        {
            let mut f = File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename is durable only once the directory is synced.
            if let Ok(d) = File::open(dir) {
                d.sync_all().map_err(|e| self.io(e))?;
            }
        }
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        self.len = bytes.len() as u64;
        self.buf.clear();
        self.pending = 0;
        Ok(())
    }
}
