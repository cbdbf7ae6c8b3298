//! A controller restarted from its journal while a cloud function ran:
//! the workers it knew died with its process, so what ran there is
//! re-placed on new workers and completes (not invoked on a worker that
//! is not running until its retries are spent).

use hivemind_controller::Command;
use hivemind_functions::{Backend, Ctx, InProcess, Registry, Request, Response};
use hivemind_proto::{DeviceId, DeviceMsg, Uplink};
use hivemind_runtime::Input;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "common/driver.rs"]
mod common;

const DRONES: u32 = 3;

const MISSION: &str = "mission restart {
  duration 1 min
  fleet drones: drone x 3 {
    cpu 1.0 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s
    sensors camera(640x360), gps
  }
  cloud { servers 1; cores 4 each }
  task capture on drones -> stamp: blob 16 B { work 1 op; every 1 s; fn cap }
  task sink(stamp) at cloud { work 1 op; fn noop }
}
";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn work_on_workers_that_died_with_the_controller_is_re_placed() {
    let (graph, plan, figures) = common::planned(MISSION, "restart.hm");
    let dir = tempfile::tempdir().expect("temp dir");
    let first_dir = dir.path().join("first");
    let crashed_dir = dir.path().join("crashed");

    // The first controller: its sink never returns (until the test ends).
    let (release, wait): (Sender<()>, Receiver<()>) = std::sync::mpsc::channel();
    let wait = Mutex::new(wait);
    let invoked = Arc::new(Mutex::new(0u32));
    let count = invoked.clone();
    let mut reg = Registry::new();
    reg.register("noop", move |_: &Ctx, req: &Request| {
        *count.lock().expect("count") += 1;
        let _ = wait
            .lock()
            .expect("wait")
            .recv_timeout(Duration::from_secs(30));
        Ok(Response::new(req.input.clone(), 1))
    });
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(reg));
    let (driver, recovered, tx, rt) = common::open(
        &first_dir,
        graph.clone(),
        plan.clone(),
        figures.clone(),
        backend,
    );
    assert!(!recovered);
    let first = std::thread::spawn(move || driver.run(false));
    // Three drones, each a capture whose sink blocks a worker of its own.
    let mut downs: Vec<_> = (0..DRONES)
        .map(|d| common::connect(&tx, "restart", "drones", d, u64::from(d)))
        .collect();
    tx.send(Input::Operator(Command::Start)).expect("queued");
    for (d, down) in (0..DRONES).zip(downs.iter_mut()) {
        let (epoch, instance) = common::next_msg(down, common::to_run);
        tx.send(Input::Uplink {
            device: DeviceId(d),
            conn: u64::from(d),
            msg: Uplink::Result {
                epoch,
                instance,
                items: 1,
                model_version: 0,
                payload: vec![7; 16],
                traceparent: String::new(),
            },
        })
        .expect("queued");
        // Acknowledged: the capture's result is durable; its sink runs.
        common::next_msg(down, |_, m| match m {
            DeviceMsg::Ack { instance: i } if *i == instance => Some(()),
            _ => None,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while *invoked.lock().expect("count") < DRONES {
        assert!(Instant::now() < deadline, "the sinks were not all invoked");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The crash: the state directory as it is now.
    copy_dir(&first_dir, &crashed_dir);

    // The restarted controller, whose sink returns at once.
    let mut reg = Registry::new();
    reg.register_inline("noop", |_: &Ctx, req: &Request| {
        Ok(Response::new(req.input.clone(), 1))
    });
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(reg));
    let (mut driver, recovered, tx2, rt2) =
        common::open(&crashed_dir, graph.clone(), plan, figures, backend);
    assert!(recovered);
    common::abort_after(&mut driver, &tx2, &graph, "sink", DRONES);
    let second = std::thread::spawn(move || driver.run(true));
    let _downs2: Vec<_> = (0..DRONES)
        .map(|d| common::connect(&tx2, "restart", "drones", d, u64::from(d) + 10))
        .collect();
    let outcome = second.join().expect("driver thread").expect("run");
    let r = &outcome.report;
    let sink_row = r.tasks.iter().find(|t| t.task == "sink").expect("sink row");
    assert!(sink_row.completed >= u64::from(DRONES), "{r:#?}");
    assert_eq!(sink_row.failed, 0, "{r:#?}");
    assert!(r.failures.is_empty(), "{:?}", r.failures);

    // End the first controller.
    drop(release);
    tx.send(Input::Operator(Command::Abort {
        reason: "test over".into(),
    }))
    .expect("queued");
    first.join().expect("driver thread").expect("run");
    rt.shutdown_background();
    rt2.shutdown_background();
}
