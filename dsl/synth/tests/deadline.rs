//! The deadline is hard and the memory cap is enforced: whatever z3 is
//! doing, the call returns in time with the best plan found so far.

use hivemind_cost::Profile;
use hivemind_synth::bench::{mission, Family};
use hivemind_synth::{synthesize, Options, Status, Stop};
use std::time::{Duration, Instant};

fn hard_instance() -> hivemind_ir::TaskGraph {
    // A budget and a battery reserve that bind at 200 tasks: not proven in
    // 5 s (release) when this was written.
    let src = mission(Family::Battery, 200, 1).expect("mission");
    hivemind_dsl::compile(&src, "hard.hm")
        .graph
        .expect("compiles")
}

#[test]
fn one_second_on_a_hard_instance_returns_within_two_with_a_plan() {
    let graph = hard_instance();
    let started = Instant::now();
    let out = synthesize(
        &graph,
        Profile::default(),
        &Options {
            timeout: Duration::from_secs(1),
            ..Options::default()
        },
    )
    .expect("a plan");
    let took = started.elapsed();
    eprintln!("1 s synthesis took {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(out.status, Status::Feasible);
    assert!(out.plan.is_some());
    assert_eq!(out.stopped, Some(Stop::Deadline));
    let gap = out.gap.expect("a gap for an unproven plan");
    assert!(gap.lower_bound <= gap.found, "{gap:?}");
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
