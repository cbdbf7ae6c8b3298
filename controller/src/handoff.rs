//! How an attempt gets its input: defined in `hivemind-proto` (device
//! messages and pool actions both carry it).

pub use hivemind_proto::Handoff;
