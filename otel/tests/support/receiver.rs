//! The OTLP/gRPC receiver of the tracing tests (`otlp_receiver.py`, built
//! on `grpcio` and `opentelemetry-proto`) as a child process, and the spans
//! it decoded. Shared by `hivemind-otel`'s tests and the process tests of
//! `hivemind up` (included by path).

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Receiver {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    pub out: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("otel/tests/otlp_receiver.py"))
        .find(|p| p.exists())
        .expect("otel/tests/otlp_receiver.py not found above CARGO_MANIFEST_DIR")
}

impl Receiver {
    /// Start it; fails the test (not skips it) when Python or its modules
    /// are missing.
    pub fn start(out: &Path) -> Receiver {
        let mut child = Command::new("python3")
            .arg(script())
            .arg(out)
            .args(["--max-seconds", "240"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the OTLP receiver (scripts/install-deps)");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse::<u16>().ok())
        else {
            let _ = child.kill();
            let out = child.wait_with_output().expect("receiver output");
            panic!(
                "the OTLP receiver did not start (needs python modules grpcio and \
                 opentelemetry-proto: run scripts/install-deps): {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let stdin = child.stdin.take();
        Receiver {
            child,
            stdin,
            port,
            out: out.to_owned(),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The spans once `done` holds of them (or the time is up).
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) || start.elapsed() > limit {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; its own PID if it does not.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A span's attribute as text (numbers too).
pub fn attr(span: &Value, key: &str) -> Option<String> {
    match span.get("attributes")?.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        v => Some(v.to_string()),
    }
}

pub fn text(span: &Value, key: &str) -> String {
    span.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Spans of the exporter's own machinery, which must never be exported.
pub fn exporter_spans(spans: &[Value]) -> Vec<&Value> {
    const MACHINERY: [&str; 8] = [
        "h2",
        "hyper",
        "tonic",
        "tower",
        "reqwest",
        "opentelemetry",
        "quinn",
        "rustls",
    ];
    spans
        .iter()
        .filter(|s| {
            let target = attr(s, "target").unwrap_or_default();
            let module = attr(s, "code.module.name").unwrap_or_default();
            MACHINERY.iter().any(|m| {
                let hit = |t: &str| {
                    t == *m || t.starts_with(&format!("{m}::")) || t.starts_with(&format!("{m}_"))
                };
                hit(&target) || hit(&module)
            })
        })
        .collect()
}
