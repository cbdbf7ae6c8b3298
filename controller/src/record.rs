//! Journal records and their byte encoding. Pure: no IO here (the file lives
//! in [`crate::journal`]), so the codec is tested on plain bytes.
//!
//! Frame: `len: u32 LE | crc32(payload): u32 LE | payload`, payload = the
//! record as JSON. Bytes read back are untrusted: every malformed frame is a
//! [`DecodeError`], never a panic.

use crate::config::Config;
use crate::core::Snapshot;
use crate::crc32::crc32;
use crate::event::Event;
use crate::ids::{DeviceId, Epoch};
use crate::time::Micros;
use crate::timer::Timer;
use hivemind_ir::plan::Plan;
use hivemind_ir::TaskGraph;
use serde::{Deserialize, Serialize};

/// Largest payload accepted; a length field above it is corruption.
pub const MAX_RECORD_BYTES: u32 = 256 << 20;
pub const HEADER_BYTES: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// First record of a journal: everything needed to build the controller.
    Genesis(Box<Genesis>),
    /// An input event and the time it was handled at (every event but
    /// heartbeats).
    Event { at: Micros, event: Event },
    /// A timer of the core fired at `at` and changed state (stale timers
    /// and the soft liveness scan are not journaled). Replay repeats it.
    Timeout { at: Micros, timer: Timer },
    /// Liveness declared the device's registration `epoch` failed at `at`
    /// for silence. Heartbeats are not journaled, so the decision is.
    DeviceSilent {
        at: Micros,
        device: DeviceId,
        epoch: Epoch,
    },
    /// The whole state; records before it are no longer needed.
    Snapshot(Box<Snapshot>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub config: Config,
    pub graph: TaskGraph,
    pub plan: Plan,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated record: need {needed} bytes, have {have}")]
    Truncated { needed: u64, have: u64 },
    #[error("record length {len} is over the limit of {MAX_RECORD_BYTES} bytes")]
    TooLarge { len: u32 },
    #[error("empty record")]
    Empty,
    #[error("checksum mismatch: header says {expected:#010x}, payload has {found:#010x}")]
    Checksum { expected: u32, found: u32 },
    #[error("undecodable record payload: {0}")]
    Payload(String),
}

/// Append the frame for `record` to `out`.
pub fn encode_into(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    // Serializing plain data (string-keyed or no maps) cannot fail; an error
    // would leave an empty payload that decoding rejects.
    if serde_json::to_writer(&mut *out, record).is_err() {
        out.truncate(start + HEADER_BYTES);
    }
    let payload_len = (out.len() - start - HEADER_BYTES) as u32;
    let crc = crc32(&out[start + HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

pub fn encode(record: &Record) -> Vec<u8> {
    let mut v = Vec::new();
    encode_into(record, &mut v);
    v
}

/// Decode the frame at the start of `bytes`: the record and the bytes used.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), DecodeError> {
    let have = bytes.len() as u64;
    let Some(header) = bytes.get(..HEADER_BYTES) else {
        return Err(DecodeError::Truncated {
            needed: HEADER_BYTES as u64,
            have,
        });
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let expected = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 {
        return Err(DecodeError::Empty);
    }
    if len > MAX_RECORD_BYTES {
        return Err(DecodeError::TooLarge { len });
    }
    let end = HEADER_BYTES + len as usize;
    let Some(payload) = bytes.get(HEADER_BYTES..end) else {
        return Err(DecodeError::Truncated {
            needed: end as u64,
            have,
        });
    };
    let found = crc32(payload);
    if found != expected {
        return Err(DecodeError::Checksum { expected, found });
    }
    let record =
        serde_json::from_slice(payload).map_err(|e| DecodeError::Payload(e.to_string()))?;
    Ok((record, end))
}

/// Every good record from the start of `bytes`, and where and why decoding
/// stopped if it stopped before the end (a torn or corrupt tail).
#[derive(Debug)]
pub struct Decoded {
    pub records: Vec<Record>,
    /// Length of the valid prefix.
    pub valid_len: usize,
    pub tail_error: Option<DecodeError>,
}

pub fn decode_all(bytes: &[u8]) -> Decoded {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode(&bytes[at..]) {
            Ok((r, used)) => {
                records.push(r);
                at += used;
            }
            Err(e) => {
                return Decoded {
                    records,
                    valid_len: at,
                    tail_error: Some(e),
                }
            }
        }
    }
    Decoded {
        records,
        valid_len: at,
        tail_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Command;

    fn sample() -> Vec<Record> {
        vec![
            Record::Event {
                at: Micros(5),
                event: Event::Heartbeat {
                    device: DeviceId(3),
                    epoch: Epoch(1),
                },
            },
            Record::Timeout {
                at: Micros(7),
                timer: Timer::Retry {
                    instance: crate::ids::InstanceId(4),
                },
            },
            Record::DeviceSilent {
                at: Micros(8),
                device: DeviceId(2),
                epoch: Epoch(3),
            },
            Record::Event {
                at: Micros(9),
                event: Event::Operator {
                    command: Command::Abort {
                        reason: "ünïcode \"quoted\"".into(),
                    },
                },
            },
        ]
    }

    #[test]
    fn round_trip() {
        let mut bytes = Vec::new();
        for r in sample() {
            encode_into(&r, &mut bytes);
        }
        let d = decode_all(&bytes);
        assert_eq!(d.records, sample());
        assert_eq!(d.valid_len, bytes.len());
        assert_eq!(d.tail_error, None);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let one = encode(&sample()[2]);
        for cut in 0..one.len() {
            assert!(
                matches!(decode(&one[..cut]), Err(DecodeError::Truncated { .. })),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let one = encode(&sample()[0]);
        for byte in 0..one.len() {
            for bit in 0..8 {
                let mut b = one.clone();
                b[byte] ^= 1 << bit;
                assert!(decode(&b).is_err(), "flip {byte}:{bit} accepted");
            }
        }
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(
            decode(&[]).err(),
            Some(DecodeError::Truncated { needed: 8, have: 0 })
        );
        assert_eq!(decode(&[0; 8]).err(), Some(DecodeError::Empty));
        let mut huge = (MAX_RECORD_BYTES + 1).to_le_bytes().to_vec();
        huge.extend_from_slice(&[0; 4]);
        assert!(matches!(decode(&huge), Err(DecodeError::TooLarge { .. })));
        let mut max = u32::MAX.to_le_bytes().to_vec();
        max.extend_from_slice(&[0; 20]);
        assert!(matches!(decode(&max), Err(DecodeError::TooLarge { .. })));
        // A checksummed frame whose payload is not a record.
        for payload in [
            &b"not json"[..],
            b"{}",
            b"{\"event\":{}}",
            b"[1,2,3]",
            b"\xff\xfe",
        ] {
            let mut f = (payload.len() as u32).to_le_bytes().to_vec();
            f.extend_from_slice(&crc32(payload).to_le_bytes());
            f.extend_from_slice(payload);
            assert!(
                matches!(decode(&f), Err(DecodeError::Payload(_))),
                "{payload:?}"
            );
        }
        // Garbage after good records: the good prefix survives.
        let mut bytes = encode(&sample()[0]);
        let good = bytes.len();
        bytes.extend_from_slice(b"garbage garbage garbage");
        let d = decode_all(&bytes);
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.valid_len, good);
        assert!(d.tail_error.is_some());
    }
}
