//! Identifiers the controller hands out or receives: defined in
//! `hivemind-proto`, because they cross the wire.

pub use hivemind_proto::ids::*;
