//! Group commit: a batch of inputs is made durable with one fsync, and
//! nothing it produced leaves before that; recovery reads every record.

use hivemind_controller::journal::{identity_of, Journal};
use hivemind_controller::Command;
use hivemind_functions::{Backend, InProcess, Registry};
use hivemind_ir::PointMm;
use hivemind_proto::{DeviceId, DeviceMsg, Downlink, Hello};
use hivemind_runtime::driver::journal_path;
use hivemind_runtime::Input;
use std::sync::Arc;

#[path = "common/driver.rs"]
mod common;

const MISSION: &str = "mission gc {
  duration 1 min
  fleet drones: drone x 64 {
    cpu 1.0 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s
    sensors camera(640x360), gps
  }
  cloud { servers 1; cores 4 each }
  task capture on drones -> stamp: blob 16 B { work 1 op; every 1 s; fn cap }
  task sink(stamp) at cloud { work 1 op; fn noop }
}
";

#[test]
fn a_batch_of_joins_is_one_fsync_and_every_answer_follows_it() {
    let (graph, plan, figures) = common::planned(MISSION, "gc.hm");
    let dir = tempfile::tempdir().expect("temp dir");
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(Registry::new()));
    let (driver, recovered, tx, _rt) =
        common::open(dir.path(), graph.clone(), plan, figures, backend);
    assert!(!recovered);
    let joins = 64u32;
    let mut links = Vec::new();
    for d in 0..joins {
        let (ltx, lrx) = tokio::sync::mpsc::channel(16);
        let hello = Hello::new(DeviceId(d), "gc", "drones", 1, PointMm { x_mm: 0, y_mm: 0 });
        tx.send(Input::Connected {
            device: DeviceId(d),
            conn: u64::from(d),
            hello,
            tx: ltx,
        })
        .expect("queued");
        links.push(lrx);
    }
    tx.send(Input::Operator(Command::Abort {
        reason: "test over".into(),
    }))
    .expect("queued");
    let outcome = driver.run(false).expect("run");
    let s = &outcome.stats;
    assert!(
        s.journal_records >= u64::from(joins),
        "every join journaled: {s:?}"
    );
    // The genesis commit, the batch, and at most the end.
    assert!(
        s.journal_commits <= 3,
        "{} records took {} fsyncs",
        s.journal_records,
        s.journal_commits
    );
    // Every device got its answer (Accepted, then Registered once durable).
    for (d, mut rx) in links.into_iter().enumerate() {
        let mut registered = false;
        while let Ok(m) = rx.try_recv() {
            if let Downlink::Device {
                msg: DeviceMsg::Registered { .. },
                ..
            } = m
            {
                registered = true;
            }
        }
        assert!(registered, "device {d} was not registered");
    }
    // What was acknowledged is on disk.
    let opened =
        Journal::open_for(&journal_path(dir.path()), identity_of(&graph)).expect("journal opens");
    assert!(opened.torn.is_none());
    assert!(opened.records.len() as u64 >= u64::from(joins));
    drop(tx);
}

/// A device's result feeding an inline cloud function: the function is
/// invoked before the result's commit, answers at once, and its answer
/// joins that commit, so the capture's `Ack` and the sink's completion
/// leave together after one fsync.
#[test]
fn an_inline_functions_answer_joins_the_commit_that_invoked_it() {
    let (graph, plan, figures) = common::planned(MISSION, "gc.hm");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut reg = Registry::new();
    reg.register_inline(
        "noop",
        |_: &hivemind_functions::Ctx, req: &hivemind_functions::Request| {
            Ok(hivemind_functions::Response::new(req.input.clone(), 1))
        },
    );
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(reg));
    let (mut driver, _, tx, _rt) = common::open(dir.path(), graph.clone(), plan, figures, backend);
    common::abort_after(&mut driver, &tx, &graph, "sink", 1);
    let run = std::thread::spawn(move || driver.run(false));
    let mut lrx = common::connect(&tx, "gc", "drones", 0, 0);
    tx.send(Input::Operator(Command::Start)).expect("queued");
    let (epoch, instance) = common::next_msg(&mut lrx, common::to_run);
    tx.send(Input::Uplink {
        device: DeviceId(0),
        conn: 0,
        msg: hivemind_proto::Uplink::Result {
            epoch,
            instance,
            items: 1,
            model_version: 0,
            payload: vec![1; 16],
            traceparent: String::new(),
        },
    })
    .expect("queued");
    let outcome = run.join().expect("driver thread").expect("run");
    let sink_row = outcome
        .report
        .tasks
        .iter()
        .find(|t| t.task == "sink")
        .expect("sink row");
    assert_eq!(sink_row.completed, 1, "{:#?}", outcome.report);
    assert!(
        outcome.stats.folded_inputs >= 1,
        "the sink's answer waited for a commit of its own: {:?}",
        outcome.stats
    );
}
