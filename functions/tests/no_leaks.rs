//! Descriptors and processes do not leak over many concurrent one-shot
//! invocations. Its own test binary: `/proc/self/fd` counts the whole
//! process, so no other test may run beside it.

use hivemind_functions::{ActionSpec, Backend, Request, Subprocess, Worker};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn request(function: &str, instance: u64, input: &'static [u8]) -> Request {
    let mut r = Request::new(function, 5, instance);
    r.input = bytes::Bytes::from_static(input);
    r.deadline = Duration::from_secs(20);
    r
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_one_shots_leak_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sh = dir.path().join("count.sh");
    std::fs::write(
        &sh,
        concat!(
            "#!/bin/sh\n",
            "read -r line\n",
            "printf '{\"output_text\":\"%s\",\"items\":1}\\n' \"${#line}\"\n",
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backend = Subprocess::new().with("count", ActionSpec::new(&sh));
    let w: std::sync::Arc<dyn Worker> = std::sync::Arc::from(backend.start("count").await.unwrap());
    // One round first, so lazily opened descriptors (the runtime's signal
    // pipe, tokio's reaper) are not counted as leaks.
    w.invoke(request("count", 0, b"warm-up")).await.unwrap();
    let before = open_fds();
    for round in 0..3 {
        let calls: Vec<_> = (0..16u64)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move { w.invoke(request("count", i, b"abc")).await })
            })
            .collect();
        for c in calls {
            let r = c
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            // The length of the request line the process read.
            let n: usize = std::str::from_utf8(&r.output).unwrap().parse().unwrap();
            assert!(n > 100, "round {round}: a {n}-byte request?");
        }
    }
    let after = open_fds();
    assert!(
        after <= before + 2,
        "descriptors: {before} before, {after} after"
    );
}
