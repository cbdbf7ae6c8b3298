//! Deterministic scenarios on a virtual clock: failures, flapping,
//! stragglers, mass loss, and the ten example missions.

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::core::DeviceStatus;
use hivemind_controller::{
    BehaviourCommand, Config, Controller, DeviceId, DeviceMsg, Effect, Event, Executor, Micros,
    Phase, Publication,
};
use hivemind_sim::{simple_plan, Input, Timing, World, WorldConfig};
use std::collections::BTreeMap;

#[test]
fn survey_runs_clean_and_pool_reuses_warm_workers() {
    let mut w = world(survey(4), WorldConfig::default());
    w.stop_at(Micros::from_secs(5));
    w.run_until(Micros::from_secs(3));
    let loads = w.ctl.state().pool.core_loads().to_vec();
    let (lo, hi) = (
        loads.iter().map(|c| c.heavy).min().unwrap_or(0),
        loads.iter().map(|c| c.heavy).max().unwrap_or(0),
    );
    assert!(hi - lo <= 1, "heavy workers spread evenly: {loads:?}");
    w.run_to_end(Micros::from_secs(60));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "{r:#?}");
    assert!(r.failures.is_empty());
    assert_cover_partition(w.ctl.state(), 1);
    assert_exactly_once(&w, 1);
    for t in &r.tasks {
        if t.task != "sweep" {
            assert!(t.completed > 0, "{} never completed", t.task);
        }
        assert_eq!(t.created, t.completed, "{}", t.task);
    }
    // Prewarmed from the plan (one worker per function), autoscaled, then reused warm.
    assert!(r.pool.cold_starts >= 2);
    assert!(r.pool.warm_invocations > r.pool.cold_starts, "{:?}", r.pool);
    // Heavy `cls` workers on 2x8 cores: the first 16 get a core each, any
    // more must share, spread evenly.
    let heavy = r.pool.cold_starts - 1;
    assert_eq!(
        r.pool.interference_conflicts,
        heavy.saturating_sub(16),
        "{:?}",
        r.pool
    );
    // Mission over: every worker stopped.
    assert!(w.ctl.state().pool.workers.is_empty());
}

/// A device falls silent at 5 s: at 3 s of silence (within one 100 ms tick)
/// it is declared failed, its strip is shared among its nearest survivors
/// (the area stays partitioned), its in-flight work is re-placed, and the
/// mission completes everything.
#[test]
fn device_failure_at_3s_repartitions() {
    let mut w = world(survey(8), WorldConfig::default());
    let victim = DeviceId(3);
    w.kill(Micros::from_secs(5), victim);
    w.stop_at(Micros::from_secs(12));
    let last_beat_of = |w: &World| {
        w.log
            .iter()
            .rev()
            .filter(|(_, e)| {
                matches!(e, Input::Event(Event::Heartbeat { device, .. }) if *device == victim)
            })
            .map(|(t, _)| *t)
            .next()
    };
    assert!(last_beat_of(&w).is_none(), "nothing handled yet");
    w.run_until(Micros::from_secs(5));
    let last_beat = last_beat_of(&w).expect("victim sent heartbeats");
    let strips_before = w.ctl.state().devices[&victim].cover.clone();
    assert_eq!(strips_before.len(), 1);
    w.run_until(last_beat.plus(2_900_000));
    assert_eq!(
        w.ctl.state().devices[&victim].status,
        DeviceStatus::Alive,
        "not before 3 s"
    );
    w.run_until(last_beat.plus(3_100_000));
    assert_eq!(w.ctl.state().devices[&victim].status, DeviceStatus::Failed);
    let failed_at = w
        .publications
        .iter()
        .find_map(|(t, p)| {
            matches!(p, Publication::DeviceFailed { device, .. } if *device == victim).then_some(*t)
        })
        .expect("failure published");
    assert!(failed_at.since(last_beat) >= 3_000_000 && failed_at.since(last_beat) <= 3_100_000);
    assert!(w
        .publications
        .iter()
        .any(|(t, p)| *t == failed_at && matches!(p, Publication::Repartitioned { .. })));
    // The survivors that took a piece were told at the same instant, and what
    // they were told is what the state holds.
    let told: BTreeMap<DeviceId, Vec<_>> = w
        .effects
        .iter()
        .filter(|(t, _)| *t == failed_at)
        .filter_map(|(_, e)| match e {
            Effect::Device {
                device,
                msg: DeviceMsg::Behave(BehaviourCommand::Cover { strips, .. }),
                ..
            } => Some((*device, strips.clone())),
            _ => None,
        })
        .collect();
    assert!(!told.is_empty() && told.len() <= 4, "{told:?}");
    for (d, strips) in &told {
        assert_ne!(*d, victim);
        assert_eq!(&w.ctl.state().devices[d].cover, strips);
    }
    // The victim's strip is now covered by the devices told, exactly.
    let s = strips_before[0];
    let covered: i64 = told
        .values()
        .flatten()
        .map(|x| (x.x_max.min(s.x_max) - x.x_min.max(s.x_min)).max(0))
        .sum();
    assert_eq!(covered, s.width());
    assert_cover_partition(w.ctl.state(), 3);
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert_eq!(r.counters.devices_failed, 1);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_exactly_once(&w, 3);
}

/// A device drops off the network three times (results buffered), is
/// declared failed each time, then replays its buffered results with the
/// old epoch and registers again with a new one. Stale results are merged
/// when their instance is still open, discarded as duplicates otherwise;
/// the captures it fired by itself and reported late count after all
/// (recovered), those whose firings were never created are dropped as
/// unknown; nothing completes twice and the area stays partitioned.
#[test]
fn flapping_device() {
    let mut w = world(survey(6), WorldConfig::default());
    let d = DeviceId(2);
    for k in 0..3u64 {
        let from = Micros::from_secs(2 + k * 6);
        w.disconnect(from, from.plus(4_200_000), d);
    }
    w.stop_at(Micros::from_secs(22));
    let mut epochs = Vec::new();
    for s in 1..=22 {
        w.run_until(Micros::from_secs(s));
        assert_cover_partition(w.ctl.state(), s);
        epochs.push(w.ctl.state().devices[&d].epoch.0);
    }
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert_eq!(
        w.ctl.state().devices[&d].epoch.0,
        4,
        "epochs seen: {epochs:?}"
    );
    assert_eq!(r.counters.devices_failed, 3);
    assert_eq!(r.counters.rejoins, 3);
    assert!(r.counters.recovered > 0, "{r:#?}");
    assert!(r.tasks.iter().all(|t| t.lost == 0), "{r:#?}");
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_exactly_once(&w, 2);
    // Energy is summed across the device's epochs.
    let dev = r
        .devices
        .iter()
        .find(|x| x.device == 2)
        .expect("device in report");
    assert!(dev.energy_uj >= 15_000_000, "{dev:?}");
}

/// Jobs the cloud hands to any drone (not a device's own sensing, which
/// is never copied elsewhere), under a relaunch policy.
fn relay(drones: u32) -> hivemind_ir::TaskGraph {
    let src = format!(
        "mission relay {{
  duration 10 min
  fleet drones: drone x {drones} {{
    cpu 1.0 GHz x 1
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    speed 5 m/s
    home (0 m, 0 m)
  }}
  cloud {{ servers 2; cores 8 each }}
  task tile at cloud -> job: blob 4 KB {{ every 100 ms; work 1 Mop }}
  task solve(job) on drones -> answer: blob 1 KB {{ work 0.1 Gop }}
  task log(answer) at cloud {{ work 1 Mop }}
  on straggler(2x median) {{ relaunch }}
}}
"
    );
    hivemind_dsl::compile(&src, "relay.hm")
        .graph
        .expect("relay compiles")
}

/// A device's own sensing (`capture` on every drone, and the detector fed
/// on the drone) is never copied to another drone when it straggles: the
/// copy would sense another place, and its device-local chain would run
/// twice. The slow drone's work still completes, exactly once.
#[test]
fn a_slow_devices_own_sensing_is_not_relaunched_elsewhere() {
    let cfg = WorldConfig {
        slow: vec![(DeviceId(0), 20)],
        ..WorldConfig::default()
    };
    let mut w = world(survey(4), cfg);
    w.stop_at(Micros::from_secs(10));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "{r:#?}");
    assert_eq!(r.counters.relaunches, 0, "{:?}", r.counters);
    assert!(r.counters.relaunches_withheld > 0, "{:?}", r.counters);
    assert_eq!(r.counters.unknown_results, 0, "{:?}", r.counters);
    for t in &r.tasks {
        assert_eq!(t.created, t.completed, "{}", t.task);
    }
    assert_exactly_once(&w, 1);
}

/// Device 0 runs 20x slower. Once the task kind has a median, its attempts
/// exceed 2x the median and are relaunched on another device; the first
/// result wins, the loser is cancelled, and nothing is counted twice.
#[test]
fn straggler_relaunch_first_result_wins() {
    let cfg = WorldConfig {
        slow: vec![(DeviceId(0), 20)],
        ..WorldConfig::default()
    };
    let mut w = world(relay(4), cfg);
    w.stop_at(Micros::from_secs(10));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert!(r.counters.relaunches >= 5, "{r:#?}");
    let relaunched: Vec<_> = w
        .publications
        .iter()
        .filter_map(|(_, p)| match p {
            Publication::Relaunched { instance, .. } => Some(*instance),
            _ => None,
        })
        .collect();
    let winners: BTreeMap<_, _> = w
        .publications
        .iter()
        .filter_map(|(_, p)| match p {
            Publication::Completed {
                instance, executor, ..
            } => Some((*instance, *executor)),
            _ => None,
        })
        .collect();
    let mut fast_wins = 0;
    for i in &relaunched {
        let win = winners.get(i).expect("relaunched instance completed");
        if !matches!(win, Executor::Device { device, .. } if *device == DeviceId(0)) {
            fast_wins += 1;
            // The slow loser was cancelled.
            assert!(w.effects.iter().any(|(_, e)| matches!(e,
                Effect::Device { device, msg: DeviceMsg::Cancel { instance }, .. } if *device == DeviceId(0) && instance == i)));
        }
    }
    assert!(
        fast_wins * 10 >= relaunched.len() * 9,
        "{fast_wins} of {}",
        relaunched.len()
    );
    assert_eq!(
        r.counters.cancelled_losers as usize,
        relaunched.len(),
        "one loser per relaunch"
    );
    for t in &r.tasks {
        assert_eq!(t.created, t.completed, "{}", t.task);
    }
    assert_exactly_once(&w, 0);
}

/// 30 % of the drones (5 of 16) die mid-mission at staggered times; the
/// mission still completes every instance it accepted.
#[test]
fn thirty_percent_killed_mission_still_completes() {
    let mut w = world(survey(16), WorldConfig::default());
    for (k, d) in [1u32, 4, 7, 10, 13].into_iter().enumerate() {
        w.kill(Micros::from_millis(3_000 + 1_700 * k as u64), DeviceId(d));
    }
    w.stop_at(Micros::from_secs(20));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert_eq!(r.counters.devices_failed, 5);
    assert!(r.counters.repartitions >= 5);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    // The captures the dead drones fired and never reported are lost with
    // them (no other drone can take them); all else completed.
    for t in &r.tasks {
        assert_eq!(t.created, t.completed + t.lost, "{}", t.task);
        assert!(t.lost == 0 || t.task == "capture", "{t:?}");
    }
    assert_eq!(
        w.ctl
            .state()
            .devices
            .values()
            .filter(|d| d.status == DeviceStatus::Alive)
            .count(),
        11
    );
    assert_cover_partition(w.ctl.state(), 30);
    assert_exactly_once(&w, 30);
}

/// Same seed, same script: byte-identical event log and report.
#[test]
fn runs_are_deterministic() {
    let run = || {
        let cfg = WorldConfig {
            seed: 77,
            error_permille: 50,
            ..WorldConfig::default()
        };
        let mut w = world(survey(5), cfg);
        w.kill(Micros::from_secs(3), DeviceId(1));
        w.stop_at(Micros::from_secs(8));
        w.run_to_end(Micros::from_secs(120));
        (
            serde_json::to_string(&w.log).unwrap_or_default(),
            serde_json::to_string(&w.ctl.report()).unwrap_or_default(),
        )
    };
    let (a, b) = (run(), run());
    assert!(a.0.len() > 1000);
    assert_eq!(a, b);
}

/// Injected task errors are retried with backoff; with retries exhausted an
/// instance is failed with its reason, and the mission still finishes.
#[test]
fn errors_are_retried_then_failed_with_a_reason() {
    let cfg = WorldConfig {
        error_permille: 400,
        ..WorldConfig::default()
    };
    let mut w = world(survey(4), cfg);
    w.stop_at(Micros::from_secs(6));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert!(r.counters.retries > 10, "{}", r.counters.retries);
    assert!(
        !r.failures.is_empty(),
        "40 % errors with 3 retries: some instance fails"
    );
    assert!(r
        .failures
        .iter()
        .all(|f| f.reason.contains("after 3 retries")));
    assert_exactly_once(&w, 400);
}

/// The ten example missions run on the controller with a simple plan:
/// a data-driven summary (tasks created/completed, devices, pool) is
/// snapshotted.
#[test]
fn example_missions_run_to_completion() {
    let mut summary = Vec::new();
    for s in hivemind_examples::SCENARIOS {
        let graph = hivemind_dsl::compile(s.source, s.file)
            .graph
            .expect("example compiles");
        let plan = simple_plan(&graph);
        let ctl = Controller::new(Config::default(), graph, plan, 5).expect("valid plan");
        let mut w = World::new(
            ctl,
            WorldConfig {
                keep_journal: false,
                ..WorldConfig::default()
            },
        );
        w.keep_effects = false;
        w.kill(Micros::from_secs(2), DeviceId(0));
        w.stop_at(Micros::from_secs(4));
        w.run_to_end(Micros::from_secs(200));
        let r = w.ctl.report();
        assert_eq!(r.phase, Phase::Finished, "{}", s.id);
        assert_exactly_once(&w, 5);
        assert_cover_partition(w.ctl.state(), 5);
        summary.push(serde_json::json!({
            "scenario": s.id,
            "devices_failed": r.counters.devices_failed,
            "failures": r.failures.len(),
            "tasks": r.tasks.iter().map(|t| format!("{} {}/{}", t.task, t.completed, t.created)).collect::<Vec<_>>(),
            "cold_starts": r.pool.cold_starts,
        }));
    }
    insta::assert_json_snapshot!("example_missions", summary);
}

/// A required path is measured from the activation of its first task to
/// the completion of its last, through every hop in between: with fixed
/// times (no jitter) each sample is exactly the sum of the hops.
#[test]
fn required_paths_are_measured_end_to_end() {
    let src = "mission chain {
  duration 1 min
  fleet drones: drone x 3 { cpu 1 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s; sensors camera }
  cloud { servers 1; cores 8 each }
  task capture on drones -> frame: jpeg 120 KB { every 1 s; needs camera }
  task detect(frame) on drones -> boxes: list<box 32 B> x 4 { work 0.1 Gop; fn det }
  task classify(boxes) at cloud -> kinds: list<kind 8 B> x 4 { work 1 Gop; fn cls }
  require latency(capture -> classify) p99 < 2 s
  require latency(detect -> detect) p50 < 1 s
}
";
    let graph = hivemind_dsl::compile(src, "chain.hm")
        .graph
        .expect("compiles");
    let timing = Timing {
        service_us: vec![1_000, 30_000, 50_000],
        input_us: vec![0, 4_000, 7_000],
        cold_start_us: 250_000,
        cloud_ops_per_s: 0,
    };
    let cfg = WorldConfig {
        jitter_permille: 0,
        timing: Some(timing),
        ..WorldConfig::default()
    };
    let net = cfg.net_latency_us;
    let mut w = world(graph, cfg);
    w.stop_at(Micros::from_secs(30));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "{r:#?}");
    assert_eq!(r.paths.len(), 2);
    let classify = r.tasks.iter().find(|t| t.task == "classify").expect("task");
    let full = &r.paths[0];
    assert_eq!(
        (full.from.as_str(), full.to.as_str()),
        ("capture", "classify")
    );
    assert_eq!(full.latency.count, classify.completed, "{full:?}");
    // The first device hop (service + radio), the second on the same
    // device right after it (a device-local chain: no controller round
    // trip, its result follows the first's), and the cloud step (input +
    // run), once the pool is warm: the median sample is exact.
    let expected = (1_000 + net) + (4_000 + 30_000) + (7_000 + 50_000);
    assert!(full.latency.p50_us >= expected, "{full:?} vs {expected}");
    assert!(
        full.latency.p50_us <= expected + expected / 128,
        "{full:?} vs {expected} (histogram error under 1%)"
    );
    assert!(full.met && full.measured_us >= full.latency.p50_us);
    // A path of one task: its own activation to completion.
    let one = &r.paths[1];
    let detect = r.tasks.iter().find(|t| t.task == "detect").expect("task");
    assert_eq!(one.latency.count, detect.completed);
    assert!(one.latency.p50_us >= 4_000 + 30_000, "{one:?}");
    assert!(r.counters.delegated >= detect.completed, "{:?}", r.counters);
}

/// Failures never fragment the sweep: 99 of 100 drones die, in an order
/// that scatters the holes, and the survivor ends up sweeping the whole
/// area as one exact partition (repartition is O(strips log strips) and
/// adds no strip, so this runs in well under a second in debug).
#[test]
// Prints the test's own wall time; the core never reads a clock.
#[allow(clippy::disallowed_methods)]
fn killing_all_but_one_of_100_devices_leaves_the_survivor_the_whole_area() {
    let src = "mission cover {
  area field = rect(0 m, 0 m, 4000 m, 300 m)
  fleet drones: drone x 100 { cpu 1 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s; speed 5 m/s; sensors gps }
  task sweep on drones { cover field; lane 25 m }
  on device_failure { repartition field }
}
";
    let graph = hivemind_dsl::compile(src, "cover.hm")
        .graph
        .expect("compiles");
    let started = std::time::Instant::now();
    let mut w = world(graph, WorldConfig::default());
    w.keep_effects = false;
    let survivor = DeviceId(57);
    let victims: Vec<DeviceId> = (0..100u32)
        .map(|k| DeviceId(k * 37 % 100))
        .filter(|&d| d != survivor)
        .collect();
    for (k, d) in victims.iter().enumerate() {
        w.kill(Micros::from_millis(2_000 + 41 * k as u64), *d);
    }
    for s in 1..=10 {
        w.run_until(Micros::from_secs(s));
        assert_cover_partition(w.ctl.state(), s);
    }
    let st = w.ctl.state();
    assert_eq!(st.counters.devices_failed, 99);
    let alive: Vec<DeviceId> = st
        .devices
        .iter()
        .filter(|(_, d)| d.status == DeviceStatus::Alive)
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(alive, [survivor]);
    let area = &st.graph.areas[0];
    let cover = &st.devices[&survivor].cover;
    assert_eq!(
        hivemind_controller::geometry::check_partition(area, cover),
        Ok(())
    );
    assert_eq!(cover.len(), 1, "merged into one strip: {cover:?}");
    assert!(st.fleets[0].orphans.is_empty());
    eprintln!(
        "99 of 100 devices killed and repartitioned in {:?}",
        started.elapsed()
    );
}

/// 90 % of a 24-drone survey fleet dies (21 devices, one every 400 ms): the
/// mission still completes everything and nobody's region fragments (this
/// took minutes when every repartition cut each strip for four survivors).
#[test]
// Prints the test's own wall time; the core never reads a clock.
#[allow(clippy::disallowed_methods)]
fn ninety_percent_of_24_killed_stays_fast_and_complete() {
    let started = std::time::Instant::now();
    let mut w = world(survey(24), WorldConfig::default());
    w.keep_effects = false;
    for d in 0..21u32 {
        w.kill(Micros::from_millis(2_000 + 400 * u64::from(d)), DeviceId(d));
    }
    w.stop_at(Micros::from_secs(20));
    for s in 1..=20 {
        w.run_until(Micros::from_secs(s));
        assert_cover_partition(w.ctl.state(), 24);
    }
    w.run_to_end(Micros::from_secs(200));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert_eq!(r.counters.devices_failed, 21);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_exactly_once(&w, 24);
    let most = w
        .ctl
        .state()
        .devices
        .values()
        .map(|d| d.cover.len())
        .max()
        .unwrap_or(0);
    assert!(most <= 3, "a survivor holds {most} strips");
    eprintln!("21 of 24 devices killed in {:?}", started.elapsed());
}

/// `live_values` names every value a consumer may still read: the parent
/// of every unresolved instance while the mission runs; nothing once it
/// has finished (the runtime's content store frees what it does not name).
#[test]
fn live_values_cover_every_unresolved_parent_and_end_empty() {
    let mut w = world(survey(4), WorldConfig::default());
    w.stop_at(Micros::from_secs(6));
    for t in [1_500, 3_000, 4_500, 6_200] {
        w.run_until(Micros::from_millis(t));
        let live = w.ctl.live_values();
        for inst in w.ctl.state().instances.values() {
            if let Some(p) = inst.parent {
                assert!(live.contains(&p.instance), "at {t} ms: {:?}", p.instance);
            }
        }
    }
    w.run_to_end(Micros::from_secs(100));
    assert_eq!(w.ctl.state().phase, Phase::Finished);
    assert!(w.ctl.live_values().is_empty());
}

/// When each device ran `task` (its attempts' dispatch instants, from mission start).
fn runs_of(w: &World, task: &str) -> BTreeMap<DeviceId, Vec<u64>> {
    let st = w.ctl.state();
    let t = st
        .graph
        .tasks
        .iter()
        .position(|x| x.name == task)
        .expect("task");
    let start = st.started_at.unwrap_or(Micros::ZERO);
    let mut at: BTreeMap<DeviceId, Vec<u64>> = BTreeMap::new();
    for (when, e) in &w.effects {
        let Effect::Device { device, msg, .. } = e else {
            continue;
        };
        // Started by a command, or fired by the device on a grant at the
        // grant's instant.
        let (task, when) = match msg {
            DeviceMsg::RunTask { task, .. } => (task, when.since(start)),
            DeviceMsg::Fire { task, at_us, .. } => (task, Micros(*at_us).since(start)),
            _ => continue,
        };
        if task.index() == t {
            at.entry(*device).or_default().push(when);
        }
    }
    for runs in at.values_mut() {
        runs.sort_unstable();
    }
    at
}

/// A fleet's periodic source fires each device at its own phase
/// (`ir::activation::Phasing`): four drones capturing every second start
/// a quarter of a second apart, each fires every second, and each as many
/// times as without phases. With a `gather all` downstream, one firing is
/// one round: all fire together.
#[test]
fn a_fleets_periodic_source_fires_each_device_at_its_own_phase() {
    let src = |gather: &str| {
        format!(
            "mission phases {{
  duration 10 s
  fleet drones: drone x 4 {{ cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; speed 5 m/s }}
  cloud {{ servers 1; cores 4 each }}
  task capture on drones -> frame: jpeg 10 KB {{ every 1 s; work 1 Mop }}
  task count(frame) at cloud -> n: count 8 B {{ work 1 Mop }}
{gather}}}
"
        )
    };
    let run = |gather: &str| {
        let g = hivemind_dsl::compile(&src(gather), "phases.hm")
            .graph
            .expect("compiles");
        let mut w = world(g, WorldConfig::default());
        w.run_to_end(Micros::from_secs(60));
        assert_eq!(w.ctl.report().phase, Phase::Finished);
        runs_of(&w, "capture")
    };
    let phased = run("");
    assert_eq!(phased.len(), 4, "{phased:?}");
    for (d, at) in &phased {
        assert_eq!(at.len(), 10, "device {d}: {at:?}");
        let phase = u64::from(d.0) * 250_000;
        for (k, &t) in at.iter().enumerate() {
            assert_eq!(t, k as u64 * 1_000_000 + phase, "device {d}: {at:?}");
        }
    }
    let together = run("  task all(n) at cloud { gather all; work 1 Mop }\n");
    assert_eq!(together.len(), 4, "{together:?}");
    for (d, at) in &together {
        let ticks: Vec<u64> = (0..10).map(|k| k * 1_000_000).collect();
        assert_eq!(at, &ticks, "device {d}");
    }
    // A drone failing does not move the others' phases: exactly 1 s
    // between each survivor's firings (besides them, a survivor runs the
    // dead drone's unfinished capture once it is declared failed).
    let g = hivemind_dsl::compile(&src(""), "phases.hm")
        .graph
        .expect("compiles");
    let mut w = world(g, WorldConfig::default());
    w.kill(Micros::from_millis(3_100), DeviceId(1));
    w.run_to_end(Micros::from_secs(60));
    let survivors = runs_of(&w, "capture");
    for d in [0u32, 2, 3] {
        let phase = u64::from(d) * 250_000;
        let own: Vec<u64> = survivors[&DeviceId(d)]
            .iter()
            .copied()
            .filter(|t| t % 1_000_000 == phase)
            .collect();
        let ticks: Vec<u64> = (0..10).map(|k| k * 1_000_000 + phase).collect();
        assert_eq!(own, ticks, "device {d}: {:?}", survivors[&DeviceId(d)]);
    }
    // A gather that does not wait for the capture's rounds leaves it phased.
    let elsewhere = run(
        "  task tick at cloud -> t: tick 8 B { every 1 s; work 1 Mop }\n  task all(t) at cloud { gather all; work 1 Mop }\n",
    );
    assert_eq!(elsewhere, phased);
}
