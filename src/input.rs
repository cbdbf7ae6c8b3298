//! Reading mission files with clear one-line errors for everything that is
//! not a readable UTF-8 text file of sane size.

use anyhow::{anyhow, Result};
use hivemind_dsl::parser::MAX_SOURCE_BYTES;
use std::fmt;
use std::io::Read;
use std::path::Path;

#[derive(Debug)]
pub struct InputError {
    path: String,
    what: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

impl std::error::Error for InputError {}

pub fn read_mission(path: &Path) -> Result<String, InputError> {
    let err = |what: String| InputError {
        path: path.display().to_string(),
        what,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(err("is a directory, not a mission file".into()));
    }
    if meta.len() > MAX_SOURCE_BYTES as u64 {
        return Err(err(format!(
            "file is {:.1} MB; missions are limited to {} MiB",
            meta.len() as f64 / 1e6,
            MAX_SOURCE_BYTES >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Read at most one byte past the limit in case the file grows meanwhile.
    let file = std::fs::File::open(path).map_err(|e| err(io_reason(&e)))?;
    file.take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(io_reason(&e)))?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(err(format!(
            "file is larger than {} MiB",
            MAX_SOURCE_BYTES >> 20
        )));
    }
    if bytes.is_empty() {
        return Err(err(
            "file is empty; a mission starts with `mission <name> {`".into(),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(s) if s.contains('\0') => Err(err(
            "is a binary file (contains NUL bytes), not a mission".into(),
        )),
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(err(format!(
                "is not valid UTF-8 (first bad byte at offset {at}, line {line})"
            )))
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A small text file (a profile, a plan, a fault script): refused when it
/// is a directory, larger than `max_bytes`, or not UTF-8.
pub fn read_text(path: &Path, what: &str, max_bytes: u64) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(anyhow!("{}: is a directory, not a {what}", path.display()));
    }
    if meta.len() > max_bytes {
        return Err(anyhow!(
            "{}: {} bytes is too large for a {what} (at most {max_bytes})",
            path.display(),
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{}: is not valid UTF-8", path.display()))
}
