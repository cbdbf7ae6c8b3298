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
    pub runtime: RuntimeProfile,
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
            runtime: RuntimeProfile::default(),
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
    /// Power to fly or drive, spent while moving (`coverage::moving_us`).
    pub motion_power_mw: u64,
    /// Acceleration (and braking) limit: every segment of a sweep, route
    /// or patrol entry is flown from rest to rest (`hivemind_vehicle`).
    pub accel_mm_s2: u64,
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
    /// * 2.5 m/s²: ArduCopter's default waypoint acceleration (`WPNAV_ACCEL`),
    ///   the vehicle model's drone default.
    /// * 100 nJ/bit: order of magnitude of 802.11n transmit energy including
    ///   protocol overhead (Balasubramanian et al., IMC 2009, measured ~0.1 µJ/bit).
    /// * 5 ms: one-way WiFi + QUIC to a controller on the same LAN.
    pub const DRONE: DeviceClassProfile = DeviceClassProfile {
        ops_per_cycle_milli: 1_000,
        cpu_power_mw: 2_000,
        motion_power_mw: 55_000,
        accel_mm_s2: hivemind_vehicle::VehicleParams::DRONE.accel_mm_s2,
        radio_nj_per_bit: 100,
        link_latency_us: 5_000,
    };
    /// Raspberry Pi 3-class robot car.
    /// * 1 op/cycle per Cortex-A53 core (conservative).
    /// * 3.7 W: a Pi 3 B with all cores busy.
    /// * 5 W motion: two small DC gear motors at walking pace (assumed).
    /// * 1 m/s²: a small ArduPilot Rover's acceleration and braking limits
    ///   (0.75 and 1.5 m/s² on the AION R1 frame), the vehicle model's car default.
    pub const CAR: DeviceClassProfile = DeviceClassProfile {
        ops_per_cycle_milli: 1_000,
        cpu_power_mw: 3_700,
        motion_power_mw: 5_000,
        accel_mm_s2: hivemind_vehicle::VehicleParams::CAR.accel_mm_s2,
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
/// What the fabric itself takes comes from the accelerator's cycle model
/// (`hivemind_fpga::timing`, checked cycle for cycle against the RTL) for
/// the loaded bitstream variant at its clock; only the host software left
/// in an invocation is a constant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FpgaProfile {
    /// Host software left in an invocation once the network stack is in
    /// hardware (dispatch to the function); the fabric's own RPC cycles are
    /// added from the cycle model. HiveMind (ISCA 2022, §5) reports the
    /// offload cutting the invocation path about tenfold: 2 ms → 200 µs.
    pub rpc_overhead_us: u64,
    /// The bitstream loaded (`hivemind_fpga::VARIANTS`, by name): its data
    /// path width and memory size give the cycle counts. Default `test64`:
    /// 10 GbE, 64 bits — the configuration the RTL is tested in.
    pub variant: FpgaVariant,
    /// The fabric's clock in kHz; 0: the variant's target clock (156.25
    /// MHz for `test64`).
    pub clock_khz: u64,
}

impl Default for FpgaProfile {
    fn default() -> Self {
        FpgaProfile {
            rpc_overhead_us: 200,
            variant: FpgaVariant::default(),
            clock_khz: 0,
        }
    }
}

/// Bytes of an invocation's RPC argument through the fabric: a reference
/// to its input (region, offset, length); the data itself moves by remote
/// memory.
pub const FPGA_RPC_ARGUMENT_BYTES: u32 = 16;

impl FpgaProfile {
    /// The clock the cycle counts are converted at, in kHz.
    pub fn clock(&self) -> u32 {
        match self.clock_khz {
            0 => self.variant.0.target_clock_khz,
            k => u32::try_from(k).unwrap_or(u32::MAX),
        }
    }

    /// A hand-off of `bytes` between two functions through remote memory
    /// (the producer's WRITE and the consumer's READ, chunked by the
    /// on-chip memory): the cycle model's figure in µs, rounded up.
    pub fn remote_memory_us(&self, bytes: u64) -> u128 {
        let cycles = hivemind_fpga::timing::handoff_cycles(&self.variant.0.params, bytes);
        hivemind_fpga::timing::cycles_to_us_ceil(cycles, self.clock())
    }

    /// An invocation's overhead with the network stack in hardware: the
    /// host's part plus the fabric's RPC cycles (µs, rounded up).
    pub fn invocation_overhead_us(&self) -> u128 {
        let cycles =
            hivemind_fpga::timing::rpc_cycles(&self.variant.0.params, FPGA_RPC_ARGUMENT_BYTES);
        u128::from(self.rpc_overhead_us)
            + hivemind_fpga::timing::cycles_to_us_ceil(cycles, self.clock())
    }
}

/// A bitstream variant, named in a profile by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpgaVariant(pub &'static hivemind_fpga::Variant);

impl Default for FpgaVariant {
    fn default() -> Self {
        FpgaVariant(&hivemind_fpga::VARIANTS[0])
    }
}

impl Serialize for FpgaVariant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for FpgaVariant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        hivemind_fpga::VARIANTS
            .iter()
            .find(|v| v.name == name)
            .map(FpgaVariant)
            .ok_or_else(|| {
                let known: Vec<&str> = hivemind_fpga::VARIANTS.iter().map(|v| v.name).collect();
                serde::de::Error::custom(format!(
                    "unknown FPGA variant `{name}` (known: {})",
                    known.join(", ")
                ))
            })
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

/// What the network runtime adds to every hop through the controller and
/// every transfer over a radio: the simulator charges both, so that its
/// runs match real ones (`hivemind validate`). The cost model does not
/// charge them yet; the simulator's report says so where they matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeProfile {
    /// One group commit of the controller's journal (append + fsync): the
    /// effects of an event wait for it (journal before acknowledgement).
    /// Default: the runtime driver's own commit median as `hivemind
    /// validate` measured it on this project's build machine (ext4 on a
    /// virtual disk: 0.34–0.44 ms), rounded up; `validate` always charges
    /// the median of its own real run.
    pub journal_commit_us: u64,
    /// Bytes the transport adds on the air per 1000 bytes of payload
    /// (QUIC short headers, AEAD tags, UDP/IP headers, acknowledgements).
    /// Default: about 40 bytes per 1,200–1,452-byte datagram.
    pub transport_overhead_permille: u64,
}

impl Default for RuntimeProfile {
    fn default() -> Self {
        RuntimeProfile {
            journal_commit_us: 500,
            transport_overhead_permille: 30,
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
    /// Cruise speed, replacing the mission's `speed`.
    pub speed_mm_s: Option<u64>,
    /// Acceleration limit, replacing the class's.
    pub accel_mm_s2: Option<u64>,
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
    /// Parse a profile file; unknown keys, wrong types and bad values are
    /// errors. Every section is partial: the keys it gives replace those
    /// of the defaults (`[drone] motion_power_mw = 48000` keeps the
    /// drone's other parameters).
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let toml_err =
            |e: &dyn std::fmt::Display| ProfileError::Toml(e.to_string().trim().to_string());
        let given: toml::Table = toml::from_str(text).map_err(|e| toml_err(&e))?;
        let mut merged = toml::Table::try_from(Profile::default()).map_err(|e| toml_err(&e))?;
        merge(&mut merged, given);
        let p: Profile = merged.try_into().map_err(|e| toml_err(&e))?;
        p.validate()?;
        Ok(p)
    }

    /// Every value within its plausible range (the ranges are documented
    /// in `examples/profiles/defaults.toml`), tails non-decreasing.
    pub fn validate(&self) -> Result<(), ProfileError> {
        fn within(
            key: &str,
            v: u64,
            min: u64,
            max: u64,
            why: &'static str,
        ) -> Result<(), ProfileError> {
            if v == 0 && min > 0 {
                return Err(ProfileError::NotPositive {
                    key: key.to_string(),
                });
            }
            if v < min || v > max {
                return Err(ProfileError::OutOfRange {
                    key: key.to_string(),
                    value: v,
                    why,
                });
            }
            Ok(())
        }
        const MINUTE_US: u64 = 60_000_000;
        // What the vehicle model accepts.
        const ACCEL: (u64, u64) = hivemind_vehicle::ACCEL_MM_S2;
        const DAY_US: u64 = 86_400_000_000;
        for (class, c) in [("drone", &self.drone), ("car", &self.car)] {
            let k = |name: &str| format!("{class}.{name}");
            within(
                &k("ops_per_cycle_milli"),
                c.ops_per_cycle_milli,
                1,
                1_000_000,
                "1/1000 to 1000 ops per cycle",
            )?;
            within(
                &k("cpu_power_mw"),
                c.cpu_power_mw,
                1,
                1_000_000,
                "1 mW to 1 kW",
            )?;
            within(
                &k("motion_power_mw"),
                c.motion_power_mw,
                0,
                100_000_000,
                "at most 100 kW",
            )?;
            within(
                &k("accel_mm_s2"),
                c.accel_mm_s2,
                ACCEL.0,
                ACCEL.1,
                "1 mm/s² to 10⁶ m/s²",
            )?;
            within(
                &k("radio_nj_per_bit"),
                c.radio_nj_per_bit,
                0,
                1_000_000,
                "at most 1 mJ per bit",
            )?;
            within(
                &k("link_latency_us"),
                c.link_latency_us,
                0,
                MINUTE_US,
                "at most a minute",
            )?;
        }
        let c = &self.cloud;
        within(
            "cloud.cpu_hz",
            c.cpu_hz,
            1_000_000,
            10_000_000_000,
            "1 MHz to 10 GHz",
        )?;
        within(
            "cloud.ops_per_cycle_milli",
            c.ops_per_cycle_milli,
            1,
            1_000_000,
            "1/1000 to 1000 ops per cycle",
        )?;
        within(
            "cloud.function_memory_mb",
            c.function_memory_mb,
            1,
            1 << 20,
            "1 MB to 1 TB",
        )?;
        within(
            "cloud.price_nusd_per_gb_s",
            c.price_nusd_per_gb_s,
            0,
            1_000_000_000,
            "at most $1 per GB-s",
        )?;
        within(
            "cloud.cold_start_us",
            c.cold_start_us,
            0,
            10 * MINUTE_US,
            "at most 10 minutes",
        )?;
        within(
            "cloud.warm_permille",
            c.warm_permille,
            0,
            1_000,
            "a fraction in ‰",
        )?;
        within(
            "cloud.rpc_overhead_us",
            c.rpc_overhead_us,
            0,
            MINUTE_US,
            "at most a minute",
        )?;
        within(
            "cloud.storage_latency_us",
            c.storage_latency_us,
            0,
            MINUTE_US,
            "at most a minute",
        )?;
        within(
            "cloud.storage_bps",
            c.storage_bps,
            1_000,
            1_000_000_000_000,
            "1 kbit/s to 1 Tbit/s",
        )?;
        let f = &self.fpga;
        within(
            "fpga.rpc_overhead_us",
            f.rpc_overhead_us,
            0,
            MINUTE_US,
            "at most a minute",
        )?;
        if f.clock_khz != 0 {
            within(
                "fpga.clock_khz",
                f.clock_khz,
                1_000,
                1_000_000,
                "1 MHz to 1 GHz, or 0 for the variant's target clock",
            )?;
        }
        let t = &self.tail;
        let tails = [
            ("tail.p50_permille", t.p50_permille),
            ("tail.p90_permille", t.p90_permille),
            ("tail.p95_permille", t.p95_permille),
            ("tail.p99_permille", t.p99_permille),
            ("tail.p100_permille", t.p100_permille),
        ];
        for (k, v) in tails {
            within(k, v, 1, 100_000, "1/1000 to 100x the mean")?;
        }
        for w in tails.windows(2) {
            if w[1].1 < w[0].1 {
                return Err(ProfileError::OutOfRange {
                    key: w[1].0.to_string(),
                    value: w[1].1,
                    why: "a higher percentile cannot be faster than a lower one",
                });
            }
        }
        within(
            "runtime.journal_commit_us",
            self.runtime.journal_commit_us,
            0,
            MINUTE_US,
            "at most a minute",
        )?;
        within(
            "runtime.transport_overhead_permille",
            self.runtime.transport_overhead_permille,
            0,
            1_000,
            "at most as many bytes again",
        )?;
        for (name, f) in &self.fleet {
            let k = |key: &str| format!("fleet.{name}.{key}");
            for (key, v, min, max, why) in [
                (
                    "ops_per_s",
                    f.ops_per_s,
                    1,
                    1_000_000_000_000_000,
                    "1 op/s to 10^15 op/s",
                ),
                ("cpu_power_mw", f.cpu_power_mw, 1, 1_000_000, "1 mW to 1 kW"),
                (
                    "motion_power_mw",
                    f.motion_power_mw,
                    0,
                    100_000_000,
                    "at most 100 kW",
                ),
                (
                    "radio_bps",
                    f.radio_bps,
                    1,
                    1_000_000_000_000,
                    "1 bit/s to 1 Tbit/s",
                ),
                ("speed_mm_s", f.speed_mm_s, 1, 1_000_000, "1 mm/s to 1 km/s"),
                (
                    "accel_mm_s2",
                    f.accel_mm_s2,
                    ACCEL.0,
                    ACCEL.1,
                    "1 mm/s² to 10⁶ m/s²",
                ),
                (
                    "link_latency_us",
                    f.link_latency_us,
                    0,
                    MINUTE_US,
                    "at most a minute",
                ),
            ] {
                if let Some(v) = v {
                    within(&k(key), v, min, max, why)?;
                }
            }
        }
        for (name, t) in &self.task {
            for (k, v) in [("edge_us", t.edge_us), ("cloud_us", t.cloud_us)] {
                if let Some(v) = v {
                    within(&format!("task.{name}.{k}"), v, 0, DAY_US, "at most a day")?;
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

/// `given` over `base`, table by table: a key `given` holds replaces the
/// same key of `base`; a sub-table merges into the same sub-table.
fn merge(base: &mut toml::Table, given: toml::Table) {
    for (k, v) in given {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(g)) => merge(b, g),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_profile_works_verbatim_and_keeps_unstated_defaults() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").expect("README has a toml block") + 8;
        let end = start + readme[start..].find("```").expect("closed");
        let p = Profile::from_toml(&readme[start..end]).expect("README profile");
        assert_eq!(p.drone.motion_power_mw, 48_000);
        assert_eq!(
            p.drone.ops_per_cycle_milli,
            DeviceClassProfile::DRONE.ops_per_cycle_milli
        );
        assert_eq!(p.car, DeviceClassProfile::CAR);
        assert_eq!(p.drone.accel_mm_s2, DeviceClassProfile::DRONE.accel_mm_s2);
        assert_eq!(p.cloud.rpc_overhead_us, 1_500);
        assert_eq!(p.cloud.cpu_hz, CloudProfile::default().cpu_hz);
        assert_eq!(p.fleet["drones"].radio_bps, Some(12_000_000));
        assert_eq!(p.task["detect"].edge_us, Some(850_000));
    }

    #[test]
    fn out_of_range_values_unknown_keys_and_wrong_types_are_named() {
        let err = |t: &str| Profile::from_toml(t).expect_err(t).to_string();
        assert!(
            err("[drone]\nmotion_power_mw = 9200000000000000000").contains("drone.motion_power_mw")
        );
        assert!(
            err("[cloud]\nrpc_overhead_us = 9223372036854775807").contains("cloud.rpc_overhead_us")
        );
        // Beyond a TOML integer (i64): the parser's own error, still no wrap.
        assert!(err("[cloud]\nrpc_overhead_us = 18446744073709551615").contains("TOML"));
        assert!(err("[cloud]\nprice_nusd_per_gb_s = 5000000000").contains("at most $1 per GB-s"));
        assert!(err("[cloud]\ncpu_hz = 0").contains("greater than zero"));
        assert!(err("[tail]\np99_permille = 1100").contains("tail.p99_permille"));
        assert!(
            err("[runtime]\njournal_commit_us = 61000000").contains("runtime.journal_commit_us")
        );
        assert!(err("[runtime]\ntransport_overhead_permille = 1001")
            .contains("runtime.transport_overhead_permille"));
        assert!(err("[drone]\nmotion_powr_mw = 1").contains("motion_powr_mw"));
        assert!(err("[drone]\nmotion_power_mw = -5").contains("invalid"));
        assert!(err("[drone]\nmotion_power_mw = \"fast\"").contains("invalid"));
        assert!(err("[fleet.d]\nspeed_mm_s = 0").contains("fleet.d.speed_mm_s"));
        assert!(err("[car]\naccel_mm_s2 = 0").contains("car.accel_mm_s2"));
        assert!(err("[fleet.d]\naccel_mm_s2 = 2000000000").contains("fleet.d.accel_mm_s2"));
        assert!(err("drone = 5").contains("invalid"));
        assert!(err("[drone").contains("TOML"));
    }

    #[test]
    fn the_defaults_file_is_the_defaults() {
        let file = include_str!("../../examples/profiles/defaults.toml");
        assert_eq!(
            Profile::from_toml(file).expect("defaults.toml"),
            Profile::default()
        );
    }
}
