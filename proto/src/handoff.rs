//! How an attempt gets its input. Its own module because both device
//! messages and pool actions carry it, and the pool must not depend on the
//! effect module (the effect module wraps the pool's actions instead).

use crate::ids::InstanceId;
use serde::{Deserialize, Serialize};

/// How an instance gets its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handoff {
    /// No input (a source task) or only an ordering edge.
    None,
    /// Produced on this same device.
    Local,
    /// From another device or from the cloud, relayed by the controller.
    Relay { from: InstanceId, bytes: u64 },
    /// The child runs in its parent's worker: an in-memory hand-off.
    InWorker { from: InstanceId },
    /// Through FPGA remote memory, keyed by the producing instance.
    RemoteMemory { from: InstanceId, bytes: u64 },
    /// Through storage (the serverless default).
    Storage { from: InstanceId, bytes: u64 },
}
