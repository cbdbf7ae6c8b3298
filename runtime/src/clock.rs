//! The mission clock: the core's `Micros` from the wall clock.
//!
//! The core never reads a clock; the runtime gives it microseconds since
//! the mission's origin. The origin (Unix time) is kept in a small file
//! beside the journal, so a controller restarted after a crash continues
//! the same timeline: its timers and the journaled times stay comparable.
//! Within one process the clock is monotonic (`Instant`), and it never
//! runs behind the latest journaled time.

use hivemind_controller::Micros;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub struct MissionClock {
    started: Instant,
    base_us: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("cannot write the mission clock origin {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the mission clock origin {path} is unreadable ({detail}); remove it only together with its journal")]
    Read { path: String, detail: String },
}

fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl MissionClock {
    /// A clock at zero now (tests, or a journal-less run).
    pub fn starting_now() -> MissionClock {
        MissionClock {
            started: Instant::now(),
            base_us: 0,
        }
    }

    /// A new mission: record the origin (fsynced) and start at zero.
    pub fn create(origin_file: &Path) -> Result<MissionClock, ClockError> {
        let now = unix_us(SystemTime::now());
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(origin_file)?;
            writeln!(f, "{now}")?;
            f.sync_all()
        };
        write().map_err(|source| ClockError::Write {
            path: origin_file.display().to_string(),
            source,
        })?;
        Ok(MissionClock::starting_now())
    }

    /// A recovered mission: continue from the origin on file, never behind
    /// `at_least` (the last journaled time: the wall clock may have been
    /// set back while the controller was down).
    pub fn resume(origin_file: &Path, at_least: Micros) -> Result<MissionClock, ClockError> {
        let text = std::fs::read_to_string(origin_file).map_err(|e| ClockError::Read {
            path: origin_file.display().to_string(),
            detail: e.to_string(),
        })?;
        let origin: u64 = text.trim().parse().map_err(|_| ClockError::Read {
            path: origin_file.display().to_string(),
            detail: format!(
                "`{}` is not a Unix time in µs",
                text.trim().chars().take(40).collect::<String>()
            ),
        })?;
        let elapsed = unix_us(SystemTime::now()).saturating_sub(origin);
        Ok(MissionClock {
            started: Instant::now(),
            base_us: elapsed.max(at_least.0),
        })
    }

    pub fn now(&self) -> Micros {
        let e = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Micros(self.base_us.saturating_add(e))
    }

    /// How long until mission time `t` (zero if past).
    pub fn until(&self, t: Micros) -> Duration {
        Duration::from_micros(t.0.saturating_sub(self.now().0))
    }
}
