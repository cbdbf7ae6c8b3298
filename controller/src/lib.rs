//! HiveMind controller.
//!
//! Owns (once the controller-core issue lands) the sans-IO scheduling state
//! machine: liveness, repartition, stragglers, the serverless function pool
//! and the journal. Today it only states its input contract: a checked
//! [`hivemind_dsl::ir::TaskGraph`]. It must never depend on tokio, sockets or
//! the wall clock inside the core (see ARCHITECTURE.md).

pub use hivemind_dsl::ir::TaskGraph;

/// Number of task kinds the controller would have to schedule for `graph`.
pub fn task_kinds(graph: &TaskGraph) -> usize {
    graph.tasks.len()
}
