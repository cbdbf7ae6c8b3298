//! Invocation latencies, printed as median / p99 / max:
//!
//! * warm in-process invocation (a trivial function; target < 50 µs), and
//!   the synthetic family with no work;
//! * subprocess cold start: a one-shot invocation of a tiny C program
//!   (compiled with `cc` into a temporary directory when a compiler is
//!   there), a `/bin/sh` script and a python3 script (target < 20 ms);
//! * persistent subprocess warm invocation (C and python3).
//!
//! `cargo bench -p hivemind-functions` (or `-- --quick` for fewer rounds).

use hivemind_functions::{
    ActionSpec, Backend, Ctx, InProcess, Mode, Registry, Request, Response, Subprocess, Worker,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const C_ONESHOT: &str = r#"
#include <stdio.h>
int main(void) {
    char buf[4096];
    while (fread(buf, 1, sizeof buf, stdin) > 0) {}
    fputs("{\"output_text\":\"ok\",\"items\":1}\n", stdout);
    return 0;
}
"#;

const C_PERSISTENT: &str = r#"
#include <stdio.h>
int main(void) {
    int c;
    while ((c = getchar()) != EOF) {
        if (c == '\n') {
            fputs("{\"output_text\":\"ok\",\"items\":1}\n", stdout);
            fflush(stdout);
        }
    }
    return 0;
}
"#;

const PY_ONESHOT: &str =
    "#!/usr/bin/env python3\nimport json, sys\njson.load(sys.stdin)\nprint('{\"items\":1}')\n";

const PY_PERSISTENT: &str = "#!/usr/bin/env python3\nimport json, sys\nfor line in sys.stdin:\n    json.loads(line)\n    print('{\"items\":1}', flush=True)\n";

const SH_ONESHOT: &str = "#!/bin/sh\nprintf '{\"items\":1}\\n'\n";

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    // A version-manager shim behind `env python3` costs ~170 ms a start
    // here: measure python, not the shim.
    let body = if Path::new("/usr/bin/python3").exists() {
        body.replace("#!/usr/bin/env python3", "#!/usr/bin/python3")
    } else {
        body.to_string()
    };
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn compile(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(name);
    std::fs::write(&src, source).ok()?;
    let ok = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .ok()?
        .success();
    ok.then_some(out)
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<44} n={:<6} median {:>10.1?}  p99 {:>10.1?}  max {:>10.1?}",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

async fn warm(worker: &dyn Worker, req: &Request, n: usize) -> Vec<Duration> {
    // Warm-up: first-touch allocations, blocking-pool threads.
    for _ in 0..(n / 10).max(5) {
        worker
            .invoke(req.clone())
            .await
            .expect("warm-up invocation");
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        worker.invoke(req.clone()).await.expect("invocation");
        samples.push(t0.elapsed());
    }
    samples
}

async fn cold(backend: &dyn Backend, function: &str, n: usize) -> Vec<Duration> {
    let req = Request::new(function, 0, 0);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let t0 = Instant::now();
        let w = backend.start(function).await.expect("start");
        w.invoke(req.clone()).await.expect("invocation");
        let took = t0.elapsed();
        w.stop().await;
        if i >= 3 {
            samples.push(took);
        }
    }
    samples
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut reg = Registry::new();
        reg.register("echo", |_: &Ctx, req: &Request| {
            Ok(Response::new(req.input.clone(), 1))
        });
        reg.register_inline("echo_inline", |_: &Ctx, req: &Request| {
            Ok(Response::new(req.input.clone(), 1))
        });
        let inproc = InProcess::new(reg).with_synthetic_fallback(true);
        let mut req = Request::new("echo", 1, 1);
        req.input = bytes::Bytes::from_static(b"a small frame");
        let w = inproc.start("echo").await.expect("start echo");
        report(
            "in-process warm invoke (echo)",
            warm(&*w, &req, 50_000 / scale).await,
        );
        let w = inproc
            .start("echo_inline")
            .await
            .expect("start echo_inline");
        report(
            "in-process warm invoke (echo, inline)",
            warm(&*w, &req, 50_000 / scale).await,
        );
        let w = inproc.start("unwritten").await.expect("start synthetic");
        let mut sreq = Request::new("unwritten", 1, 1);
        sreq.params = serde_json::json!({"output_bytes": 1024, "output_items": 2});
        report(
            "in-process warm invoke (synthetic, 1 KiB out)",
            warm(&*w, &sreq, 50_000 / scale).await,
        );
        report(
            "in-process cold start + invoke (echo)",
            cold(&inproc, "echo", 5_000 / scale).await,
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let mut sub = Subprocess::new();
        let c_oneshot = compile(dir.path(), "oneshot", C_ONESHOT);
        let c_persistent = compile(dir.path(), "persistent", C_PERSISTENT);
        if let Some(p) = &c_oneshot {
            sub.add("c_oneshot", ActionSpec::new(p));
        }
        if let Some(p) = &c_persistent {
            sub.add("c_persistent", ActionSpec::new(p).mode(Mode::Persistent));
        }
        sub.add(
            "sh_oneshot",
            ActionSpec::new(write_script(dir.path(), "o.sh", SH_ONESHOT)),
        );
        sub.add(
            "py_oneshot",
            ActionSpec::new(write_script(dir.path(), "o.py", PY_ONESHOT)),
        );
        sub.add(
            "py_persistent",
            ActionSpec::new(write_script(dir.path(), "p.py", PY_PERSISTENT)).mode(Mode::Persistent),
        );
        if c_oneshot.is_none() {
            println!("(no C compiler: the C rows are skipped)");
        }
        for (name, n) in [("c_oneshot", 500), ("sh_oneshot", 500), ("py_oneshot", 50)] {
            if sub.has(name) {
                let w = sub.start(name).await.expect("start");
                let samples = warm(&*w, &Request::new(name, 0, 0), n / scale.min(5)).await;
                report(
                    &format!("subprocess cold start, one-shot ({name})"),
                    samples,
                );
            }
        }
        for (name, n) in [("c_persistent", 200), ("py_persistent", 50)] {
            if sub.has(name) {
                report(
                    &format!("subprocess cold start, persistent ({name})"),
                    cold(&sub, name, n / scale.min(5)).await,
                );
            }
        }
        for (name, n) in [("c_persistent", 20_000), ("py_persistent", 20_000)] {
            if sub.has(name) {
                let w = sub.start(name).await.expect("start");
                let mut r = Request::new(name, 0, 0);
                r.input = bytes::Bytes::from_static(b"a small frame");
                report(
                    &format!("subprocess warm invoke, persistent ({name})"),
                    warm(&*w, &r, n / scale).await,
                );
                w.stop().await;
            }
        }
    });
}
