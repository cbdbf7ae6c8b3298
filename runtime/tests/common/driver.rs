//! A driver over a real journal in a temporary directory, for tests that
//! feed it inputs directly (no QUIC).

use hivemind_controller::{Config, Plan, TaskGraph};
use hivemind_functions::Backend;
use hivemind_runtime::{Driver, DriverConfig, Figures, Input};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// The driver (seed 1, default core config), whether it recovered a
/// journal, where its inputs go, and the one-thread runtime its pool
/// runs on (keep it alive while the driver runs).
pub fn open(
    state_dir: &Path,
    graph: TaskGraph,
    plan: Plan,
    figures: Figures,
    backend: Arc<dyn Backend>,
) -> (Driver, bool, Sender<Input>, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, rx) = std::sync::mpsc::channel();
    let (driver, recovered) = Driver::open(
        DriverConfig::new(state_dir),
        graph,
        plan,
        Config::default(),
        1,
        figures,
        backend,
        rt.handle().clone(),
        (tx.clone(), rx),
    )
    .expect("driver");
    (driver, recovered, tx, rt)
}
