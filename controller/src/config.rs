//! Tunables of the core. Defaults follow the HiveMind paper where it states a
//! value (1 s heartbeat, 3 s to declare a device failed).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub heartbeat_period_us: u64,
    /// Silence after which a device is declared failed.
    pub suspect_after_us: u64,
    /// Period of the liveness scan (bounds how late a failure is noticed).
    pub tick_us: u64,
    /// Attempts a device runs at once; more wait in its fleet's queue.
    pub device_slots: u32,
    /// A consumer stays on its producer's device unless that device has this
    /// many more attempts queued than the least loaded one.
    pub locality_slack: u32,
    /// A failed device's sweep region is shared among at most this many of
    /// the nearest survivors (bounded so a failure costs O(1) messages in a
    /// fleet of thousands).
    pub repartition_fanout: u32,
    /// Samples of a task kind before a median/percentile straggler threshold
    /// applies.
    pub straggler_min_samples: u64,
    /// Extra attempts a straggling instance may get.
    pub max_relaunches: u32,
    /// A relative straggler threshold (a multiple of the median, a
    /// percentile) is never below this: for work of a few hundred µs,
    /// scheduling and network jitter, not a slow executor, decide who
    /// finishes last, and relaunching it only adds load (the network
    /// benchmark saw 7–31 % of a no-op function's attempts relaunched).
    /// An absolute threshold (`on straggler(50 ms)`) is taken as stated.
    #[serde(default = "default_straggler_floor_us")]
    pub straggler_floor_us: u64,
    /// After the mission ends, work still unfinished this long is failed
    /// with a reason (so every accepted instance is resolved).
    pub drain_timeout_us: u64,
    /// Admission control: while this many instances are unresolved (the
    /// devices or the pool have fallen behind), new activations are shed
    /// and counted instead of queued without bound.
    #[serde(default = "default_max_unresolved")]
    pub max_unresolved_instances: u64,
    /// The phases of a per-device periodic source are at least this far
    /// apart (`ir::activation::Phasing`).
    #[serde(default = "default_phase_gap_us")]
    pub phase_gap_us: u64,
    /// A source its devices fire by themselves
    /// (`ir::activation::fired_on_device`) is granted this far ahead:
    /// each device holds the ids of its firings of the next `grant_lead_us`
    /// (at least two, at most `device_slots`), so a grant delayed by a busy
    /// radio or a slow commit still arrives before its instant. A device
    /// with `device_slots` firings unreported, or one older than this, is
    /// granted no more until it reports (backpressure: it fires what it
    /// holds, then skips), which also bounds what a device that died
    /// takes with it.
    #[serde(default = "default_grant_lead_us")]
    pub grant_lead_us: u64,
    pub pool: PoolConfig,
}

fn default_phase_gap_us() -> u64 {
    1_000
}

fn default_grant_lead_us() -> u64 {
    400_000
}

fn default_max_unresolved() -> u64 {
    1_000_000
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Invocations one worker runs at once (a CPU-heavy function's worker:
    /// one, see `heavy_ops`).
    pub concurrency: u32,
    /// An idle worker is stopped after this long (delayed termination).
    pub keep_alive_us: u64,
    /// At most this many workers per function (and never more than the
    /// cloud has cores: a worker is pinned to one).
    pub max_workers_per_function: u32,
    /// Start another worker when the oldest queued invocation waited this long.
    pub scale_up_delay_us: u64,
    /// A function whose task does at least this much work per invocation is
    /// CPU-heavy: its workers run one invocation at a time, and two such
    /// workers never share a core if avoidable.
    pub heavy_ops: u64,
    /// Used when the mission declares no cloud.
    pub default_servers: u32,
    pub default_cores_per_server: u32,
}

fn default_straggler_floor_us() -> u64 {
    5_000
}

impl Default for Config {
    fn default() -> Config {
        Config {
            heartbeat_period_us: hivemind_ir::defaults::HEARTBEAT_PERIOD_US,
            suspect_after_us: hivemind_ir::defaults::FAILURE_SILENCE_US,
            tick_us: 100_000,
            device_slots: 4,
            locality_slack: 2,
            repartition_fanout: 4,
            straggler_min_samples: 8,
            max_relaunches: 1,
            straggler_floor_us: default_straggler_floor_us(),
            drain_timeout_us: 60_000_000,
            max_unresolved_instances: default_max_unresolved(),
            phase_gap_us: default_phase_gap_us(),
            grant_lead_us: default_grant_lead_us(),
            pool: PoolConfig::default(),
        }
    }
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            // OpenWhisk's default: one invocation per container at a time.
            // A task's `work` is CPU time, and a worker is pinned to one
            // core: two invocations in it would only share that core.
            concurrency: 1,
            keep_alive_us: 10_000_000,
            max_workers_per_function: 4_096,
            scale_up_delay_us: 50_000,
            heavy_ops: 1_000_000_000,
            default_servers: 1,
            default_cores_per_server: 8,
        }
    }
}
