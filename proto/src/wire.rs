//! Messages on a controller ↔ agent connection and their codec.
//!
//! # Frames
//!
//! A frame's body (what the transport's length prefix delimits) is the
//! postcard encoding of one [`Uplink`] or [`Downlink`]: its first byte is
//! the variant's index (the *kind*), the rest the variant's fields in
//! order. Variants are only ever appended, so kinds are stable; a kind this
//! build does not know is refused as [`DecodeError::UnknownKind`] before
//! anything else is read.
//!
//! # Versions
//!
//! The agent's first frame is [`Uplink::Hello`], which starts with the
//! range of protocol versions it speaks (`min_version`, `max_version`, both
//! varints). [`decode_uplink`] reads that range before the rest of the
//! Hello, so a peer from any version gets a clear refusal
//! ([`DecodeError::UnsupportedVersion`]) instead of a garbled one. The
//! controller answers [`Downlink::Accepted`] with the highest common
//! version ([`negotiate`]) or [`Downlink::Refused`] with a reason.
//!
//! # Trust
//!
//! Nothing in a decoded frame is trusted beyond its shape: the device a
//! connection speaks for comes from its client certificate, not from the
//! frame; names and reasons are bounded ([`MAX_NAME_BYTES`],
//! [`MAX_REASON_BYTES`]); a frame over [`MAX_FRAME_BYTES`] is refused by
//! the transport before it is read and by [`encode_uplink`] /
//! [`encode_downlink`] before it is sent.

use crate::device::{DeviceMsg, PlanFragment};
use crate::ids::{DeviceId, Epoch, InstanceId};
use hivemind_ir::{PointMm, TaskId};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks best.
pub const VERSION: u16 = 4;
/// The oldest protocol version this build still speaks.
pub const MIN_VERSION: u16 = 4;
/// The largest frame body either end sends or accepts (16 MiB): a 640×360
/// RGB frame is 0.7 MB, so data values fit with room; bigger objects go
/// through the content store, not the control connection.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Room left in a frame for everything but a payload.
pub const MAX_PAYLOAD_BYTES: usize = MAX_FRAME_BYTES - 64 * 1024;
/// Longest mission, fleet or agent name accepted in a Hello.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest reason (errors, refusals, shutdowns) accepted.
pub const MAX_REASON_BYTES: usize = 4096;
/// Longest W3C `traceparent` accepted. Version 00 is 55 characters; the
/// rest is room for the longer headers later versions may define.
pub const MAX_TRACEPARENT_BYTES: usize = 128;
/// ALPN protocol name of the controller link.
pub const ALPN: &[u8] = b"hivemind/1";

/// The agent's first frame: who it is (a claim the controller checks
/// against the client certificate), where it is and what it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Oldest protocol version the agent speaks. Must stay the first field.
    pub min_version: u16,
    /// Newest protocol version the agent speaks. Must stay the second field.
    pub max_version: u16,
    pub device: DeviceId,
    /// The mission the agent was deployed for; a controller running another
    /// mission refuses it.
    pub mission: String,
    /// The fleet (by its name in the mission) the device belongs to.
    pub fleet: String,
    pub battery_uj: u64,
    pub position: PointMm,
    /// Free text, e.g. `hive-agent 0.1.0`, for logs.
    pub agent: String,
    /// Results the agent holds from before (buffered while disconnected),
    /// for logs and the operator: they follow as ordinary `Result` frames.
    pub buffered_results: u32,
}

/// Agent → controller.
///
/// Variants are append-only: the index of each is its kind on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Uplink {
    /// Kind 0: the first frame of every connection.
    Hello(Hello),
    /// Kind 1: alive, speaking for registration `epoch`.
    Heartbeat { epoch: Epoch },
    /// Kind 2: where the vehicle is and what its battery holds.
    Telemetry {
        epoch: Epoch,
        position: PointMm,
        battery_uj: u64,
    },
    /// Kind 3: the result of an attempt of `instance`. `epoch` is the
    /// registration that ran it (a result replayed after a reconnect keeps
    /// the epoch it was produced under); `items` the output's list length.
    Result {
        epoch: Epoch,
        instance: InstanceId,
        items: u32,
        model_version: u32,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        /// W3C `traceparent` of the span that produced the result (empty:
        /// not traced), so the result joins its instance's trace.
        traceparent: String,
    },
    /// Kind 4: the attempt of `instance` failed.
    Error {
        epoch: Epoch,
        instance: InstanceId,
        reason: String,
        /// As in `Result`.
        traceparent: String,
    },
    /// Kind 5: version `version` of `task`'s model is loaded.
    ModelLoaded {
        epoch: Epoch,
        task: TaskId,
        version: u32,
    },
    /// Kind 6: the device leaves (landed, shutting down).
    Goodbye { epoch: Epoch },
}

/// Controller → agent.
///
/// Variants are append-only: the index of each is its kind on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Downlink {
    /// Kind 0: the Hello is accepted; speak `version` from now on. The
    /// registration itself follows as `Device { msg: Registered, .. }`.
    Accepted {
        version: u16,
        mission: String,
        fragment: Box<PlanFragment>,
    },
    /// Kind 1: the Hello is refused; the connection closes.
    Refused { reason: String },
    /// Kind 2: a message of the core for registration `epoch`. `payload`
    /// is the input data of a `RunTask` whose input is relayed (empty
    /// otherwise).
    Device {
        epoch: Epoch,
        msg: DeviceMsg,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
        /// W3C `traceparent` of the controller's span for a `RunTask`
        /// (empty: not traced); the agent runs the task in a child span.
        traceparent: String,
    },
    /// Kind 3: the controller is going away (operator stop, shutdown);
    /// buffer results and reconnect later.
    Shutdown { reason: String },
}

const UPLINK_KINDS: u8 = 7;
const DOWNLINK_KINDS: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("unknown frame kind {kind} (this build knows kinds 0..{known})")]
    UnknownKind { kind: u8, known: u8 },
    #[error("malformed {what} frame: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("{extra} unexpected bytes after a {what} frame")]
    Trailing { what: &'static str, extra: usize },
    #[error(
        "peer speaks protocol versions {peer_min}..={peer_max}, this build {MIN_VERSION}..={VERSION}"
    )]
    UnsupportedVersion { peer_min: u16, peer_max: u16 },
    #[error("{field} is {len} bytes, more than the {max} allowed")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} bytes exceeds the frame maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("cannot encode message: {0}")]
    Codec(String),
}

/// The highest version both sides speak, if any.
pub fn negotiate(peer_min: u16, peer_max: u16) -> Result<u16, DecodeError> {
    let high = peer_max.min(VERSION);
    let low = peer_min.max(MIN_VERSION);
    if peer_min <= peer_max && low <= high {
        Ok(high)
    } else {
        Err(DecodeError::UnsupportedVersion { peer_min, peer_max })
    }
}

impl Uplink {
    /// The kind byte on the wire (for logs and metrics).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Uplink::Hello(_) => "hello",
            Uplink::Heartbeat { .. } => "heartbeat",
            Uplink::Telemetry { .. } => "telemetry",
            Uplink::Result { .. } => "result",
            Uplink::Error { .. } => "error",
            Uplink::ModelLoaded { .. } => "model_loaded",
            Uplink::Goodbye { .. } => "goodbye",
        }
    }
}

impl Downlink {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Downlink::Accepted { .. } => "accepted",
            Downlink::Refused { .. } => "refused",
            Downlink::Device { .. } => "device",
            Downlink::Shutdown { .. } => "shutdown",
        }
    }
}

impl Hello {
    /// A Hello for this build's versions.
    pub fn new(
        device: DeviceId,
        mission: &str,
        fleet: &str,
        battery_uj: u64,
        position: PointMm,
    ) -> Hello {
        Hello {
            min_version: MIN_VERSION,
            max_version: VERSION,
            device,
            mission: mission.to_owned(),
            fleet: fleet.to_owned(),
            battery_uj,
            position,
            agent: concat!("hive-agent ", env!("CARGO_PKG_VERSION")).to_owned(),
            buffered_results: 0,
        }
    }
}

fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, EncodeError> {
    let bytes = postcard::to_stdvec(msg).map_err(|e| EncodeError::Codec(e.to_string()))?;
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(EncodeError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(bytes)
}

pub fn encode_uplink(msg: &Uplink) -> Result<Vec<u8>, EncodeError> {
    encode(msg)
}

pub fn encode_downlink(msg: &Downlink) -> Result<Vec<u8>, EncodeError> {
    encode(msg)
}

fn check_frame(bytes: &[u8], known: u8) -> Result<u8, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    let kind = *bytes.first().ok_or(DecodeError::Empty)?;
    // A kind below 128 is one varint byte; anything at or above `known`
    // (including a multi-byte varint) is a kind this build does not know.
    if kind >= known {
        return Err(DecodeError::UnknownKind { kind, known });
    }
    Ok(kind)
}

fn decode_whole<'a, T: Deserialize<'a>>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<T, DecodeError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| DecodeError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(DecodeError::Trailing {
            what,
            extra: rest.len(),
        });
    }
    Ok(value)
}

fn bounded(field: &'static str, s: &str, max: usize) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::FieldTooLong {
            field,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

/// Decode one agent → controller frame body.
pub fn decode_uplink(bytes: &[u8]) -> Result<Uplink, DecodeError> {
    let kind = check_frame(bytes, UPLINK_KINDS)?;
    if kind == 0 {
        // Read the version range alone first: a Hello from another version
        // may lay out the rest differently.
        let (range, _) = postcard::take_from_bytes::<(u16, u16)>(&bytes[1..]).map_err(|e| {
            DecodeError::Malformed {
                what: "hello",
                detail: e.to_string(),
            }
        })?;
        negotiate(range.0, range.1)?;
    }
    let msg: Uplink = decode_whole(kind_name_up(kind), bytes)?;
    #[allow(clippy::collapsible_match)]
    match &msg {
        Uplink::Hello(h) => {
            bounded("mission", &h.mission, MAX_NAME_BYTES)?;
            bounded("fleet", &h.fleet, MAX_NAME_BYTES)?;
            bounded("agent", &h.agent, MAX_NAME_BYTES)?;
        }
        Uplink::Error {
            reason,
            traceparent,
            ..
        } => {
            bounded("reason", reason, MAX_REASON_BYTES)?;
            bounded("traceparent", traceparent, MAX_TRACEPARENT_BYTES)?;
        }
        Uplink::Result {
            payload,
            traceparent,
            ..
        } => {
            if payload.len() > MAX_PAYLOAD_BYTES {
                return Err(DecodeError::FieldTooLong {
                    field: "payload",
                    len: payload.len(),
                    max: MAX_PAYLOAD_BYTES,
                });
            }
            bounded("traceparent", traceparent, MAX_TRACEPARENT_BYTES)?;
        }
        _ => {}
    }
    Ok(msg)
}

/// Decode one controller → agent frame body.
pub fn decode_downlink(bytes: &[u8]) -> Result<Downlink, DecodeError> {
    let kind = check_frame(bytes, DOWNLINK_KINDS)?;
    let msg: Downlink = decode_whole(kind_name_down(kind), bytes)?;
    match &msg {
        Downlink::Accepted { mission, .. } => bounded("mission", mission, MAX_NAME_BYTES)?,
        Downlink::Refused { reason } | Downlink::Shutdown { reason } => {
            bounded("reason", reason, MAX_REASON_BYTES)?
        }
        Downlink::Device { traceparent, .. } => {
            bounded("traceparent", traceparent, MAX_TRACEPARENT_BYTES)?
        }
    }
    Ok(msg)
}

fn kind_name_up(kind: u8) -> &'static str {
    [
        "hello",
        "heartbeat",
        "telemetry",
        "result",
        "error",
        "model_loaded",
        "goodbye",
    ]
    .get(usize::from(kind))
    .copied()
    .unwrap_or("uplink")
}

fn kind_name_down(kind: u8) -> &'static str {
    ["accepted", "refused", "device", "shutdown"]
        .get(usize::from(kind))
        .copied()
        .unwrap_or("downlink")
}

/// Cut a reason to [`MAX_REASON_BYTES`] at a character boundary, so a long
/// error from a function still fits the frame that reports it.
pub fn clip_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES - 3;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        assert_eq!(negotiate(MIN_VERSION, MIN_VERSION), Ok(MIN_VERSION));
        assert_eq!(negotiate(1, 9), Ok(VERSION));
        // Version 1 fragments had no local successors: refused, not misread.
        assert!(negotiate(1, 1).is_err());
        assert!(negotiate(VERSION + 1, VERSION + 3).is_err());
        assert!(negotiate(0, 0).is_err());
        assert!(negotiate(3, 1).is_err(), "an empty range speaks nothing");
    }

    #[test]
    fn a_reason_is_clipped_at_a_character_boundary() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let clipped = clip_reason(&long);
        assert!(clipped.len() <= MAX_REASON_BYTES);
        assert!(clipped.ends_with("..."));
        assert_eq!(clip_reason("short"), "short");
    }

    #[test]
    fn kind_names_follow_the_variant_order() {
        let msgs = [
            Uplink::Heartbeat { epoch: Epoch(1) },
            Uplink::Goodbye { epoch: Epoch(1) },
        ];
        for m in msgs {
            let bytes = encode_uplink(&m).unwrap();
            assert_eq!(kind_name_up(bytes[0]), m.kind_name());
        }
    }
}
