//! A driver over a real journal in a temporary directory, for tests that
//! feed it inputs directly (no QUIC).

use hivemind_controller::{Config, Plan, TaskGraph};
use hivemind_cost::Profile;
use hivemind_functions::Backend;
use hivemind_ir::PointMm;
use hivemind_proto::{DeviceId, DeviceMsg, Downlink, Epoch, Hello};
use hivemind_runtime::{Driver, DriverConfig, Figures, Input};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// `src` compiled, its synthesized plan, and the runtime's figures.
#[allow(dead_code)]
pub fn planned(src: &str, file: &str) -> (TaskGraph, Plan, Figures) {
    let graph = hivemind_dsl::compile(src, file)
        .graph
        .expect("mission compiles");
    let plan = hivemind_synth::synthesize(&graph, Profile::default(), &Default::default())
        .expect("synthesis")
        .plan
        .expect("a plan");
    let figures = Figures::new(&graph, &plan, Profile::default()).expect("figures");
    (graph, plan, figures)
}

/// Connect `device` of fleet `fleet` in `mission` as connection `conn`
/// (straight to the driver, no QUIC); its downlink.
#[allow(dead_code)]
pub fn connect(
    tx: &Sender<Input>,
    mission: &str,
    fleet: &str,
    device: u32,
    conn: u64,
) -> tokio::sync::mpsc::Receiver<Downlink> {
    let (ltx, lrx) = tokio::sync::mpsc::channel(1024);
    let hello = Hello::new(
        DeviceId(device),
        mission,
        fleet,
        1,
        PointMm { x_mm: 0, y_mm: 0 },
    );
    tx.send(Input::Connected {
        device: DeviceId(device),
        conn,
        hello,
        tx: ltx,
    })
    .expect("queued");
    lrx
}

/// The next device message on `rx` that `pick` accepts (within 20 s).
#[allow(dead_code)]
pub fn next_msg<T>(
    rx: &mut tokio::sync::mpsc::Receiver<Downlink>,
    mut pick: impl FnMut(Epoch, &DeviceMsg) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match rx.try_recv() {
            Ok(Downlink::Device { epoch, msg, .. }) => {
                if let Some(t) = pick(epoch, &msg) {
                    return t;
                }
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    panic!("no such device message within 20 s");
}

/// An instance a device is to run: one sent with `RunTask`, or a firing
/// granted to it (`Fire`; these tests' devices fire at once, before the
/// instant: the controller then creates the firing when the result comes).
#[allow(dead_code)]
pub fn to_run(epoch: Epoch, m: &DeviceMsg) -> Option<(Epoch, hivemind_proto::InstanceId)> {
    match m {
        DeviceMsg::RunTask { instance, .. } | DeviceMsg::Fire { instance, .. } => {
            Some((epoch, *instance))
        }
        _ => None,
    }
}

/// Abort the mission (through `tx`) once `task` has completed `n` times.
#[allow(dead_code)]
pub fn abort_after(driver: &mut Driver, tx: &Sender<Input>, graph: &TaskGraph, task: &str, n: u32) {
    let task = graph
        .tasks
        .iter()
        .position(|t| t.name == task)
        .expect("the task") as u32;
    let stop = tx.clone();
    let mut done = 0;
    driver.observe(Box::new(move |p: &hivemind_controller::Publication| {
        if let hivemind_controller::Publication::Completed { task: t, .. } = p {
            done += u32::from(t.0 == task);
            if done == n {
                let _ = stop.send(Input::Operator(hivemind_controller::Command::Abort {
                    reason: "the test saw what it waited for".into(),
                }));
            }
        }
    }));
}
