//! The built-in `synthetic` function family: does a task's declared work
//! and returns an output of its declared size, so a mission runs before
//! its functions are written and the runtime reproduces the cost model's
//! service times.
//!
//! Parameters travel in [`Request::params`](crate::Request) as a JSON
//! object ([`SyntheticParams`], unknown fields refused):
//!
//! ```json
//! {"busy_us": 2000, "ops": 800000000, "ops_per_item": 0,
//!  "ops_per_sec": 1000000000, "output_bytes": 4096, "output_items": 3,
//!  "seed": 7, "clock": "cpu", "fail": null}
//! ```
//!
//! Every field is optional (`null` params: no work, empty output, one
//! item). The CPU is kept busy for `busy_us` plus
//! `(ops + ops_per_item × input_items) / ops_per_sec` seconds. With
//! `"clock": "cpu"` (the default) that is the worker thread's CPU time, so
//! invocations sharing a core slow each other down as real ones do
//! (interference); `"wall"` counts wall-clock time instead, and `"sleep"`
//! holds the worker for that wall-clock time without using this
//! machine's CPU (work on a modelled processor). The output is
//! `output_bytes` bytes from a generator seeded with `seed` (default: the
//! task and instance, so every attempt of an instance returns the same
//! bytes) and reports `output_items` items (default 1). `fail` makes the
//! invocation fail with that message after its work, for fault tests.

use crate::inprocess::HandlerResult;
use crate::{Ctx, FnError, Request, Response};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The family's own name; with [`InProcess::with_synthetic_fallback`]
/// every unregistered name runs it too.
///
/// [`InProcess::with_synthetic_fallback`]: crate::InProcess::with_synthetic_fallback
pub const NAME: &str = "synthetic";

/// The largest output a synthetic invocation makes: the runtime must
/// not be made to allocate without bound by a mission's numbers.
pub const MAX_OUTPUT_BYTES: u64 = 256 << 20;

/// The longest busy time (one hour): beyond it a parameter is a mistake.
pub const MAX_BUSY: Duration = Duration::from_secs(3600);

/// Which clock measures the busy time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The thread's CPU time: contention stretches the invocation.
    #[default]
    Cpu,
    /// Wall-clock time.
    Wall,
    /// Wall-clock time without using this machine's CPU: the worker is
    /// held (sleeping) as long as the work takes on the processor the
    /// mission models (a vehicle's CPU, a cloud core), not on ours. What
    /// the runtime's synthetic functions use, so that 20 simulated vehicles
    /// on a 2-core machine still take the cost model's times.
    Sleep,
}

/// What a synthetic invocation does (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticParams {
    pub busy_us: u64,
    pub ops: u64,
    pub ops_per_item: u64,
    pub ops_per_sec: u64,
    pub output_bytes: u64,
    pub output_items: Option<u32>,
    pub seed: Option<u64>,
    pub clock: Clock,
    pub fail: Option<String>,
}

impl SyntheticParams {
    /// As request parameters.
    pub fn to_value(&self) -> serde_json::Value {
        // A struct of integers, strings and options always serializes.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Read from request parameters (`null`: the defaults).
    pub fn from_value(v: &serde_json::Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        // A struct would also deserialize from an array, by position.
        if !v.is_object() {
            return Err(format!("parameters must be a JSON object, not {v}"));
        }
        SyntheticParams::deserialize(v).map_err(|e| e.to_string())
    }

    /// How long the CPU is kept busy for an input of `input_items` items.
    pub fn busy_time(&self, input_items: u32) -> Result<Duration, String> {
        let ops = self
            .ops_per_item
            .checked_mul(u64::from(input_items))
            .and_then(|o| o.checked_add(self.ops))
            .ok_or("ops + ops_per_item × input_items overflows")?;
        let ops_us = if ops == 0 {
            0
        } else if self.ops_per_sec == 0 {
            return Err(format!("{ops} ops need a rate (ops_per_sec > 0)"));
        } else {
            // Rounded up: a nonzero amount of work never takes no time.
            let us = (u128::from(ops) * 1_000_000).div_ceil(u128::from(self.ops_per_sec));
            u64::try_from(us).map_err(|_| "busy time overflows")?
        };
        let total = Duration::from_micros(self.busy_us.saturating_add(ops_us));
        if total > MAX_BUSY {
            return Err(format!(
                "busy time {:.1} s is above the limit of {} s",
                total.as_secs_f64(),
                MAX_BUSY.as_secs()
            ));
        }
        Ok(total)
    }
}

/// The synthetic function: a [`Handler`](crate::Handler).
pub fn run(ctx: &Ctx, req: &Request) -> HandlerResult {
    let bad = |reason: String| FnError::BadParams {
        function: ctx.function().to_string(),
        reason,
    };
    let p = SyntheticParams::from_value(&req.params).map_err(bad)?;
    let busy = p.busy_time(req.input_items).map_err(bad)?;
    if p.output_bytes > MAX_OUTPUT_BYTES {
        return Err(bad(format!(
            "output_bytes {} is above the limit of {MAX_OUTPUT_BYTES}",
            p.output_bytes
        ))
        .into());
    }
    spin(ctx, busy, p.clock)?;
    if let Some(message) = p.fail {
        return Err(FnError::Failed {
            function: ctx.function().to_string(),
            message,
        }
        .into());
    }
    let seed = p
        .seed
        .unwrap_or((u64::from(req.task) << 48) ^ req.instance.rotate_left(17));
    // Checked above against MAX_OUTPUT_BYTES, which fits in usize.
    let len = usize::try_from(p.output_bytes).unwrap_or(0);
    Ok(Response::new(
        output_bytes(seed, len),
        p.output_items.unwrap_or(1),
    ))
}

/// `len` deterministic bytes from `seed` (splitmix64): the same seed
/// always gives the same bytes, on every platform.
pub fn output_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut state = seed;
    while out.len() < len {
        let word = splitmix64(&mut state).to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&word[..take]);
    }
    out
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Keep this thread busy for `busy` on `clock`, stopping early (with the
/// ctx's error) when cancelled or past the deadline.
fn spin(ctx: &Ctx, busy: Duration, clock: Clock) -> Result<(), FnError> {
    if busy.is_zero() {
        return Ok(());
    }
    let wall0 = Instant::now();
    if clock == Clock::Sleep {
        // In slices, so a cancelled invocation stops within 5 ms.
        while let Some(left) = busy.checked_sub(wall0.elapsed()).filter(|d| !d.is_zero()) {
            std::thread::sleep(left.min(Duration::from_millis(5)));
            ctx.check()?;
        }
        return Ok(());
    }
    let cpu0 = thread_cpu_time();
    let elapsed = || match (clock, cpu0) {
        (Clock::Cpu, Some(c0)) => thread_cpu_time()
            .map(|c| c.saturating_sub(c0))
            .unwrap_or_else(|| wall0.elapsed()),
        // Without a thread CPU clock, wall time is the honest fallback.
        _ => wall0.elapsed(),
    };
    let mut acc = 0x1234_5678_u64;
    loop {
        // ~20-50 µs of integer work between clock reads: the clock read
        // is a syscall and should stay a small share of the work.
        for _ in 0..4096 {
            acc = std::hint::black_box(splitmix64(&mut acc));
        }
        if elapsed() >= busy {
            return Ok(());
        }
        ctx.check()?;
    }
}

fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_from_ops_and_items() {
        let p = SyntheticParams {
            busy_us: 100,
            ops: 1_000,
            ops_per_item: 500,
            ops_per_sec: 1_000_000,
            ..Default::default()
        };
        // 100 µs + (1000 + 2 × 500) ops / 1 Mop/s = 100 + 2000 µs.
        assert_eq!(p.busy_time(2).unwrap(), Duration::from_micros(2_100));
    }

    #[test]
    fn busy_time_refusals() {
        let no_rate = SyntheticParams {
            ops: 5,
            ..Default::default()
        };
        assert!(no_rate.busy_time(0).unwrap_err().contains("rate"));
        let overflow = SyntheticParams {
            ops: u64::MAX,
            ops_per_item: u64::MAX,
            ops_per_sec: 1,
            ..Default::default()
        };
        assert!(overflow.busy_time(2).unwrap_err().contains("overflows"));
        let long = SyntheticParams {
            busy_us: 7_200_000_000,
            ..Default::default()
        };
        assert!(long.busy_time(0).unwrap_err().contains("limit"));
    }

    #[test]
    fn params_round_trip_and_refuse_unknown_fields() {
        let p = SyntheticParams {
            busy_us: 5,
            output_bytes: 10,
            output_items: Some(3),
            seed: Some(9),
            clock: Clock::Wall,
            ..Default::default()
        };
        assert_eq!(SyntheticParams::from_value(&p.to_value()).unwrap(), p);
        let err = SyntheticParams::from_value(&serde_json::json!({"bussy_us": 1})).unwrap_err();
        assert!(err.contains("bussy_us"), "{err}");
        assert!(SyntheticParams::from_value(&serde_json::json!([1, 2])).is_err());
        assert!(SyntheticParams::from_value(&serde_json::json!({"busy_us": -1})).is_err());
    }

    #[test]
    fn output_is_deterministic() {
        let a = output_bytes(42, 1001);
        assert_eq!(a.len(), 1001);
        assert_eq!(a, output_bytes(42, 1001));
        assert_ne!(a, output_bytes(43, 1001));
        // A prefix of a longer output: the length does not change the stream.
        assert_eq!(output_bytes(42, 13)[..], a[..13]);
    }
}
