//! The hard deadline and the memory cap, enforced from outside z3.
//!
//! z3 4.8.12 does not honour its own `timeout` inside `Optimize::check`
//! (a 1,000-task search ran for minutes past it), so a watchdog thread
//! polls the clock and the process's resident memory and calls
//! `Z3_interrupt` on the search's context once the current deadline has
//! passed or the memory cap is exceeded — repeatedly, because an interrupt
//! that arrives between two checks is lost. The plain-Rust stages (greedy,
//! presolve, local search) poll [`Limits::stopped`] themselves. A z3 stage
//! run in a worker process (`worker`) is killed instead, and the worker's
//! resident memory counts against the cap with this process's.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the clock and at the resident memory.
const POLL: Duration = Duration::from_millis(5);

/// Why a search stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The wall-clock deadline (`Options::timeout`) passed.
    Deadline,
    /// The process's resident memory exceeded `Options::memory_mib`.
    Memory,
}

/// The limits one synthesis runs under, shared with its watchdog.
pub(crate) struct Limits {
    started: Instant,
    /// The hard deadline, in nanoseconds after `started`.
    hard_ns: u64,
    /// The current stage's deadline (never after `hard_ns`).
    stage_ns: AtomicU64,
    memory_bytes: Option<u64>,
    /// 0: running; 1: deadline; 2: memory.
    stop: AtomicU8,
    /// The current stage's deadline has passed (the stage is cut, the
    /// search may go on with a later stage deadline).
    stage_cut: AtomicBool,
    peak_rss_bytes: AtomicU64,
    /// This process's resident memory at the last look.
    own_rss_bytes: AtomicU64,
    /// The running z3 worker's resident memory (0: none running), counted
    /// against the cap with this process's.
    worker_rss_bytes: AtomicU64,
    worker_peak_rss_bytes: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Limits {
    pub fn new(started: Instant, timeout: Duration, memory_mib: Option<u64>) -> Self {
        let hard_ns = nanos(timeout);
        Limits {
            started,
            hard_ns,
            stage_ns: AtomicU64::new(hard_ns),
            memory_bytes: memory_mib.map(|m| m.saturating_mul(1 << 20)),
            stop: AtomicU8::new(0),
            stage_cut: AtomicBool::new(false),
            peak_rss_bytes: AtomicU64::new(resident_bytes().unwrap_or(0)),
            own_rss_bytes: AtomicU64::new(resident_bytes().unwrap_or(0)),
            worker_rss_bytes: AtomicU64::new(0),
            worker_peak_rss_bytes: AtomicU64::new(0),
        }
    }

    /// The hard deadline.
    pub fn deadline(&self) -> Instant {
        self.started + Duration::from_nanos(self.hard_ns)
    }

    /// Cut the current stage at `at` (clamped to the hard deadline);
    /// `None`: the hard deadline.
    pub fn set_stage_deadline(&self, at: Option<Instant>) {
        let ns = at.map_or(self.hard_ns, |t| {
            nanos(t.saturating_duration_since(self.started)).min(self.hard_ns)
        });
        self.stage_cut.store(false, Ordering::SeqCst);
        self.stage_ns.store(ns, Ordering::SeqCst);
    }

    /// Why the whole search must stop, if it must.
    pub fn stopped(&self) -> Option<Stop> {
        match self.stop.load(Ordering::SeqCst) {
            1 => Some(Stop::Deadline),
            2 => Some(Stop::Memory),
            _ if self.elapsed_ns() >= self.hard_ns => {
                let _ = self
                    .stop
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
                self.stopped()
            }
            _ => None,
        }
    }

    /// The largest resident memory the watchdog saw, in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        self.peak_rss_bytes.load(Ordering::SeqCst) >> 20
    }

    /// The largest resident memory of a z3 worker process seen, in MiB.
    pub fn worker_peak_rss_mib(&self) -> u64 {
        self.worker_peak_rss_bytes.load(Ordering::SeqCst) >> 20
    }

    /// The memory cap, bytes.
    pub fn memory_cap_bytes(&self) -> Option<u64> {
        self.memory_bytes
    }

    /// This process's resident memory at the watchdog's last look.
    pub fn own_rss_bytes(&self) -> u64 {
        self.own_rss_bytes.load(Ordering::SeqCst)
    }

    /// A z3 worker's resident memory now (0: it ended): it counts against
    /// the cap together with this process's.
    pub fn note_worker_rss(&self, bytes: u64) {
        self.worker_rss_bytes.store(bytes, Ordering::SeqCst);
        self.worker_peak_rss_bytes
            .fetch_max(bytes, Ordering::SeqCst);
        self.check_memory();
    }

    fn check_memory(&self) {
        let total = self
            .own_rss_bytes
            .load(Ordering::SeqCst)
            .saturating_add(self.worker_rss_bytes.load(Ordering::SeqCst));
        if self.memory_bytes.is_some_and(|cap| total > cap) {
            let _ = self
                .stop
                .compare_exchange(0, 2, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    fn elapsed_ns(&self) -> u64 {
        nanos(self.started.elapsed())
    }

    /// One watchdog look: true when the solver must be interrupted.
    fn poll(&self) -> bool {
        if let Some(rss) = resident_bytes() {
            self.peak_rss_bytes.fetch_max(rss, Ordering::SeqCst);
            self.own_rss_bytes.store(rss, Ordering::SeqCst);
            self.check_memory();
        }
        if self.stopped().is_some() {
            return true;
        }
        if self.elapsed_ns() >= self.stage_ns.load(Ordering::SeqCst) {
            self.stage_cut.store(true, Ordering::SeqCst);
            return true;
        }
        false
    }
}

/// The process's resident memory (Linux `/proc/self/status`; `None`
/// elsewhere, where the memory cap is not enforced).
pub fn resident_bytes() -> Option<u64> {
    status_rss("/proc/self/status")
}

/// Another process's resident memory (Linux).
pub(crate) fn resident_bytes_of(pid: u32) -> Option<u64> {
    status_rss(&format!("/proc/{pid}/status"))
}

fn status_rss(path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Run `f` (which does its z3 work in the current thread's z3 context)
/// with a watchdog that interrupts that context whenever `limits` say so.
pub(crate) fn guarded<R>(limits: &Limits, f: impl FnOnce() -> R) -> R {
    let ctx = z3::Context::thread_local();
    let handle = ctx.handle();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watchdog = s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if limits.poll() {
                    handle.interrupt();
                }
                std::thread::park_timeout(POLL);
            }
        });
        let out = f();
        done.store(true, Ordering::SeqCst);
        watchdog.thread().unpark();
        out
    })
}
