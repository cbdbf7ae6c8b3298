//! The core's publications on the MQTT telemetry bus
//! (`hivemind-telemetry`; topic schema in `docs/telemetry.md`).

use crate::clock::MissionClock;
use hivemind_controller::{Executor, Publication, TaskGraph};
use hivemind_telemetry::payload::{
    DeviceState, Event, PositionMm, Progress, Status, TaskResult, Telemetry,
};
use hivemind_telemetry::Bus;
use std::time::{Duration, Instant};

/// How often progress counts are published at most.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub struct Publisher {
    bus: Bus,
    clock: MissionClock,
    tasks: Vec<String>,
    fleets: Vec<String>,
    completed: u64,
    failed: u64,
    last_progress: Option<Instant>,
}

pub fn device_name(d: hivemind_controller::DeviceId) -> String {
    format!("device-{}", d.0)
}

impl Publisher {
    pub fn new(bus: Bus, clock: MissionClock, graph: &TaskGraph) -> Publisher {
        Publisher {
            bus,
            clock,
            tasks: graph.tasks.iter().map(|t| t.name.clone()).collect(),
            fleets: graph.fleets.iter().map(|f| f.name.clone()).collect(),
            completed: 0,
            failed: 0,
            last_progress: None,
        }
    }

    fn task(&self, t: hivemind_ir::TaskId) -> String {
        self.tasks
            .get(t.index())
            .cloned()
            .unwrap_or_else(|| format!("task-{}", t.0))
    }

    /// Publish one publication; a full queue drops it (the bus counts it):
    /// telemetry never holds up the controller.
    pub fn publish(&mut self, p: &Publication) {
        let t_us = self.clock.now().0;
        let _ = match p {
            Publication::Telemetry {
                device,
                position,
                battery_uj,
            } => self.bus.publish(&Telemetry {
                device: device_name(*device),
                position_mm: PositionMm {
                    x: position.x_mm,
                    y: position.y_mm,
                },
                battery_uj: *battery_uj,
                t_us,
            }),
            Publication::Completed {
                instance,
                task,
                executor,
                latency_us,
            } => {
                self.completed += 1;
                self.bus.publish(&TaskResult {
                    device: match executor {
                        Executor::Device { device, .. } => device_name(*device),
                        Executor::Worker { worker } => format!("cloud-{}", worker.0),
                    },
                    instance: instance.0,
                    task: self.task(*task),
                    latency_us: *latency_us,
                    ok: true,
                    t_us,
                })
            }
            Publication::Failed { .. } => {
                self.failed += 1;
                Ok(())
            }
            Publication::DeviceFailed { device, reason, .. } => self.bus.publish(&Status {
                device: device_name(*device),
                state: DeviceState::Failed,
                reason: Some(reason.clone()),
                t_us,
            }),
            Publication::FleetLost { fleet, .. } => self.bus.publish(&Event::FleetLost {
                t_us,
                fleet: self.fleets.get(fleet.index()).cloned().unwrap_or_default(),
            }),
            Publication::Relaunched { instance, task } => self.bus.publish(&Event::Relaunch {
                t_us,
                instance: instance.0,
                task: self.task(*task),
                device: None,
                reason: "straggler".into(),
            }),
            Publication::MissionFinished => {
                self.progress(t_us, true);
                self.bus.publish(&Event::MissionFinished { t_us })
            }
            Publication::MissionAborted { reason } => self.bus.publish(&Event::MissionAborted {
                t_us,
                reason: reason.clone(),
            }),
            // In the mission report (`lost` per task), as failures are.
            Publication::Lost { .. }
            | Publication::Repartitioned { .. }
            | Publication::ModelTrained { .. } => Ok(()),
        };
        self.progress(t_us, false);
    }

    /// `status: joined` for a device whose registration the core accepted.
    pub fn joined(&mut self, device: hivemind_controller::DeviceId) {
        let _ = self.bus.publish(&Status {
            device: device_name(device),
            state: DeviceState::Joined,
            reason: None,
            t_us: self.clock.now().0,
        });
    }

    fn progress(&mut self, t_us: u64, force: bool) {
        if !force
            && self
                .last_progress
                .is_some_and(|t| t.elapsed() < PROGRESS_EVERY)
        {
            return;
        }
        self.last_progress = Some(Instant::now());
        let _ = self.bus.publish(&Progress {
            completed: self.completed,
            failed: self.failed,
            running: 0,
            t_us,
        });
    }

    /// Flush what is queued (at most `timeout`) and disconnect.
    pub fn close(self, timeout: Duration) -> u64 {
        self.bus.close(timeout).dropped
    }
}
