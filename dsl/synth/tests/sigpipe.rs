//! A z3 worker that dies before reading its job does not kill a program
//! that restores SIGPIPE's default action (as the `hivemind` CLI does): the
//! write to the worker's stdin fails instead. Its own test binary, because
//! it changes the process's signal disposition.

use hivemind_cost::Profile;
use hivemind_synth::{synthesize, Options, Status, Worker, Z3End};
use std::time::Duration;

#[test]
fn a_worker_that_never_reads_its_job_does_not_kill_the_caller() {
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE; this binary has
    // no other test that could be writing to a pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A 1,000-task job is more than a pipe holds.
    let graph = hivemind_dsl::compile(include_str!("data/battery-1000-s1.hm"), "b.hm")
        .graph
        .expect("compiles");
    let out = synthesize(
        &graph,
        Profile::default(),
        &Options {
            // Long enough that a z3 stage gets more than the few ms a
            // crash takes to be seen (at 5 s one CI run left a stage 17 ms).
            timeout: Duration::from_secs(10),
            z3_worker: Worker::Child {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "exit 3".into()],
            },
            ..Options::default()
        },
    )
    .expect("a plan");
    // Reaching here is the point: the process did not die of SIGPIPE.
    assert_eq!(out.status, Status::Feasible);
    // Every stage saw the worker crash (6–7 ms each here), except one the
    // deadline cut first on a loaded machine; at least one saw it.
    for r in &out.z3_runs {
        assert!(
            matches!(r.end, Z3End::Crashed { .. } | Z3End::Cut { .. }),
            "{r:?}"
        );
    }
    assert!(
        out.z3_runs
            .iter()
            .any(|r| matches!(r.end, Z3End::Crashed { .. })),
        "{:?}",
        out.z3_runs
    );
}
