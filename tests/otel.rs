//! Traces across processes: `hivemind up --local` with an OTLP endpoint,
//! its `hive-agent`s exporting too, into an OTLP/gRPC receiver nobody here
//! wrote (Python `grpcio` + `opentelemetry-proto`). One task instance is
//! one trace: the controller's instance and dispatch spans, the agent's
//! execute span and the controller's result span share its trace id, and
//! no two instances share one. Without an endpoint no exporter starts.
//!
//! Processes are started by the test and stopped by their own PIDs;
//! loopback only.

#[path = "../otel/tests/support/receiver.rs"]
mod receiver;

use receiver::{attr, exporter_spans, text, Receiver};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/processes.rs"]
mod processes;
use processes::{agent_bin, camera_patrol, hivemind};

fn mission_text() -> String {
    camera_patrol("traced", 2)
}

/// Span lists keyed by trace id.
fn by_trace(spans: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut m: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for s in spans {
        m.entry(text(s, "trace_id")).or_default().push(s);
    }
    m
}

#[test]
fn one_task_instance_is_one_trace_across_controller_and_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mission = root.join("m.hm");
    std::fs::write(&mission, mission_text()).expect("write mission");
    let rx = Receiver::start(&root.join("spans.jsonl"));
    let _ = agent_bin();
    // The endpoint through the standard variable: `up` resolves it and
    // passes it on to its agents as --otlp.
    let out = Command::new(hivemind())
        .arg("up")
        .arg(&mission)
        .args([
            "--local",
            "2",
            "--duration",
            "6 s",
            "--mqtt",
            "off",
            "--json",
        ])
        .arg("--state-dir")
        .arg(root.join("state"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint())
        .stdin(Stdio::null())
        .output()
        .expect("run hivemind up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hivemind up failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let tasks = report["report"]["tasks"].as_array().expect("tasks");
    let completed: u64 = tasks.iter().filter_map(|t| t["completed"].as_u64()).sum();
    assert!(completed >= 8, "too little ran: {report}");

    // Both processes flush at exit; the receiver may still be writing.
    let spans = rx.wait_for(Duration::from_secs(15), |s| {
        s.iter()
            .filter(|x| text(x, "service") == "hivemind" && text(x, "parent_span_id").is_empty())
            .count() as u64
            >= completed
    });
    let names: BTreeSet<(String, String)> = spans
        .iter()
        .map(|s| (text(s, "service"), text(s, "name")))
        .collect();

    // No exporter machinery, only our spans.
    let machinery = exporter_spans(&spans);
    assert!(
        machinery.is_empty(),
        "exporter spans exported: {machinery:?}"
    );
    for (service, name) in &names {
        let ours = match service.as_str() {
            "hivemind" => [
                "dispatch", "invoke", "result", "capture", "detect", "report",
            ]
            .contains(&name.as_str()),
            "hive-agent" => name == "execute",
            _ => false,
        };
        assert!(ours, "unexpected span {service}/{name}; all: {names:?}");
    }

    // Every instance has exactly one trace, and no trace two instances.
    let mut traces_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut instances_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &spans {
        if let Some(i) = attr(s, "hivemind.instance") {
            traces_of
                .entry(i.clone())
                .or_default()
                .insert(text(s, "trace_id"));
            instances_of
                .entry(text(s, "trace_id"))
                .or_default()
                .insert(i);
        }
    }
    for (i, t) in &traces_of {
        assert_eq!(t.len(), 1, "instance {i} spans {} traces", t.len());
    }
    for (t, i) in &instances_of {
        assert_eq!(i.len(), 1, "trace {t} holds instances {i:?}");
    }
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|s| text(s, "service") == "hivemind" && text(s, "parent_span_id").is_empty())
        .collect();
    let done_roots = roots
        .iter()
        .filter(|s| attr(s, "hivemind.outcome").as_deref() == Some("completed"))
        .count() as u64;
    assert_eq!(
        done_roots, completed,
        "one completed instance span per completed instance"
    );

    // Edge instances (those dispatched to a device): controller and agent
    // spans in one trace, chained dispatch -> execute -> result.
    let traces = by_trace(&spans);
    let edge: Vec<&&Value> = roots
        .iter()
        .filter(|r| attr(r, "hivemind.outcome").as_deref() == Some("completed"))
        .filter(|r| {
            traces[&text(r, "trace_id")]
                .iter()
                .any(|s| text(s, "name") == "dispatch")
        })
        .collect();
    assert!(edge.len() >= 4, "{} edge instances traced", edge.len());
    let executes: Vec<&Value> = spans
        .iter()
        .filter(|s| text(s, "service") == "hive-agent")
        .collect();
    let mut joined = BTreeSet::new();
    for ex in &executes {
        let trace = &traces[&text(ex, "trace_id")];
        let find = |pred: &dyn Fn(&Value) -> bool| trace.iter().copied().find(|s| pred(s));
        let dispatch = find(&|s| text(s, "span_id") == text(ex, "parent_span_id"))
            .unwrap_or_else(|| panic!("execute span without its dispatch: {ex}"));
        assert_eq!(text(dispatch, "service"), "hivemind");
        assert_eq!(text(dispatch, "name"), "dispatch");
        assert_eq!(
            attr(dispatch, "hivemind.device"),
            attr(ex, "hivemind.device")
        );
        let root = find(&|s| text(s, "parent_span_id").is_empty())
            .unwrap_or_else(|| panic!("no instance span in the trace of {ex}"));
        assert_eq!(text(root, "service"), "hivemind");
        assert_eq!(
            attr(root, "hivemind.instance"),
            attr(ex, "hivemind.instance")
        );
        assert_eq!(text(dispatch, "parent_span_id"), text(root, "span_id"));
        if let Some(result) = find(&|s| {
            text(s, "name") == "result" && text(s, "parent_span_id") == text(ex, "span_id")
        }) {
            assert_eq!(text(result, "service"), "hivemind");
            joined.insert(text(ex, "trace_id"));
        }
    }
    for r in &edge {
        assert!(
            joined.contains(&text(r, "trace_id")),
            "completed edge instance without dispatch -> execute -> result in its trace: {r}"
        );
    }
    // Cloud instances: their pool invocation is a child of the instance.
    let invoke = spans
        .iter()
        .find(|s| text(s, "name") == "invoke")
        .expect("a pool invocation span");
    let trace = &traces[&text(invoke, "trace_id")];
    assert!(trace
        .iter()
        .any(|s| text(s, "span_id") == text(invoke, "parent_span_id")
            && text(s, "parent_span_id").is_empty()));
}

/// Thread names of a running process.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .map(|s| s.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn without_an_endpoint_the_agent_starts_no_exporter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    for args in [
        vec!["certs", "init", "--dir"],
        vec!["certs", "issue", "0", "--dir"],
    ] {
        let st = Command::new(hivemind())
            .args(&args)
            .arg(&pki)
            .output()
            .expect("hivemind certs");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let rx = Receiver::start(&dir.path().join("spans.jsonl"));
    // Nobody listens on the controller port: the agent keeps retrying.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let agent = |otlp: Option<&str>, tag: &str| {
        let mut c = Command::new(agent_bin());
        c.args(["--controller", &format!("127.0.0.1:{port}")])
            .arg("--pki")
            .arg(&pki)
            .args(["--device", "0", "--mission", "m", "--fleet", "drones"])
            .args(["--give-up-after", "30"])
            .arg("--state-dir")
            .arg(dir.path().join(tag))
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(u) = otlp {
            c.args(["--otlp", u]);
        }
        c.spawn().expect("start hive-agent")
    };
    let names_after_start = |child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut names = Vec::new();
        while Instant::now() < deadline {
            names = thread_names(child.id());
            // The tokio workers are up once it is trying to connect.
            if names.iter().filter(|n| n.starts_with("tokio")).count() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let names = thread_names(child.id())
            .into_iter()
            .chain(names)
            .collect::<Vec<_>>();
        let _ = child.kill();
        let _ = child.wait();
        names
    };
    let mut plain = agent(None, "plain");
    let plain_threads = names_after_start(&mut plain);
    let mut traced = agent(Some(&rx.endpoint()), "traced");
    let traced_threads = names_after_start(&mut traced);
    let exporter = |names: &[String]| {
        names
            .iter()
            .any(|n| n.starts_with("otel-export") || n.starts_with("OpenTelemetry"))
    };
    assert!(
        exporter(&traced_threads),
        "with --otlp the exporter threads run: {traced_threads:?}"
    );
    assert!(
        !exporter(&plain_threads),
        "without an endpoint no exporter thread may run: {plain_threads:?}"
    );
    assert!(rx.spans().is_empty() || plain_threads.len() < traced_threads.len());
}
