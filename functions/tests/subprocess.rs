//! The subprocess backend against real processes: small sh and python3
//! scripts written into a temporary directory.

use hivemind_functions::{
    ActionSpec, Backend, FnError, Limits, Mode, Request, Response, Subprocess, Worker,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    // A version-manager shim behind `env python3` can cost 200 ms a start.
    let body = if Path::new("/usr/bin/python3").exists() {
        body.replace("#!/usr/bin/env python3", "#!/usr/bin/python3")
    } else {
        body.to_string()
    };
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn request(function: &str, instance: u64, input: &'static [u8]) -> Request {
    let mut r = Request::new(function, 5, instance);
    r.input = bytes::Bytes::from_static(input);
    r.input_items = 2;
    r.deadline = Duration::from_secs(20);
    r.params = serde_json::json!({"threshold": 0.5});
    r
}

/// The process is gone: no such pid, or a zombie nobody reaps (a
/// background child reparented to a PID 1 that does not wait).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_gone(pid: i32) -> bool {
    for _ in 0..200 {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

const PY_ECHO: &str = r#"#!/usr/bin/env python3
import base64, json, sys
req = json.load(sys.stdin)
data = base64.b64decode(req["input"]).upper()
print("a log line before the result")
print(json.dumps({"output": base64.b64encode(data).decode(),
                  "items": req["input_items"] + 1}))
"#;

/// Answers each line with a running count and its pid; exits after
/// `EXIT_AFTER` requests when that variable is set.
const PY_PERSISTENT: &str = r#"#!/usr/bin/env python3
import base64, json, os, sys
n = 0
limit = int(os.environ.get("EXIT_AFTER", "0"))
for line in sys.stdin:
    req = json.loads(line)
    n += 1
    if req["params"] == "sleep":
        import time; time.sleep(30)
    if req["params"] == "garbage":
        print("this is not json", flush=True); continue
    if req["params"] == "fail":
        print(json.dumps({"error": "bad frame %d" % n}), flush=True); continue
    text = "%s:%d:%d:%s" % (req["function"], n, os.getpid(), base64.b64decode(req["input"]).decode())
    print(json.dumps({"output_text": text, "items": n}), flush=True)
    if limit and n >= limit:
        print("leaving after %d" % n, file=sys.stderr, flush=True)
        sys.exit(0)
"#;

async fn one(backend: &Subprocess, name: &str, req: Request) -> Result<Response, FnError> {
    let w = backend.start(name).await?;
    w.invoke(req).await
}

#[tokio::test]
async fn one_shot_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let py = script(dir.path(), "echo.py", PY_ECHO);
    let sh = script(
        dir.path(),
        "hi.sh",
        "#!/bin/sh\ncat > \"$0.req\"\nprintf '{\"output_text\":\"hi\",\"items\":2}\\n'\n",
    );
    let backend = Subprocess::new()
        .with("echo", ActionSpec::new(&py))
        .with("hi", ActionSpec::new(&sh));
    assert!(backend.has("echo") && !backend.has("nope"));
    let r = one(&backend, "echo", request("echo", 1, b"tree"))
        .await
        .unwrap();
    assert_eq!(r, Response::new(&b"TREE"[..], 3));

    let r = one(&backend, "hi", request("hi", 42, b"hello"))
        .await
        .unwrap();
    assert_eq!(r, Response::new(&b"hi"[..], 2));
    // What the process read: the documented request, one line.
    let sent = std::fs::read_to_string(dir.path().join("hi.sh.req")).unwrap();
    assert!(sent.ends_with('\n') && sent.lines().count() == 1);
    let v: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"function": "hi", "task": 5, "instance": 42, "model_version": 0,
            "input": "aGVsbG8=", "input_items": 2, "deadline_ms": 20000,
            "params": {"threshold": 0.5}})
    );
}

#[tokio::test]
async fn unknown_and_missing_programs() {
    let backend = Subprocess::new().with("ghost", ActionSpec::new("/nonexistent/ghost"));
    let err = backend.start("nope").await.err().unwrap();
    assert!(
        err.to_string()
            .contains("unknown function `nope` (known: ghost)"),
        "{err}"
    );
    let err = backend.start("ghost").await.err().unwrap();
    assert!(matches!(err, FnError::Spawn { .. }), "{err}");
    let persistent = Subprocess::new().with(
        "ghost",
        ActionSpec::new("no-such-program-here").mode(Mode::Persistent),
    );
    let err = persistent.start("ghost").await.err().unwrap();
    assert!(matches!(err, FnError::Spawn { .. }), "{err}");
}

#[tokio::test]
async fn a_large_input_to_a_process_that_ignores_it() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(dir.path(), "deaf.sh", "#!/bin/sh\nprintf '{}'\n");
    let backend = Subprocess::new().with("deaf", ActionSpec::new(&sh));
    let mut req = request("deaf", 1, b"");
    req.input = bytes::Bytes::from(vec![7u8; 4 << 20]);
    let r = one(&backend, "deaf", req).await.unwrap();
    assert_eq!(r, Response::new(Vec::new(), 1));
}

#[tokio::test]
async fn nonzero_exit_reports_status_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(
        dir.path(),
        "boom.sh",
        "#!/bin/sh\necho 'boom: frame 3 is corrupt' >&2\nexit 3\n",
    );
    let err_json = script(
        dir.path(),
        "err.sh",
        "#!/bin/sh\nprintf '{\"error\":\"no trees\"}'\nexit 1\n",
    );
    let backend = Subprocess::new()
        .with("boom", ActionSpec::new(&sh))
        .with("err", ActionSpec::new(&err_json));
    let err = one(&backend, "boom", request("boom", 1, b""))
        .await
        .unwrap_err();
    assert!(matches!(err, FnError::Exited { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "function `boom` exited with status 3; stderr: boom: frame 3 is corrupt"
    );
    let err = one(&backend, "err", request("err", 1, b""))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "function `err` failed: no trees");
}

#[tokio::test]
async fn stderr_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // 8 MB of stderr, then the line that matters.
    let sh = script(
        dir.path(),
        "noisy.sh",
        "#!/bin/sh\nhead -c 8000000 /dev/zero | tr '\\0' x >&2\necho ' the end' >&2\nexit 1\n",
    );
    let limits = Limits {
        max_stderr_bytes: 1000,
        ..Limits::default()
    };
    let backend = Subprocess::new().with("noisy", ActionSpec::new(&sh).limits(limits));
    let err = one(&backend, "noisy", request("noisy", 1, b""))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 1200, "{} bytes", text.len());
    assert!(
        text.contains("earlier bytes cut") && text.ends_with("the end"),
        "{text}"
    );
}

#[tokio::test]
async fn garbage_truncated_and_oversized_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("garbage", "#!/bin/sh\necho 'hello, world'\n", "not JSON"),
        (
            "truncated",
            "#!/bin/sh\nprintf '{\"output\":\"aGk'\n",
            "truncated",
        ),
        (
            "array",
            "#!/bin/sh\necho '[1, 2, 3]'\n",
            "not a JSON object",
        ),
        ("typo", "#!/bin/sh\necho '{\"ouput\":\"aGk=\"}'\n", "ouput"),
        (
            "binary",
            "#!/bin/sh\nhead -c 300 /dev/urandom\n",
            "response",
        ),
        ("silent", "#!/bin/sh\nexit 0\n", "no output"),
    ];
    let mut backend = Subprocess::new();
    for (name, body, _) in cases {
        backend.add(name, ActionSpec::new(script(dir.path(), name, body)));
    }
    for (name, _, why) in cases {
        let err = one(&backend, name, request(name, 1, b""))
            .await
            .unwrap_err();
        assert!(matches!(err, FnError::BadResponse { .. }), "{name}: {err}");
        assert!(err.to_string().contains(why), "{name}: {err}");
    }

    // A runaway writer: an error as soon as the limit is passed, and the
    // process is killed rather than read to its end.
    let yes = script(
        dir.path(),
        "yes.sh",
        "#!/bin/sh\necho $$ > \"$0.pid\"\nexec yes\n",
    );
    let limits = Limits {
        max_output_bytes: 1 << 20,
        ..Limits::default()
    };
    backend.add("yes", ActionSpec::new(&yes).limits(limits));
    let t0 = Instant::now();
    let err = one(&backend, "yes", request("yes", 1, b""))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FnError::OutputTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let pid = read_pid(&dir.path().join("yes.sh.pid"));
    assert!(wait_gone(pid).await, "the writer {pid} still runs");
}

#[tokio::test]
async fn timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(
        dir.path(),
        "hang.sh",
        "#!/bin/sh\necho $$ > \"$0.pid\"\nsleep 30 &\necho $! > \"$0.child\"\nwait\n",
    );
    let backend = Subprocess::new().with("hang", ActionSpec::new(&sh));
    let mut req = request("hang", 1, b"");
    req.deadline = Duration::from_millis(300);
    let t0 = Instant::now();
    let err = one(&backend, "hang", req).await.unwrap_err();
    let took = t0.elapsed();
    assert!(matches!(err, FnError::Timeout { .. }), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    for file in ["hang.sh.pid", "hang.sh.child"] {
        let pid = read_pid(&dir.path().join(file));
        assert!(wait_gone(pid).await, "{file}: {pid} still runs");
    }
}

#[tokio::test]
async fn a_background_child_does_not_hold_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    // It answers and exits, leaving a child that holds stdout open.
    let sh = script(
        dir.path(),
        "leaver.sh",
        "#!/bin/sh\nsleep 30 &\necho $! > \"$0.child\"\nprintf '{\"items\":4}'\n",
    );
    let backend = Subprocess::new().with("leaver", ActionSpec::new(&sh));
    let t0 = Instant::now();
    let r = one(&backend, "leaver", request("leaver", 1, b""))
        .await
        .unwrap();
    assert_eq!(r.items, 4);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let pid = read_pid(&dir.path().join("leaver.sh.child"));
    assert!(
        wait_gone(pid).await,
        "the left-behind child {pid} still runs"
    );
}

#[tokio::test]
async fn memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let py = script(
        dir.path(),
        "hog.py",
        "#!/usr/bin/env python3\nx = bytearray(2 * 1024 ** 3)\nprint('{}')\n",
    );
    let limits = Limits {
        memory_bytes: Some(256 << 20),
        ..Limits::default()
    };
    let backend = Subprocess::new().with("hog", ActionSpec::new(&py).limits(limits));
    let err = one(&backend, "hog", request("hog", 1, b""))
        .await
        .unwrap_err();
    assert!(matches!(err, FnError::Exited { .. }), "{err}");
    assert!(err.to_string().contains("MemoryError"), "{err}");
}

#[tokio::test]
async fn cpu_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(dir.path(), "spin.sh", "#!/bin/sh\nwhile :; do :; done\n");
    let limits = Limits {
        cpu_seconds: Some(1),
        ..Limits::default()
    };
    let backend = Subprocess::new().with("spin", ActionSpec::new(&sh).limits(limits));
    let err = one(&backend, "spin", request("spin", 1, b""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SIGXCPU"), "{err}");
}

fn persistent(dir: &Path, exit_after: Option<u32>) -> Subprocess {
    let py = script(dir, "worker.py", PY_PERSISTENT);
    let mut spec = ActionSpec::new(py).mode(Mode::Persistent);
    if let Some(n) = exit_after {
        spec.env.insert("EXIT_AFTER".into(), n.to_string());
    }
    Subprocess::new().with("detect", spec)
}

fn text(r: &Response) -> String {
    String::from_utf8(r.output.to_vec()).unwrap()
}

#[tokio::test]
async fn persistent_worker_is_reused_warm() {
    let dir = tempfile::tempdir().unwrap();
    let backend = persistent(dir.path(), None);
    let w = backend.start("detect").await.unwrap();
    let mut pids = Vec::new();
    for n in 1..=5u32 {
        let r = w
            .invoke(request("detect", u64::from(n), b"frame"))
            .await
            .unwrap();
        let t = text(&r);
        let parts: Vec<&str> = t.split(':').collect();
        assert_eq!(
            (parts[0], parts[1], parts[3]),
            ("detect", &*n.to_string(), "frame")
        );
        assert_eq!(r.items, n);
        pids.push(parts[2].to_string());
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one process served every invocation");
    // A reported failure leaves the worker alive.
    let mut fail = request("detect", 9, b"");
    fail.params = serde_json::json!("fail");
    let err = w.invoke(fail).await.unwrap_err();
    assert_eq!(err.to_string(), "function `detect` failed: bad frame 6");
    assert!(w.is_alive());
    // Concurrent invocations queue for the one process.
    let w: std::sync::Arc<dyn Worker> = std::sync::Arc::from(w);
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.invoke(request("detect", i, b"x")).await })
        })
        .collect();
    let mut counts = Vec::new();
    for c in calls {
        counts.push(c.await.unwrap().unwrap().items);
    }
    counts.sort();
    assert_eq!(counts, (7..=14).collect::<Vec<u32>>());
    let pid: i32 = pids[0].parse().unwrap();
    w.stop().await;
    assert!(!w.is_alive());
    assert!(wait_gone(pid).await, "stop left {pid} running");
    let err = w.invoke(request("detect", 1, b"")).await.unwrap_err();
    assert_eq!(err.to_string(), "worker of `detect` is dead: stopped");
}

#[tokio::test]
async fn persistent_worker_dying_between_invocations() {
    let dir = tempfile::tempdir().unwrap();
    // It leaves on its own after two answers.
    let backend = persistent(dir.path(), Some(2));
    let w = backend.start("detect").await.unwrap();
    w.invoke(request("detect", 1, b"a")).await.unwrap();
    w.invoke(request("detect", 2, b"b")).await.unwrap();
    for _ in 0..200 {
        if !w.is_alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!w.is_alive(), "the watcher saw the exit");
    let err = w.invoke(request("detect", 3, b"c")).await.unwrap_err();
    assert!(matches!(err, FnError::WorkerDead { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("exited with status 0") && text.contains("leaving after 2"),
        "{text}"
    );

    // Killed from outside while idle: the next invocation errors.
    let backend = persistent(dir.path(), None);
    let w = backend.start("detect").await.unwrap();
    let r = w.invoke(request("detect", 1, b"a")).await.unwrap();
    let pid: i32 = text_pid(&r);
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let err = w.invoke(request("detect", 2, b"b")).await.unwrap_err();
    assert!(
        matches!(err, FnError::WorkerDead { .. } | FnError::Exited { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SIGKILL"), "{err}");
    assert!(!w.is_alive());

    // Restart: the runtime starts another worker, which serves from scratch.
    let again = backend.start("detect").await.unwrap();
    let r = again.invoke(request("detect", 3, b"c")).await.unwrap();
    assert_eq!(r.items, 1, "a fresh process");
    assert_ne!(text_pid(&r), pid);
    again.stop().await;
}

fn text_pid(r: &Response) -> i32 {
    text(r).split(':').nth(2).unwrap().parse().unwrap()
}

#[tokio::test]
async fn persistent_timeout_and_garbage_kill_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let backend = persistent(dir.path(), None);
    let w = backend.start("detect").await.unwrap();
    let pid = text_pid(&w.invoke(request("detect", 1, b"a")).await.unwrap());
    let mut slow = request("detect", 2, b"");
    slow.params = serde_json::json!("sleep");
    slow.deadline = Duration::from_millis(300);
    let t0 = Instant::now();
    let err = w.invoke(slow).await.unwrap_err();
    assert!(matches!(err, FnError::Timeout { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(!w.is_alive());
    assert!(
        wait_gone(pid).await,
        "the timed-out worker {pid} still runs"
    );

    let w = backend.start("detect").await.unwrap();
    let pid = text_pid(&w.invoke(request("detect", 1, b"a")).await.unwrap());
    let mut bad = request("detect", 2, b"");
    bad.params = serde_json::json!("garbage");
    let err = w.invoke(bad).await.unwrap_err();
    assert!(matches!(err, FnError::BadResponse { .. }), "{err}");
    assert!(!w.is_alive());
    assert!(wait_gone(pid).await);
}

#[tokio::test]
async fn persistent_oversized_line() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(
        dir.path(),
        "flood.sh",
        "#!/bin/sh\nread line\nhead -c 5000000 /dev/zero | tr '\\0' a\n",
    );
    let limits = Limits {
        max_output_bytes: 64 << 10,
        ..Limits::default()
    };
    let backend = Subprocess::new().with(
        "flood",
        ActionSpec::new(&sh).mode(Mode::Persistent).limits(limits),
    );
    let w = backend.start("flood").await.unwrap();
    let err = w.invoke(request("flood", 1, b"")).await.unwrap_err();
    assert!(matches!(err, FnError::OutputTooLarge { .. }), "{err}");
    assert!(!w.is_alive());
}

#[tokio::test]
async fn cancelling_a_one_shot_kills_it() {
    let dir = tempfile::tempdir().unwrap();
    let sh = script(
        dir.path(),
        "slow.sh",
        "#!/bin/sh\necho $$ > \"$0.pid\"\nexec sleep 30\n",
    );
    let backend = Subprocess::new().with("slow", ActionSpec::new(&sh));
    let w = backend.start("slow").await.unwrap();
    let pidfile = dir.path().join("slow.sh.pid");
    let call = w.invoke(request("slow", 1, b""));
    let _ = tokio::time::timeout(Duration::from_millis(300), call).await;
    assert!(pidfile.exists());
    let pid = read_pid(&pidfile);
    assert!(
        wait_gone(pid).await,
        "cancelled invocation's process {pid} still runs"
    );
}

#[tokio::test]
async fn persistent_start_waits_for_ready() {
    let dir = tempfile::tempdir().unwrap();
    // Loads its "model" for 300 ms, then says so, then serves.
    let slow = script(
        dir.path(),
        "slow_ready.py",
        &format!(
            "#!/usr/bin/env python3\nimport time\ntime.sleep(0.3)\nprint('{{\"ready\": true}}', flush=True)\n{}",
            PY_PERSISTENT.trim_start_matches("#!/usr/bin/env python3\n")
        ),
    );
    let chatty = script(
        dir.path(),
        "chatty.sh",
        "#!/bin/sh\necho 'loading...'\nsleep 30\n",
    );
    let quitter = script(
        dir.path(),
        "quitter.sh",
        "#!/bin/sh\necho 'no model' >&2\nexit 4\n",
    );
    let mute = script(dir.path(), "mute.sh", "#!/bin/sh\nexec sleep 30\n");
    let quick_start = Limits {
        start_timeout_ms: 300,
        ..Limits::default()
    };
    let backend = Subprocess::new()
        .with("slow", ActionSpec::new(&slow).wait_ready())
        .with("chatty", ActionSpec::new(&chatty).wait_ready())
        .with("quitter", ActionSpec::new(&quitter).wait_ready())
        .with(
            "mute",
            ActionSpec::new(&mute).wait_ready().limits(quick_start),
        );

    let t0 = Instant::now();
    let w = backend.start("slow").await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "the cold start includes loading"
    );
    let r = w.invoke(request("slow", 1, b"x")).await.unwrap();
    assert_eq!(r.items, 1);
    let t0 = Instant::now();
    w.invoke(request("slow", 2, b"x")).await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(300),
        "warm after ready"
    );
    w.stop().await;

    let err = backend.start("chatty").await.err().unwrap();
    assert!(matches!(err, FnError::BadResponse { .. }), "{err}");
    assert!(err.to_string().contains("ready"), "{err}");
    let err = backend.start("quitter").await.err().unwrap();
    assert!(matches!(err, FnError::Exited { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("exited with status 4 before it was ready")
            && err.to_string().contains("no model"),
        "{err}"
    );
    let t0 = Instant::now();
    let err = backend.start("mute").await.err().unwrap();
    assert!(matches!(err, FnError::Timeout { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}
