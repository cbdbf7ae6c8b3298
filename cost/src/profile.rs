//! Cost-model parameters: documented defaults, optionally replaced by a
//! profile file (TOML) holding measured values.
//!
//! Every number below says where it comes from. Values are integers in the
//! unit named by the key's suffix, like the IR.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// All parameters of the cost model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub drone: DeviceClassProfile,
    pub car: DeviceClassProfile,
    pub cloud: CloudProfile,
    pub fpga: FpgaProfile,
    pub tail: TailProfile,
    /// Measured values for one fleet, by fleet name.
    pub fleet: BTreeMap<String, FleetMeasured>,
    /// Measured execution times for one task, by task name.
    pub task: BTreeMap<String, TaskMeasured>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            drone: DeviceClassProfile::DRONE,
            car: DeviceClassProfile::CAR,
            cloud: CloudProfile::default(),
            fpga: FpgaProfile::default(),
            tail: TailProfile::default(),
            fleet: BTreeMap::new(),
            task: BTreeMap::new(),
        }
    }
}

/// Defaults for every fleet of a device class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceClassProfile {
    /// Useful operations per cycle of one core.
    pub ops_per_cycle_milli: u64,
    /// CPU power while computing, when the fleet does not state `power`.
    pub cpu_power_mw: u64,
    /// Power to fly or drive, spent for the whole mission.
    pub motion_power_mw: u64,
    /// Radio energy per bit sent or received.
    pub radio_nj_per_bit: u64,
    /// One-way latency of the link to the controller.
    pub link_latency_us: u64,
}

impl DeviceClassProfile {
    /// Parrot AR.Drone 2.0 class.
    /// * 1 op/cycle: conservative for a Cortex-A8 without hand-tuned NEON.
    /// * 2 W CPU: the OMAP3630 SoC under load (assumed; measure with a profile).
    /// * 55 W motion: 1500 mAh × 11.1 V = 16.65 Wh over Parrot's ~18 min flight time.
    /// * 100 nJ/bit: order of magnitude of 802.11n transmit energy including
    ///   protocol overhead (Balasubramanian et al., IMC 2009, measured ~0.1 µJ/bit).
    /// * 5 ms: one-way WiFi + QUIC to a controller on the same LAN.
    pub const DRONE: DeviceClassProfile = DeviceClassProfile {
        ops_per_cycle_milli: 1_000,
        cpu_power_mw: 2_000,
        motion_power_mw: 55_000,
        radio_nj_per_bit: 100,
        link_latency_us: 5_000,
    };
    /// Raspberry Pi 3-class robot car.
    /// * 1 op/cycle per Cortex-A53 core (conservative).
    /// * 3.7 W: a Pi 3 B with all cores busy.
    /// * 5 W motion: two small DC gear motors at walking pace (assumed).
    pub const CAR: DeviceClassProfile = DeviceClassProfile {
        ops_per_cycle_milli: 1_000,
        cpu_power_mw: 3_700,
        motion_power_mw: 5_000,
        radio_nj_per_bit: 100,
        link_latency_us: 5_000,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudProfile {
    /// Server clock when the mission's cloud states no `cpu`.
    pub cpu_hz: u64,
    /// Useful operations per cycle of one server core (vectorised kernels).
    pub ops_per_cycle_milli: u64,
    /// Memory given to each function, for GB-s billing.
    pub function_memory_mb: u64,
    /// Price when the mission states none: AWS Lambda's $0.0000166667 per GB-s.
    pub price_nusd_per_gb_s: u64,
    /// Cold start when the mission states none (OpenWhisk-class containers).
    pub cold_start_us: u64,
    /// Fraction of invocations that find a warm container (keep-alive + prewarm).
    pub warm_permille: u64,
    /// Invocation overhead through the software RPC path (controller, queue, container).
    pub rpc_overhead_us: u64,
    /// Storage round trip between two functions: latency of one put or get.
    pub storage_latency_us: u64,
    pub storage_bps: u64,
}

impl Default for CloudProfile {
    fn default() -> Self {
        CloudProfile {
            cpu_hz: 2_400_000_000,
            ops_per_cycle_milli: 4_000,
            function_memory_mb: 512,
            price_nusd_per_gb_s: 16_667,
            cold_start_us: 250_000,
            warm_permille: 900,
            rpc_overhead_us: 2_000,
            storage_latency_us: 2_000,
            storage_bps: 1_000_000_000,
        }
    }
}

/// The FPGA fabric (HiveMind: RPC offload and one-sided remote memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FpgaProfile {
    /// Invocation overhead with the network stack in hardware.
    pub rpc_overhead_us: u64,
    /// One-sided remote-memory access latency (RDMA-class).
    pub remote_memory_latency_us: u64,
    pub remote_memory_bps: u64,
}

impl Default for FpgaProfile {
    fn default() -> Self {
        FpgaProfile {
            rpc_overhead_us: 200,
            remote_memory_latency_us: 5,
            remote_memory_bps: 40_000_000_000,
        }
    }
}

/// Latency percentiles as multiples of the mean (‰), until measured
/// distributions are available. Between two points the higher one applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailProfile {
    pub p50_permille: u64,
    pub p90_permille: u64,
    pub p95_permille: u64,
    pub p99_permille: u64,
    pub p100_permille: u64,
}

impl Default for TailProfile {
    fn default() -> Self {
        TailProfile {
            p50_permille: 1_000,
            p90_permille: 1_200,
            p95_permille: 1_300,
            p99_permille: 1_500,
            p100_permille: 2_000,
        }
    }
}

impl TailProfile {
    /// Multiplier (‰) for a percentile in basis points.
    pub fn factor(&self, percentile_bp: u32) -> u64 {
        match percentile_bp {
            0..=5_000 => self.p50_permille,
            5_001..=9_000 => self.p90_permille,
            9_001..=9_500 => self.p95_permille,
            9_501..=9_900 => self.p99_permille,
            _ => self.p100_permille,
        }
    }
}

/// Measured values that replace what the mission and the class defaults give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetMeasured {
    /// Sustained operations per second of one task on one device.
    pub ops_per_s: Option<u64>,
    pub cpu_power_mw: Option<u64>,
    pub motion_power_mw: Option<u64>,
    pub radio_bps: Option<u64>,
    pub speed_mm_s: Option<u64>,
    pub link_latency_us: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskMeasured {
    /// Measured time of one activation on a device of its fleet.
    pub edge_us: Option<u64>,
    /// Measured time of one activation as a cloud function (without overheads).
    pub cloud_us: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfileError {
    #[error("profile is not valid TOML for the cost model: {0}")]
    Toml(String),
    #[error("profile: `{key}` must be greater than zero")]
    NotPositive { key: String },
    #[error("profile: `{key}` = {value} is out of range ({why})")]
    OutOfRange {
        key: String,
        value: u64,
        why: &'static str,
    },
    #[error("profile names {kind} `{name}`, which the mission does not declare")]
    UnknownName { kind: &'static str, name: String },
}

impl Profile {
    /// Parse a profile file; unknown keys, wrong types and bad values are errors.
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text)
            .map_err(|e| ProfileError::Toml(e.to_string().trim().to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Values a cost model can divide by and that are physically plausible.
    pub fn validate(&self) -> Result<(), ProfileError> {
        fn positive(key: &str, v: u64) -> Result<(), ProfileError> {
            if v == 0 {
                return Err(ProfileError::NotPositive {
                    key: key.to_string(),
                });
            }
            Ok(())
        }
        fn at_most(key: &str, v: u64, max: u64, why: &'static str) -> Result<(), ProfileError> {
            if v > max {
                return Err(ProfileError::OutOfRange {
                    key: key.to_string(),
                    value: v,
                    why,
                });
            }
            Ok(())
        }
        for (class, c) in [("drone", &self.drone), ("car", &self.car)] {
            positive(
                &format!("{class}.ops_per_cycle_milli"),
                c.ops_per_cycle_milli,
            )?;
            at_most(
                &format!("{class}.ops_per_cycle_milli"),
                c.ops_per_cycle_milli,
                1_000_000,
                "at most 1000 ops per cycle",
            )?;
            positive(&format!("{class}.cpu_power_mw"), c.cpu_power_mw)?;
            at_most(
                &format!("{class}.motion_power_mw"),
                c.motion_power_mw,
                100_000_000,
                "at most 100 kW",
            )?;
            at_most(
                &format!("{class}.radio_nj_per_bit"),
                c.radio_nj_per_bit,
                1_000_000,
                "at most 1 mJ per bit",
            )?;
            at_most(
                &format!("{class}.link_latency_us"),
                c.link_latency_us,
                60_000_000,
                "at most a minute",
            )?;
        }
        let c = &self.cloud;
        positive("cloud.cpu_hz", c.cpu_hz)?;
        positive("cloud.ops_per_cycle_milli", c.ops_per_cycle_milli)?;
        positive("cloud.function_memory_mb", c.function_memory_mb)?;
        positive("cloud.storage_bps", c.storage_bps)?;
        at_most(
            "cloud.warm_permille",
            c.warm_permille,
            1_000,
            "a fraction in ‰",
        )?;
        positive("fpga.remote_memory_bps", self.fpga.remote_memory_bps)?;
        let t = &self.tail;
        for (k, v) in [
            ("tail.p50_permille", t.p50_permille),
            ("tail.p90_permille", t.p90_permille),
            ("tail.p95_permille", t.p95_permille),
            ("tail.p99_permille", t.p99_permille),
            ("tail.p100_permille", t.p100_permille),
        ] {
            positive(k, v)?;
            at_most(k, v, 100_000, "at most 100x the mean")?;
        }
        for (name, f) in &self.fleet {
            for (k, v) in [
                ("ops_per_s", f.ops_per_s),
                ("radio_bps", f.radio_bps),
                ("speed_mm_s", f.speed_mm_s),
                ("cpu_power_mw", f.cpu_power_mw),
            ] {
                if let Some(v) = v {
                    positive(&format!("fleet.{name}.{k}"), v)?;
                }
            }
        }
        for (name, t) in &self.task {
            for (k, v) in [("edge_us", t.edge_us), ("cloud_us", t.cloud_us)] {
                if let Some(v) = v {
                    at_most(
                        &format!("task.{name}.{k}"),
                        v,
                        86_400_000_000,
                        "at most a day",
                    )?;
                }
            }
        }
        Ok(())
    }

    pub fn class(&self, class: hivemind_ir::DeviceClass) -> &DeviceClassProfile {
        match class {
            hivemind_ir::DeviceClass::Drone => &self.drone,
            hivemind_ir::DeviceClass::Car => &self.car,
        }
    }
}
