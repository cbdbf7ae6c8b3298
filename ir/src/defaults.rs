//! Documented defaults (HiveMind's behaviour where the paper states one).
//! Written into the IR by the checker, so later stages never invent their own.

/// HiveMind relaunches an instance slower than 2× its kind's median.
pub const STRAGGLER_FACTOR_PERMILLE: u32 = 2_000;
/// Retries of a failed task instance before it is reported failed.
pub const RETRIES: u32 = 2;
pub const RETRY_BACKOFF_US: u64 = 100_000;
/// Percentile of a requirement written without one: every instance.
pub const PERCENTILE_BP: u32 = 10_000;
/// HiveMind's liveness protocol: devices send a heartbeat every second…
pub const HEARTBEAT_PERIOD_US: u64 = 1_000_000;
/// …and a device silent for 3 s is declared failed and its work repartitioned.
pub const FAILURE_SILENCE_US: u64 = 3_000_000;
/// A mission that states no `duration` runs, and is costed, for an hour.
pub const MISSION_DURATION_US: u64 = 3_600_000_000;
/// Sweep lanes of `cover` without `lane`: 10 m, a camera's useful swath at
/// survey altitude (HiveMind's drones flew ~10 m lanes).
pub const LANE_MM: u64 = 10_000;
/// Objectives when the mission states none: meet the deadlines fastest, then save energy.
pub const OBJECTIVES: [crate::graph::Objective; 2] = [
    crate::graph::Objective::Latency,
    crate::graph::Objective::Energy,
];
/// Training work per sample of a `retrain` without `work … per sample`:
/// one fine-tuning step of a small CNN on one image. MobileNetV2 at
/// 224×224 is 300 M multiply-adds forward (Sandler et al., CVPR 2018,
/// Table 4); a training step (forward + backward) is about 3× the forward
/// pass (Kaplan et al. 2020, "Scaling Laws", §2.1: 6N vs 2N per token), and
/// a multiply-add is 2 operations: 3 × 300 M × 2 = 1.8 Gop.
pub const TRAIN_OPS_PER_SAMPLE: u64 = 1_800_000_000;
