//! The journal's checksum: `hivemind-proto`'s CRC-32 (one implementation
//! for journal records and the agent's buffered results).

pub use hivemind_proto::crc32::crc32;
