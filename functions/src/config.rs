//! Deployment configuration of functions: how a config file maps a
//! mission's function names to subprocess actions, shared by the
//! controller (`hivemind up --config`) and the agent (`hive-agent
//! --config`), so both read the same `[functions.NAME]` tables.
//!
//! ```toml
//! [functions.detect]
//! exec = "./detect.py"      # relative to the config file's directory
//! args = ["--fast"]
//! mode = "persistent"       # or "one-shot" (default)
//! timeout = "10 s"
//! memory_mb = 512
//! cpu_seconds = 30
//! ```
//!
//! Names not mapped keep the in-process backend with the synthetic
//! fallback ([`backend`]). Times are strings with a unit ([`parse_duration`]).

use crate::{ActionSpec, Backend, InProcess, Limits, Mode, Registry, Stack, Subprocess};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A time written with its unit: `"10 s"`, `"250 ms"`, `"1.5 min"`,
/// `"2 h"`, `"500 us"` (or `µs`); the space is optional. A bare number,
/// a negative one, or an unknown unit (`"5 m"`: metres?) is an error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    if num.is_empty() {
        return Err(format!(
            "`{text}` is not a time: expected a number and a unit, e.g. `10 s` or `250 ms`"
        ));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a time: `{num}` is not a number"))?;
    let per_unit_us: f64 = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" | "sec" => 1e6,
        "min" => 60e6,
        "h" => 3600e6,
        "" => {
            return Err(format!(
                "`{text}` has no unit: write e.g. `{num} s` or `{num} ms`"
            ))
        }
        "m" => {
            return Err(format!(
                "`{text}`: `m` is metres; for minutes write `{num} min`"
            ))
        }
        other => {
            return Err(format!(
                "`{text}`: unknown time unit `{other}` (us, ms, s, min, h)"
            ))
        }
    };
    let us = value * per_unit_us;
    // A week bounds every time in a deployment and keeps the cast exact.
    if !us.is_finite() || us > 7.0 * 86_400e6 {
        return Err(format!("`{text}` is too long (at most a week)"));
    }
    Ok(Duration::from_micros(us.round() as u64))
}

/// A [`Duration`] read from a string with a unit (see [`parse_duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub Duration);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(Time)
            .map_err(serde::de::Error::custom)
    }
}

/// How a function's processes live, as a config file writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ModeName {
    #[default]
    #[serde(rename = "one-shot")]
    OneShot,
    #[serde(rename = "persistent")]
    Persistent,
}

/// One `[functions.NAME]` table: the function runs as this executable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// A path (relative: to the config file's directory) or a name looked
    /// up in `PATH`.
    pub exec: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (relative: to the config file's directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub mode: ModeName,
    /// Wall-clock cap per invocation (default 60 s).
    #[serde(default)]
    pub timeout: Option<Time>,
    /// Address-space limit in MiB.
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// CPU-time limit in seconds.
    #[serde(default)]
    pub cpu_seconds: Option<u64>,
    /// Largest response read, in KiB (default 16 MiB).
    #[serde(default)]
    pub max_output_kb: Option<u64>,
    /// Persistent mode: the worker is started only once the process
    /// writes `{"ready": true}` (e.g. after loading its model).
    #[serde(default)]
    pub ready: bool,
}

/// Why a function mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[functions.{function}] {key}: {detail}")]
pub struct FunctionConfigError {
    pub function: String,
    pub key: &'static str,
    pub detail: String,
}

impl FunctionConfig {
    /// The action this table describes; relative paths are taken from
    /// `base` (the config file's directory). The executable must exist.
    pub fn to_action(&self, name: &str, base: &Path) -> Result<ActionSpec, FunctionConfigError> {
        let err = |key, detail: String| FunctionConfigError {
            function: name.to_string(),
            key,
            detail,
        };
        let program = resolve_program(&self.exec, base).map_err(|d| err("exec", d))?;
        let defaults = Limits::default();
        let timeout_ms = match self.timeout {
            Some(Time(d)) if d.is_zero() => return Err(err("timeout", "must be above 0".into())),
            Some(Time(d)) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1),
            None => defaults.timeout_ms,
        };
        let memory_bytes = match self.memory_mb {
            Some(0) => return Err(err("memory_mb", "must be at least 1".into())),
            Some(mb) => Some(
                mb.checked_mul(1 << 20)
                    .ok_or_else(|| err("memory_mb", format!("{mb} MiB is too large")))?,
            ),
            None => None,
        };
        if self.cpu_seconds == Some(0) {
            return Err(err("cpu_seconds", "must be at least 1".into()));
        }
        let max_output_bytes = match self.max_output_kb {
            Some(0) => return Err(err("max_output_kb", "must be at least 1".into())),
            Some(kb) => kb
                .checked_mul(1024)
                .and_then(|b| usize::try_from(b).ok())
                .ok_or_else(|| err("max_output_kb", format!("{kb} KiB is too large")))?,
            None => defaults.max_output_bytes,
        };
        Ok(ActionSpec {
            program,
            args: self.args.clone(),
            env: self.env.clone(),
            dir: self.dir.as_ref().map(|d| base.join(d)),
            mode: match self.mode {
                ModeName::OneShot => Mode::OneShot,
                ModeName::Persistent => Mode::Persistent,
            },
            ready: self.ready,
            limits: Limits {
                timeout_ms,
                memory_bytes,
                cpu_seconds: self.cpu_seconds,
                max_output_bytes,
                ..defaults
            },
        })
    }
}

/// A path with a directory part is taken from `base` and must be a file;
/// a bare name must be found in `PATH` (checked now, so a typo is a
/// config error rather than a failed task later).
fn resolve_program(exec: &Path, base: &Path) -> Result<PathBuf, String> {
    if exec.as_os_str().is_empty() {
        return Err("is empty".into());
    }
    if exec.components().count() > 1 || exec.is_absolute() {
        let p = base.join(exec);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{} is not a file", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(exec).is_file()) {
        Ok(exec.to_path_buf())
    } else {
        Err(format!("`{}` is not found in PATH", exec.display()))
    }
}

/// The backend a deployment runs: the mapped functions as subprocesses,
/// asked first, then in-process functions with the synthetic fallback.
pub fn backend(
    functions: &BTreeMap<String, FunctionConfig>,
    base: &Path,
) -> Result<Arc<dyn Backend>, FunctionConfigError> {
    let inprocess = InProcess::new(Registry::new()).with_synthetic_fallback(true);
    if functions.is_empty() {
        return Ok(Arc::new(inprocess));
    }
    let mut sub = Subprocess::new();
    for (name, f) in functions {
        sub.add(name.clone(), f.to_action(name, base)?);
    }
    Ok(Arc::new(Stack::new().with(sub).with(inprocess)))
}

/// The largest deployment file read (1 MiB): a config file, not data.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a deployment file could not be read as text.
#[derive(Debug)]
pub enum FileError {
    Read(std::io::Error),
    TooLarge(u64),
    /// Not UTF-8: the offset of the first bad byte.
    NotUtf8(usize),
}

/// The file a program is told to read: `--config`, else the variable
/// `env` (an empty value counts as unset), else none.
pub fn named(
    flag: Option<&Path>,
    env: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| lookup(env).filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// A deployment file's text, checked for size before it is read, and the
/// directory its relative paths start at. One reader for the controller's
/// and the agent's files.
pub fn read_file(path: &Path) -> Result<(String, PathBuf), FileError> {
    let size = std::fs::metadata(path).map_err(FileError::Read)?.len();
    if size > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(size));
    }
    let bytes = std::fs::read(path).map_err(FileError::Read)?;
    let text =
        String::from_utf8(bytes).map_err(|e| FileError::NotUtf8(e.utf8_error().valid_up_to()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok((text, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str, us: u64| assert_eq!(parse_duration(s), Ok(Duration::from_micros(us)));
        ok("10 s", 10_000_000);
        ok("10s", 10_000_000);
        ok("250 ms", 250_000);
        ok("1.5 min", 90_000_000);
        ok("2 h", 7_200_000_000);
        ok("500 us", 500);
        ok("500 µs", 500);
        ok(" 0 s ", 0);
        for bad in [
            "",
            "s",
            "10",
            "5 m",
            "-1 s",
            "1e3 s",
            "1.2.3 s",
            "10 sx",
            "99999999 h",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains('`'), "{bad}: {e}");
        }
        assert!(parse_duration("5 m").unwrap_err().contains("min"));
    }

    fn base() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn action_from_table() {
        let f = FunctionConfig {
            exec: "Cargo.toml".into(),
            args: vec!["-x".into()],
            env: BTreeMap::new(),
            dir: Some("src".into()),
            mode: ModeName::Persistent,
            timeout: Some(Time(Duration::from_secs(10))),
            memory_mb: Some(512),
            cpu_seconds: Some(3),
            max_output_kb: Some(4),
            ready: false,
        };
        // A bare name is looked up in PATH, not in the base directory.
        assert!(f.to_action("d", &base()).is_err());
        let f = FunctionConfig {
            exec: "./Cargo.toml".into(),
            ..f
        };
        let a = f.to_action("d", &base()).expect("action");
        assert_eq!(a.program, base().join("./Cargo.toml"));
        assert_eq!(a.dir, Some(base().join("src")));
        assert_eq!(a.mode, Mode::Persistent);
        assert_eq!(a.limits.timeout_ms, 10_000);
        assert_eq!(a.limits.memory_bytes, Some(512 << 20));
        assert_eq!(a.limits.cpu_seconds, Some(3));
        assert_eq!(a.limits.max_output_bytes, 4096);
        let sh = FunctionConfig {
            exec: "sh".into(),
            ..f.clone()
        };
        assert_eq!(
            sh.to_action("d", &base()).expect("sh").program,
            Path::new("sh")
        );
    }

    /// A one-shot function running `exec`, every other key unset.
    fn one_shot(exec: &str) -> FunctionConfig {
        FunctionConfig {
            exec: exec.into(),
            args: vec![],
            env: BTreeMap::new(),
            dir: None,
            mode: ModeName::OneShot,
            timeout: None,
            memory_mb: None,
            cpu_seconds: None,
            max_output_kb: None,
            ready: false,
        }
    }

    #[test]
    fn bad_values_name_function_and_key() {
        let f = one_shot("./no-such-file");
        let e = f.to_action("detect", &base()).unwrap_err().to_string();
        assert!(e.starts_with("[functions.detect] exec: "), "{e}");
        let g = FunctionConfig {
            exec: "sh".into(),
            memory_mb: Some(u64::MAX),
            ..f.clone()
        };
        assert_eq!(g.to_action("x", &base()).unwrap_err().key, "memory_mb");
        let g = FunctionConfig {
            exec: "sh".into(),
            timeout: Some(Time(Duration::ZERO)),
            ..f.clone()
        };
        assert_eq!(g.to_action("x", &base()).unwrap_err().key, "timeout");
        let g = FunctionConfig {
            exec: "sh".into(),
            max_output_kb: Some(0),
            ..f
        };
        assert_eq!(g.to_action("x", &base()).unwrap_err().key, "max_output_kb");
    }

    #[test]
    fn unmapped_names_fall_back_to_synthetic() {
        let mut m = BTreeMap::new();
        m.insert("detect".to_string(), one_shot("sh"));
        let b = backend(&m, &base()).expect("backend");
        assert!(b.has("detect"));
        assert!(b.has("anything_else"));
    }
}
