//! The HiveMind wire protocol, defined once for both ends of the link:
//! the controller runtime and the edge agent (`hive-agent`).
//!
//! * [`ids`], [`Handoff`], [`Strip`], [`DeviceMsg`], [`BehaviourCommand`]:
//!   the device-facing types. The controller core produces `DeviceMsg`s and
//!   re-exports these types; the agent consumes them.
//! * [`wire`]: the messages that cross a connection ([`Uplink`] from agent to
//!   controller, [`Downlink`] back), the protocol version and its
//!   negotiation, and the frame codec: one byte naming the kind, then the
//!   body in postcard (a compact, non-self-describing serde format). A
//!   frame's length prefix and the maximum frame size are the transport's
//!   (`hivemind-net`); [`wire::MAX_FRAME_BYTES`] is the limit both ends use.
//!
//! Decoding untrusted bytes never panics and never allocates more than the
//! frame holds: an unknown kind, a truncated or over-long body, trailing
//! bytes, an oversized string or an unsupported version is a
//! [`wire::DecodeError`] naming what was wrong.
//!
//! **Must not depend on** any IO runtime (tokio, quinn, rumqttc), the
//! controller, the simulator, the language crate or the synthesizer.

pub mod crc32;
pub mod device;
pub mod handoff;
pub mod ids;
pub mod wire;

pub use device::{BehaviourCommand, DeviceMsg, LocalTask, PlanFragment, Strip};
pub use handoff::Handoff;
pub use ids::{DeviceId, Epoch, Executor, GroupId, InstanceId, WorkerId};
pub use wire::{DecodeError, Downlink, Hello, Uplink};
