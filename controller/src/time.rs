//! Virtual time. The core never reads a clock: every call is given `now`.

use serde::{Deserialize, Serialize};

/// Microseconds since an epoch chosen by the driver (the runtime's start, or
/// the simulator's zero).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub u64);

impl Micros {
    pub const ZERO: Micros = Micros(0);
    pub const fn from_millis(ms: u64) -> Micros {
        Micros(ms * 1_000)
    }
    pub const fn from_secs(s: u64) -> Micros {
        Micros(s * 1_000_000)
    }
    /// Saturating: time arithmetic never panics or wraps.
    pub const fn plus(self, us: u64) -> Micros {
        Micros(self.0.saturating_add(us))
    }
    pub const fn since(self, earlier: Micros) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}
