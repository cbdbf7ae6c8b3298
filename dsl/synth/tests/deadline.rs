//! The deadline is hard and the memory cap is enforced: whatever z3 is
//! doing, the call returns in time with the best plan found so far. z3
//! stages run in a worker process (the crate's `hivemind-synth-worker`
//! here; a program's own executable normally) that is killed at the
//! deadline; a worker that hangs, crashes, writes garbage or answers a
//! placement that does not hold leaves the synthesis with its incumbent.

use hivemind_cost::Profile;
use hivemind_synth::bench::{mission, Family};
use hivemind_synth::{synthesize, Options, Status, Stop, Synthesis, Worker, Z3End};
use std::time::{Duration, Instant};

fn instance(family: Family, tasks: usize) -> hivemind_ir::TaskGraph {
    let src = mission(family, tasks, 1).expect("mission");
    hivemind_dsl::compile(&src, "hard.hm")
        .graph
        .expect("compiles")
}

/// `bench::mission(Family::Battery, 1_000, 1)`, stored: generating it takes
/// 30 s in release (`families -- mission family=battery tasks=1000 seeds=1`).
fn battery_1000() -> hivemind_ir::TaskGraph {
    hivemind_dsl::compile(include_str!("data/battery-1000-s1.hm"), "battery-1000.hm")
        .graph
        .expect("compiles")
}

fn hard_instance() -> hivemind_ir::TaskGraph {
    // A budget and a battery reserve that bind at 200 tasks: not proven in
    // 5 s (release) when this was written.
    instance(Family::Battery, 200)
}

fn worker() -> Worker {
    Worker::program(env!("CARGO_BIN_EXE_hivemind-synth-worker"))
}

/// A worker that is a shell script reading the job and then doing `then`.
fn script(then: &str) -> Worker {
    Worker::Child {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), format!("cat >/dev/null; {then}")],
    }
}

fn synth(graph: &hivemind_ir::TaskGraph, timeout: Duration, z3_worker: Worker) -> Synthesis {
    synthesize(
        graph,
        Profile::default(),
        &Options {
            timeout,
            z3_worker,
            ..Options::default()
        },
    )
    .expect("a plan")
}

/// An unproven plan that holds, with a sound gap.
fn assert_feasible_with_gap(out: &Synthesis) {
    assert_eq!(out.status, Status::Feasible, "{:?}", out.z3_runs);
    assert!(out.plan.is_some());
    let gap = out.gap.as_ref().expect("a gap for an unproven plan");
    assert!(gap.lower_bound <= gap.found, "{gap:?}");
}

/// The test the issue asks for, at 1,000 tasks (a mission on which z3
/// 4.8.12 was measured preprocessing for ~18 s without answering an
/// interrupt, in session 10; in process it answered in time in every run
/// of session 11, so an in-process run of this test does not reliably
/// fail: `a_worker_that_hangs_is_killed_at_the_deadline` is the
/// deterministic form, a worker that never answers).
#[test]
fn one_second_on_a_hard_1000_task_instance_returns_within_two_with_a_plan() {
    let graph = battery_1000();
    let started = Instant::now();
    let out = synth(&graph, Duration::from_secs(1), worker());
    let took = started.elapsed();
    eprintln!("1 s synthesis took {took:?}; z3 stages {:?}", out.z3_runs);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_feasible_with_gap(&out);
    assert_eq!(out.stopped, Some(Stop::Deadline));
    // The z3 stages ran, in the worker, and the deadline cut one.
    assert!(out.z3_runs.iter().all(|r| r.in_process.is_none()));
    assert!(
        out.z3_runs.iter().any(|r| r.end
            == Z3End::Cut {
                stop: Stop::Deadline
            }),
        "{:?}",
        out.z3_runs
    );
}

#[test]
fn one_second_on_a_hard_instance_returns_within_two_with_a_plan() {
    let graph = hard_instance();
    let started = Instant::now();
    let out = synth(&graph, Duration::from_secs(1), worker());
    let took = started.elapsed();
    eprintln!("1 s synthesis took {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_feasible_with_gap(&out);
    assert_eq!(out.stopped, Some(Stop::Deadline));
}

#[test]
fn a_worker_that_hangs_is_killed_at_the_deadline() {
    let graph = hard_instance();
    let started = Instant::now();
    let out = synth(&graph, Duration::from_secs(3), script("exec sleep 60"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_feasible_with_gap(&out);
    assert!(!out.z3_runs.is_empty());
    for r in &out.z3_runs {
        assert_eq!(
            r.end,
            Z3End::Cut {
                stop: Stop::Deadline
            },
            "{r:?}"
        );
        assert_eq!(r.in_process, None);
    }
    let text = hivemind_synth::report::render(&graph, &out);
    assert!(text.contains("cut at the deadline"), "{text}");
}

#[test]
fn a_worker_that_crashes_or_writes_garbage_leaves_the_incumbent() {
    let graph = hard_instance();
    for (then, expect) in [
        ("echo boom >&2; exit 3", "crashed"),
        ("echo not-an-answer", "garbage"),
        ("exit 0", "crashed"),
    ] {
        let out = synth(&graph, Duration::from_secs(3), script(then));
        assert_feasible_with_gap(&out);
        assert!(!out.z3_runs.is_empty(), "{then}");
        for r in &out.z3_runs {
            match (&r.end, expect) {
                (Z3End::Crashed { reason }, "crashed") => {
                    if then.contains("boom") {
                        assert!(reason.contains("boom"), "{reason}");
                    }
                }
                (Z3End::Garbage { reason }, "garbage") => {
                    assert!(reason.starts_with("not an answer"), "{reason}")
                }
                // A stage left a few milliseconds on a loaded machine may
                // be cut before the script has run.
                (Z3End::Cut { .. }, _) => {}
                (end, _) => panic!("{then}: {end:?}"),
            }
        }
    }
}

#[test]
fn a_worker_answer_that_does_not_hold_is_refused() {
    // The all-edge placement loads every drone fleet to 200%: it holds no
    // requirement, whatever the worker claims about it.
    let graph = instance(Family::Cpu, 200);
    let all_edge = vec!["\"edge\""; graph.tasks.len()].join(",");
    let then = format!(
        "echo '{{\"found\":{{\"assignment\":[{all_edge}],\"value\":0}}}}'; \
         echo '{{\"done\":{{\"outcome\":{{\"optimal\":{{\"value\":0}}}}}}}}'"
    );
    let out = synth(&graph, Duration::from_secs(3), script(&then));
    assert_feasible_with_gap(&out);
    // Every stage that heard the lie refused it; a stage left a few
    // milliseconds on a loaded machine may be cut before the script
    // answers, never accepted.
    assert!(
        out.z3_runs
            .iter()
            .any(|r| matches!(r.end, Z3End::Rejected { .. })),
        "{:?}",
        out.z3_runs
    );
    for r in &out.z3_runs {
        assert!(
            matches!(r.end, Z3End::Rejected { .. } | Z3End::Cut { .. }),
            "{r:?}"
        );
    }
}

#[test]
fn the_memory_cap_stops_the_search_with_the_greedy_plan() {
    let graph = hard_instance();
    let started = Instant::now();
    let out = synthesize(
        &graph,
        Profile::default(),
        &Options {
            timeout: Duration::from_secs(30),
            // Far below what the process already uses.
            memory_mib: Some(1),
            z3_worker: worker(),
            ..Options::default()
        },
    )
    .expect("a plan");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.stopped, Some(Stop::Memory));
    assert_eq!(out.status, Status::Feasible);
    assert!(out.plan.is_some());
    assert!(out.peak_rss_mib > 1);
}

#[test]
fn the_worker_gets_what_the_memory_cap_leaves_as_its_address_space() {
    let graph = hard_instance();
    // The worker prints its address-space limit (KiB) instead of answering.
    let out = synthesize(
        &graph,
        Profile::default(),
        &Options {
            timeout: Duration::from_secs(3),
            memory_mib: Some(600),
            z3_worker: script("ulimit -v"),
            ..Options::default()
        },
    )
    .expect("a plan");
    assert_feasible_with_gap(&out);
    assert!(!out.z3_runs.is_empty());
    for r in &out.z3_runs {
        let Z3End::Garbage { reason } = &r.end else {
            panic!("{r:?}")
        };
        let kib: u64 = reason
            .rsplit(": \"")
            .next()
            .and_then(|s| s.trim_end_matches('"').trim_end_matches("\\n").parse().ok())
            .unwrap_or_else(|| panic!("no limit in {reason}"));
        // 600 MiB less this process's resident memory, at least 256 MiB.
        assert!((256 * 1024..600 * 1024).contains(&kib), "{kib} KiB");
    }
}
