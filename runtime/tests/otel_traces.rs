//! The controller's trace bookkeeping against a real OTLP/gRPC receiver
//! (Python `grpcio` + `opentelemetry-proto`): a device result joins its
//! instance's trace through the agent's traceparent even after the
//! controller lost its open spans (crash and restart), garbage
//! traceparents off the wire fall back to the instance, a pool invocation
//! runs inside its instance's trace, and open spans stay bounded.

#[path = "../../otel/tests/support/receiver.rs"]
mod receiver;

use hivemind_controller::{
    DeviceId, Epoch, Executor, InstanceId, PoolAction, Publication, TaskGraph, WorkerId,
};
use hivemind_ir::TaskId;
use hivemind_proto::Handoff;
use hivemind_runtime::otel::Traces;
use receiver::{attr, text, Receiver};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

const MISSION: &str = r#"mission traced {
  area yard = rect(0 m, 0 m, 100 m, 100 m)
  fleet drones: drone x 2 {
    cpu 1.0 GHz x 1
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    sensors camera(640x360), gps
  }
  cloud { servers 2; cores 8 each; price $0.0000166667 per GB-s }
  task capture on drones { every 1 s; out frame: image 640x360 }
  task report(frame) { at cloud }
}
"#;

fn graph() -> TaskGraph {
    let c = hivemind_dsl::compile(MISSION, "m.hm");
    c.graph.expect("the test mission compiles")
}

#[test]
fn results_join_their_instance_trace_across_a_controller_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(&dir.path().join("spans.jsonl"));
    let guard = hivemind_otel::init(
        "controller-test",
        Some(&rx.endpoint()),
        EnvFilter::new("off"),
    )
    .expect("init");
    let g = graph();
    let capture = TaskId(0);
    let (i1, i2, i3) = (InstanceId(1), InstanceId(2), InstanceId(3));
    let dev = DeviceId(0);

    // Before the crash: instance 1 dispatched; the "agent" continues it.
    let mut before = Traces::new(&g);
    let tp = before.dispatch(i1, capture, dev, Epoch(1));
    assert!(hivemind_otel::is_valid(&tp), "dispatch traceparent {tp:?}");
    let agent = tracing::info_span!(parent: None, "execute");
    assert!(hivemind_otel::set_parent(&agent, &tp));
    let agent_tp = hivemind_otel::traceparent(&agent);
    drop(agent);
    // Instance 2 completes normally, with a pool invocation.
    let _ = before.dispatch(i2, capture, dev, Epoch(1));
    let invoke = before
        .pool(&PoolAction::Invoke {
            worker: WorkerId(4),
            instance: i2,
            task: capture,
            function: "f".into(),
            input: Handoff::None,
            model_version: 0,
        })
        .expect("an invoke span");
    drop(invoke);
    before.device_answer(i2, dev, "not a traceparent", Ok(1));
    before.publication(&Publication::Completed {
        instance: i2,
        task: capture,
        executor: Executor::Device {
            device: dev,
            epoch: Epoch(1),
        },
        latency_us: 1234,
    });
    assert_eq!(before.open_instances(), 1);
    drop(before); // the crash: open spans are lost (ended)

    // After the restart: the replayed result of instance 1 arrives.
    let mut after = Traces::new(&g);
    after.device_answer(i1, dev, &agent_tp, Ok(3));
    after.device_answer(i3, dev, "", Err("camera unplugged"));
    assert_eq!(after.open_instances(), 0, "answers open no instance span");
    drop(after);
    guard.shutdown();

    let spans = rx.wait_for(Duration::from_secs(10), |s| s.len() >= 8);
    let find = |name: &str, instance: u64| {
        spans
            .iter()
            .find(|s| {
                text(s, "name") == name
                    && attr(s, "hivemind.instance").as_deref() == Some(&instance.to_string())
            })
            .unwrap_or_else(|| panic!("no {name} span of instance {instance}: {spans:?}"))
    };
    let root1 = find("capture", 1);
    let exec = spans
        .iter()
        .find(|s| text(s, "name") == "execute")
        .expect("agent span");
    let result1 = find("result", 1);
    assert_eq!(text(exec, "trace_id"), text(root1, "trace_id"));
    assert_eq!(text(result1, "trace_id"), text(root1, "trace_id"));
    assert_eq!(text(result1, "parent_span_id"), text(exec, "span_id"));
    assert_eq!(attr(result1, "hivemind.items").as_deref(), Some("3"));

    let root2 = find("capture", 2);
    assert_eq!(
        attr(root2, "hivemind.outcome").as_deref(),
        Some("completed")
    );
    assert_eq!(attr(root2, "hivemind.latency_us").as_deref(), Some("1234"));
    assert!(spans.iter().any(
        |s| text(s, "name") == "invoke" && text(s, "parent_span_id") == text(root2, "span_id")
    ));
    // A garbage traceparent: the result hangs off the instance instead.
    let result2 = find("result", 2);
    assert_eq!(text(result2, "trace_id"), text(root2, "trace_id"));
    assert_ne!(text(root1, "trace_id"), text(root2, "trace_id"));
    // Nothing to join: a trace of its own, marked as an error.
    let result3 = find("result", 3);
    assert_eq!(text(result3, "parent_span_id"), "");
    assert_eq!(
        attr(result3, "hivemind.error").as_deref(),
        Some("camera unplugged")
    );
}

#[test]
fn open_instance_spans_are_bounded() {
    // Instance ids apart from the other test's (they may share the
    // exporter: the subscriber is process-wide).
    let g = graph();
    let mut t = Traces::recording(&g, true);
    for i in 1_000_000..1_060_000u64 {
        let tp = t.dispatch(InstanceId(i), TaskId(0), DeviceId(0), Epoch(1));
        assert!(tp.is_empty() || hivemind_otel::is_valid(&tp));
    }
    assert_eq!(t.open_instances(), hivemind_runtime::otel::MAX_OPEN);
    t.publication(&Publication::Failed {
        instance: InstanceId(1_059_999),
        task: TaskId(0),
        reason: "x".into(),
    });
    assert_eq!(t.open_instances(), hivemind_runtime::otel::MAX_OPEN - 1);
}
