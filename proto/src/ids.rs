//! Identifiers the controller hands out or receives.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$m:meta])* $name:ident($t:ty)) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $t);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", stringify!($name).chars().next().unwrap_or('?').to_ascii_lowercase(), self.0)
            }
        }
    };
}

id!(
    /// A vehicle, as named by its agent (stable across reconnects).
    DeviceId(u32)
);
id!(
    /// One registration of a device. A device that rejoins gets a new epoch;
    /// messages from an older epoch are stale.
    Epoch(u32)
);
id!(
    /// One task instance: a unit of work whose result is recorded exactly once.
    InstanceId(u64)
);
id!(
    /// A serverless worker (container) of the function pool.
    WorkerId(u32)
);
id!(
    /// One activation of a task: the instances created together (fan-out
    /// siblings or one periodic round) that a `gather` consumer waits for.
    GroupId(u64)
);

/// Who runs an attempt of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    Device { device: DeviceId, epoch: Epoch },
    Worker { worker: WorkerId },
}

impl std::fmt::Display for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Executor::Device { device, epoch } => write!(f, "{device}@{epoch}"),
            Executor::Worker { worker } => write!(f, "{worker}"),
        }
    }
}
