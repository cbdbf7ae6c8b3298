//! The world's physical parameters for one mission and plan, taken from
//! the cost model so that the simulator and the synthesizer's predictions
//! rest on the same figures (one source of truth): per task, what it
//! uploads; per fleet, each device's link, cores and power; for the cloud,
//! the storage and FPGA paths. The simulator then *measures* what these
//! figures produce under queueing, contention and faults — the cost model
//! only adds them up.

use hivemind_cost::{coverage::vehicle_params, CostModel, DeviceFigures};
use hivemind_ir::activation::{activation, Width};
use hivemind_ir::plan::Plan;
use hivemind_ir::{DeviceClass, PointMm};
use hivemind_vehicle::VehicleParams;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Physics {
    pub tasks: Vec<TaskPhysics>,
    pub fleets: Vec<FleetPhysics>,
    pub cloud: CloudPhysics,
    /// The controller's journal commit and the transport's bytes on the
    /// air (the profile's `[runtime]`).
    pub runtime: hivemind_cost::RuntimeProfile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPhysics {
    /// Bytes one result sends up its device's link: the sum over the
    /// plan's channels from this task that leave the device (uplink or
    /// device-to-device), as the cost model and the core count them; 0
    /// when every consumer is on the device or there is none (the result
    /// is then a control message).
    pub upload_bytes: u64,
    /// A per-item child gets its item, not the whole list: its input is
    /// the hand-off's bytes ÷ this (the list's stated length; 1 otherwise).
    pub split: u32,
    /// Items in each result: its output list's stated length (1 for a
    /// single value) — the cost model's worst case, which drives per-item
    /// fan-out, gathers and training samples downstream.
    pub items: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPhysics {
    pub class: DeviceClass,
    pub figures: DeviceFigures,
    /// `radio … shared`: one channel for the whole fleet.
    pub shared_radio: bool,
    /// `range`: beyond this distance from home the link is down.
    pub range_mm: Option<u64>,
    pub cores: u32,
    pub home: PointMm,
    /// How its devices move and what motion costs them (the cost model's
    /// vehicle parameters; a fleet without a speed keeps the class's).
    pub vehicle: VehicleParams,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudPhysics {
    pub storage_latency_us: u64,
    pub storage_bps: u64,
    /// Remote-memory hand-offs cost what the cost model charges: the
    /// FPGA cycle model's figure for the profile's variant and clock.
    pub fpga: hivemind_cost::FpgaProfile,
}

impl Physics {
    pub fn new(model: &CostModel, plan: &Plan) -> Physics {
        let graph = model.graph;
        let mut upload = vec![0u64; graph.tasks.len()];
        for c in &plan.channels {
            if c.kind.is_uplink() {
                if let Some(u) = upload.get_mut(c.from.index()) {
                    *u = u.saturating_add(c.bytes);
                }
            }
        }
        let tasks = graph
            .tasks
            .iter()
            .zip(upload)
            .map(|(t, upload_bytes)| TaskPhysics {
                upload_bytes,
                split: match activation(graph, t.id).width {
                    Width::PerItem { max, .. } => max.max(1),
                    _ => 1,
                },
                items: t.outputs.iter().map(|o| o.ty.items()).max().unwrap_or(1),
            })
            .collect();
        let fleets = graph
            .fleets
            .iter()
            .map(|f| FleetPhysics {
                class: f.class,
                figures: model.device_figures(f.id),
                shared_radio: f.radio_shared,
                range_mm: f.radio_range_mm,
                cores: f.cores.max(1),
                home: f.home.unwrap_or(PointMm { x_mm: 0, y_mm: 0 }),
                vehicle: {
                    let figures = model.device_figures(f.id);
                    let v = vehicle_params(f, &model.profile).unwrap_or(VehicleParams {
                        moving_mw: figures.motion_power_mw,
                        hover_mw: match f.class {
                            DeviceClass::Drone => figures.motion_power_mw,
                            DeviceClass::Car => 0,
                        },
                        ..VehicleParams::of(f.class)
                    });
                    VehicleParams {
                        battery_uj: f.battery_uj,
                        ..v
                    }
                },
            })
            .collect();
        let p = &model.profile;
        Physics {
            tasks,
            fleets,
            cloud: CloudPhysics {
                storage_latency_us: p.cloud.storage_latency_us,
                storage_bps: p.cloud.storage_bps,
                fpga: p.fpga,
            },
            runtime: p.runtime,
        }
    }
}

/// `bytes` at `bps` plus `latency_us`, rounded up, saturating.
/// How long a cloud invocation waits for its input before it runs: a
/// storage hand-off is a put and a get, remote memory one read; a per-item
/// child fetches only its share (`split`). Relayed and in-worker inputs are
/// already there. The one rule for the simulator and the runtime's
/// validation mode.
pub fn fetch_us(cloud: &CloudPhysics, input: &hivemind_controller::Handoff, split: u64) -> u64 {
    use hivemind_controller::Handoff;
    let share = |bytes: u64| bytes / split.max(1);
    match *input {
        Handoff::Storage { bytes, .. } => {
            transfer_us(cloud.storage_latency_us, share(bytes), cloud.storage_bps).saturating_mul(2)
        }
        Handoff::RemoteMemory { bytes, .. } => {
            u64::try_from(cloud.fpga.remote_memory_us(share(bytes))).unwrap_or(u64::MAX)
        }
        Handoff::None | Handoff::Local | Handoff::InWorker { .. } | Handoff::Relay { .. } => 0,
    }
}

pub fn transfer_us(latency_us: u64, bytes: u64, bps: u64) -> u64 {
    crate::radio::air_us(bytes, u128::from(bps)).saturating_add(latency_us)
}
