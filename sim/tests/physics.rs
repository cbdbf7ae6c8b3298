//! The physical world against closed forms and against the cost model's
//! predictions where the model's assumptions hold: one link as an M/D/1
//! queue, battery drained at constant power, a car's sweep of a
//! rectangle, a warm uncontended chain's median latency; determinism by
//! seed; faults from a script.

use hivemind_controller::rng::Rng;
use hivemind_controller::Micros;
use hivemind_cost::{plan_for, CostModel, Profile};
use hivemind_ir::plan::{Plan, Strategy};
use hivemind_ir::TaskGraph;
use hivemind_sim::radio::Link;
use hivemind_sim::{simple_assignment, simulate, SimOptions, StrategyRun};

fn compile(src: &str) -> TaskGraph {
    let c = hivemind_dsl::compile(src, "test.hm");
    c.graph
        .unwrap_or_else(|| panic!("does not compile: {:?}", c.diagnostics))
}

/// The simple plan (sensing and behaviours on the edge, the rest in the
/// cloud) with the cost model's predictions.
fn plan(graph: &TaskGraph) -> Plan {
    let model = CostModel::new(graph, Profile::default()).expect("model");
    plan_for(&model, &simple_assignment(graph), Strategy::Manual)
}

fn run(graph: &TaskGraph, seed: u64) -> StrategyRun {
    simulate(
        graph,
        &plan(graph),
        &SimOptions::new(graph, seed),
        &mut |_| {},
    )
    .expect("simulates")
}

fn within(measured: u64, expected: u64, permille: u64) -> bool {
    measured.abs_diff(expected) * 1000 <= expected * permille
}

/// Frames of 100 kB over one 8 Mbit/s link (100 ms each) arriving as a
/// Poisson stream at half the link's capacity: the mean wait in the queue
/// is the M/D/1 figure ρ·S / (2(1 − ρ)) = 50 ms.
#[test]
fn one_link_is_an_md1_queue() {
    let mut rng = Rng::new(7);
    let mut link = Link::new(8_000_000, 0);
    let service = link.tx_us(100_000);
    assert_eq!(service, 100_000);
    let (rho_num, rho_den) = (1u64, 2u64);
    let mean_gap = service * rho_den / rho_num;
    let mut t = 0u64;
    let mut waited = 0u128;
    let n = 400_000u64;
    for _ in 0..n {
        // Exponential inter-arrival by inversion of a uniform in (0, 1].
        let u = (rng.below(1 << 53) + 1) as f64 / (1u64 << 53) as f64;
        t += (-(mean_gap as f64) * u.ln()) as u64;
        let done = link.send(Micros(t), 100_000, &mut rng);
        waited += u128::from(done.0 - t - service);
    }
    let mean_wait = (waited / u128::from(n)) as u64;
    let expected = service / 2; // ρ S / (2 (1 − ρ)) at ρ = 1/2
    assert!(
        within(mean_wait, expected, 20),
        "mean wait {mean_wait} µs vs M/D/1 {expected} µs"
    );
}

const HOVER: &str = "mission hover {
  duration 10 min
  fleet d: drone x 3 { cpu 1 GHz; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  task look on d -> f: frame 1 KB { every 10 s; needs camera }
}
";

/// A drone hovers for the whole mission: 55 W (the profile's default
/// motion power) × 600 s = 33 kJ, plus a little compute and radio.
#[test]
fn battery_drains_at_constant_power() {
    let r = run(&compile(HOVER), 1);
    let f = &r.fleets[0];
    assert!(
        within(f.motion_mean_uj, 33_000_000_000, 10),
        "{} µJ of motion",
        f.motion_mean_uj
    );
    let predicted = f.predicted_energy_per_device_uj.expect("predicted");
    assert!(
        within(f.energy_mean_uj, predicted, 10),
        "{} vs predicted {predicted}",
        f.energy_mean_uj
    );
}

/// One car sweeps a 100 m × 40 m rectangle in 10 m lanes: its motion
/// energy is its power times the vehicle model's sweep time, as the cost
/// model predicts it.
#[test]
fn a_car_sweeping_a_rectangle_spends_what_the_model_predicts() {
    let src = "mission sweep {
  duration 10 min
  area lot = rect(0 m, 0 m, 100 m, 40 m)
  fleet c: car x 1 { cpu 1 GHz; battery 100 Wh; radio 20 Mbit/s; speed 1 m/s; sensors camera; home (0 m, 0 m) }
  task mow on c { cover lot; lane 10 m }
}
";
    let graph = compile(src);
    let r = run(&graph, 1);
    let f = &r.fleets[0];
    let predicted = f.predicted_energy_per_device_uj.expect("predicted");
    assert!(
        within(f.motion_mean_uj, predicted, 10),
        "motion {} µJ vs predicted {predicted} µJ",
        f.motion_mean_uj
    );
    // And it is the sweep, not the whole mission: 10 lanes of 40 m plus
    // the turns at 1 m/s take minutes, not 10.
    assert!(f.motion_mean_uj < 5_000 * 600_000, "{f:?}");
}

const CHAIN: &str = "mission chain {
  duration 5 min
  fleet d: drone x 4 { cpu 1 GHz; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  cloud { servers 2; cores 8 each }
  task capture on d -> frame: jpeg 100 KB { every 2 s; needs camera }
  task detect(frame) at cloud -> boxes: list<box 16 B> x 4 { work 2 Gop; fn detect }
  require latency(capture -> detect) p50 < 2 s
}
";

/// A warm, uncontended chain (a frame up a drone's radio, a function in
/// the cloud): the measured median is the cost model's to within 5%.
#[test]
fn an_uncontended_chain_meets_its_predicted_median() {
    let r = run(&compile(CHAIN), 3);
    let p = &r.paths[0];
    assert!(p.samples > 100, "{p:?}");
    let e = p.median_error_permille.expect("compared");
    assert!(
        e.abs() <= 50,
        "median {} vs predicted {:?}: {e}‰",
        p.p50_us,
        p.predicted_median_us
    );
    assert_eq!(r.bytes.uplink_error_permille, Some(0), "{:?}", r.bytes);
}

/// The controller's journal commit (`[runtime] journal_commit_us`): what
/// leaves the controller waits for the commit holding its event, so a
/// slower disk lengthens a chain by a commit or two, not by one per event
/// in the world: events handled during a commit share the next one. The
/// capture is fired by its drone on a grant sent ahead
/// (`ir::activation::fired_on_device`), and the detector is invoked before
/// the commit of the capture's result, as the runtime's driver does (the
/// pool's workers die with the controller: nothing they are asked outlives
/// it): no commit lies on `capture -> detect`. A value sent back down to a
/// drone waits for one (the median is read from a log-bucketed histogram).
#[test]
fn each_hop_through_the_controller_waits_for_its_journal_commit() {
    let back_down = CHAIN.replace(
        "  require latency(capture -> detect) p50 < 2 s",
        "  task steer(boxes) on d { work 1 Mop }\n  require latency(capture -> steer) p50 < 2 s",
    );
    for (src, least, most) in [(CHAIN.to_owned(), 0, 0), (back_down, 40_000, 3 * 50_000)] {
        let graph = compile(&src);
        let median = |commit_us: u64| {
            let mut opts = SimOptions::new(&graph, 3);
            opts.profile.runtime.journal_commit_us = commit_us;
            opts.profile.runtime.transport_overhead_permille = 0;
            let r = simulate(&graph, &plan(&graph), &opts, &mut |_| {}).expect("simulates");
            r.paths[0].p50_us
        };
        let (none, slow) = (median(0), median(50_000));
        let added = slow.saturating_sub(none);
        assert!(
            (least..=most).contains(&added),
            "a 50 ms commit added {added} µs to the median ({none} -> {slow}) of\n{src}"
        );
    }
}

/// A controller crash drops the effects still waiting for its journal
/// commit (they never left the dead process); the recovered controller
/// re-sends what its journal holds, and nothing is lost or done twice.
#[test]
fn a_crash_drops_the_effects_waiting_for_their_commit() {
    let graph = compile(CHAIN);
    for seed in [1, 2, 3] {
        let mut opts = SimOptions::new(&graph, seed);
        opts.profile.runtime.journal_commit_us = 20_000;
        opts.faults = hivemind_sim::faults::injections(
            "at 30 s crash controller\nat 61 s crash controller\n",
            &graph,
            opts.duration_us,
            seed,
        )
        .expect("valid script");
        let r = simulate(&graph, &plan(&graph), &opts, &mut |_| {}).expect("simulates");
        assert_eq!(r.phase, "finished", "seed {seed}");
        assert_eq!(r.faults.restarts, 2, "seed {seed}");
        for t in &r.controller.tasks {
            assert_eq!(t.created, t.completed + t.failed, "seed {seed}: {}", t.task);
            assert_eq!(t.failed, 0, "seed {seed}: {}", t.task);
        }
    }
}

/// Same seed, same report (and same event log); another seed, another.
#[test]
fn runs_are_a_function_of_the_seed() {
    let graph = compile(CHAIN);
    let json = |seed| serde_json::to_string(&run(&graph, seed)).expect("json");
    assert_eq!(json(5), json(5));
    assert_ne!(json(5), json(6));
}

/// A fault script kills a quarter of the drones and crashes the
/// controller: the mission still finishes, every instance once (the
/// killed drone's capture in flight lost with it).
#[test]
fn a_fault_script_injects_kills_and_a_controller_crash() {
    let graph = compile(CHAIN);
    let mut opts = SimOptions::new(&graph, 2);
    opts.faults = hivemind_sim::faults::injections(
        "at 60 s kill 25% of d\nat 90 s crash controller\n",
        &graph,
        opts.duration_us,
        2,
    )
    .expect("valid script");
    let r = simulate(&graph, &plan(&graph), &opts, &mut |_| {}).expect("simulates");
    assert_eq!(r.phase, "finished");
    assert_eq!(r.faults.kills, 1);
    assert_eq!(r.faults.devices_failed, 1);
    assert_eq!(r.faults.restarts, 1);
    assert_eq!(r.failure_count, 0, "{:?}", r.failures);
    for t in &r.tasks {
        assert_eq!(t.created, t.completed + t.lost, "{t:?}");
    }
    let lost: u64 = r.tasks.iter().map(|t| t.lost).sum();
    assert!(
        lost <= 1,
        "at most the killed drone's capture in flight: {lost}"
    );
    let err = hivemind_sim::faults::injections("at 60 s kill 25% of dd\n", &graph, 1, 1)
        .expect_err("unknown fleet");
    assert!(err.to_string().contains("line 1"), "{err}");
}

/// Eight drones share one 10 Mbit/s channel and each uploads 500 kB every
/// 2 s: 16 Mbit/s offered, 160% of the channel. The link queues, and the
/// drones, whose captures stay unreported longer than the grant lead, are
/// held back and skip captures (`firings_skipped`) instead of queueing
/// without bound: the latency stays bounded, and no more bytes cross the
/// channel than it carries.
#[test]
fn an_oversubscribed_shared_radio_queues() {
    let src = "mission jam {
  duration 2 min
  fleet d: drone x 8 { cpu 1 GHz; battery 100 Wh; radio 10 Mbit/s shared; sensors camera }
  cloud { servers 2; cores 8 each }
  task capture on d -> frame: jpeg 500 KB { every 2 s; needs camera }
  task keep(frame) at cloud { work 1 Mop; fn keep }
  require latency(capture -> keep) p50 < 60 s
}
";
    let r = run(&compile(src), 1);
    let p = &r.paths[0];
    // Uncontended, a frame takes 0.4 s on air; queued, the median waits
    // seconds, but not the tens of seconds of a queue without bound.
    assert!(p.p50_us > 1_000_000, "{p:?}");
    assert!(p.p99_us > p.p50_us, "{p:?}");
    assert!(p.p99_us < 10_000_000, "{p:?}");
    let skipped = r.controller.counters.firings_skipped;
    let capture = &r.tasks[0];
    assert!(skipped > 0, "{:?}", r.controller.counters);
    // 8 drones × 60 firings: each made or skipped.
    assert_eq!(capture.created + skipped, 480, "{capture:?}");
    // At most 10 Mbit/s for the 2 minutes (plus the drain).
    let seconds = r.ended_us / 1_000_000 + 1;
    assert!(
        r.bytes.radio_up <= 10_000_000 / 8 * seconds,
        "{:?}",
        r.bytes
    );
    assert!(
        r.notes.iter().any(|n| n.contains("shared radio")),
        "{:?}",
        r.notes
    );
    // The channel was on air for (nearly) the whole run, and the report
    // says it queued; the plan had predicted 160%.
    let f = &r.fleets[0];
    assert!(f.radio_busy_permille > 950, "{f:?}");
    assert_eq!(f.predicted_radio_busy_permille, Some(1600), "{f:?}");
    assert!(
        r.notes.iter().any(|n| n.contains("on air")),
        "{:?}",
        r.notes
    );
}

/// Every scenario S1–S10 in the physical world for half a minute: the
/// bytes its devices send up are exactly the plan's prediction, and the
/// busiest drone (airborne all mission) spends what the model predicts to 1%.
/// (Latency, car energy and cloud cost are compared in the full runs of
/// docs/simulator.md, with the reasons where they differ.)
#[test]
fn scenarios_send_and_spend_what_the_plan_predicts() {
    for s in hivemind_examples::SCENARIOS {
        let graph = compile_file(s.source, s.file);
        let mut opts = SimOptions::new(&graph, 1);
        opts.duration_us = 30_000_000;
        let plan = plan(&graph);
        let r = simulate(&graph, &plan, &opts, &mut |_| {}).expect("simulates");
        assert_eq!(r.phase, "finished", "{}", s.file);
        let b = &r.bytes;
        // Where a fleet's radio is oversubscribed (this simple plan does
        // it to S4's drones), its devices are held back and skip firings
        // (`firings_skipped`): fewer bytes than the plan's every firing.
        let oversubscribed = plan
            .predicted
            .fleets
            .iter()
            .any(|o| o.radio_busy_permille.get().is_none_or(|p| p > 1000));
        let skipped = r.controller.counters.firings_skipped;
        assert!(
            skipped == 0 || oversubscribed,
            "{}: {skipped} skipped",
            s.file
        );
        if skipped == 0 {
            assert!(
                b.uplink_error_permille.is_some_and(|e| e.abs() <= 10),
                "{}: uplink {b:?}",
                s.file
            );
        } else {
            assert!(
                b.uplink_error_permille.is_some_and(|e| e < 0),
                "{}: uplink {b:?}",
                s.file
            );
        }
        // Where the model's assumptions hold: the fleet's radio and CPU
        // within capacity, and no device-to-device transfer
        // (the model charges both hops to the sender; the world charges
        // the receiver its download).
        let d2d = |fleet| {
            plan.channels.iter().any(|c| {
                c.kind == hivemind_ir::plan::ChannelKind::DeviceToDevice
                    && [c.from, c.to]
                        .iter()
                        .any(|t| plan.tasks[t.index()].fleet == Some(fleet))
            })
        };
        let within_capacity = |fleet: hivemind_ir::FleetId| {
            plan.predicted.fleets.iter().any(|o| {
                o.fleet == fleet
                    && o.radio_busy_permille.get().is_some_and(|p| p <= 1000)
                    && o.cpu_busy_permille.get().is_some_and(|p| p <= 1000)
            })
        };
        for (f, fleet) in r.fleets.iter().zip(&graph.fleets) {
            if fleet.class == hivemind_ir::DeviceClass::Drone
                && !d2d(fleet.id)
                && within_capacity(fleet.id)
            {
                let predicted = f.predicted_energy_per_device_uj.expect("predicted");
                // The prediction is the busiest device's.
                assert!(
                    within(f.energy_max_uj, predicted, 10),
                    "{}: fleet {} spent {} vs predicted {predicted}",
                    s.file,
                    f.fleet,
                    f.energy_max_uj
                );
            }
        }
        for p in &r.paths {
            assert!(
                p.samples > 0,
                "{}: path {} -> {} never measured",
                s.file,
                p.from,
                p.to
            );
        }
    }
}

fn compile_file(src: &str, file: &str) -> TaskGraph {
    let c = hivemind_dsl::compile(src, file);
    c.graph
        .unwrap_or_else(|| panic!("{file} does not compile: {:?}", c.diagnostics))
}

/// A chain through the FPGA fabric: the detector's crops reach the
/// classifier by remote memory. The fabric runs at 1 MHz here so the
/// hand-off (the cycle model's 400 kB WRITE then READ: about 100 ms) is
/// 40% of the path: the simulator charges the cycle model's figure, as
/// the plan does, and measures the predicted median to within 5%.
#[test]
fn an_fpga_chain_meets_its_predicted_median() {
    use hivemind_ir::plan::Modality;
    let graph = compile(
        "mission fpga_chain {
  duration 5 min
  fleet d: drone x 4 { cpu 1 GHz; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  cloud { servers 2; cores 8 each; fpga }
  task capture on d -> frame: jpeg 100 KB { every 2 s; needs camera }
  task detect(frame) at cloud -> crops: jpeg 400 KB { work 500 Mop; fn detect }
  task classify(crops) at cloud { work 500 Mop; fn classify }
  require latency(capture -> classify) p50 < 5 s
}
",
    );
    let mut opts = SimOptions::new(&graph, 4);
    opts.profile.fpga.clock_khz = 1_000;
    let handoff_us = opts.profile.fpga.remote_memory_us(400_000);
    assert!((99_000..=101_000).contains(&handoff_us), "{handoff_us} µs");
    let model = CostModel::new(&graph, opts.profile.clone()).expect("model");
    let assignment = [Modality::Edge, Modality::CloudFpga, Modality::CloudFpga];
    let plan = plan_for(&model, &assignment, Strategy::Manual);
    let r = simulate(&graph, &plan, &opts, &mut |_| {}).expect("simulates");
    let p = &r.paths[0];
    assert!(p.samples > 100, "{p:?}");
    let predicted = p.predicted_median_us.expect("predicted");
    // Uplink 45 ms, two 52 ms functions, the 100 ms hand-off.
    assert!(
        (2 * handoff_us..3 * handoff_us).contains(&u128::from(predicted)),
        "{predicted} µs"
    );
    let e = p.median_error_permille.expect("compared");
    eprintln!(
        "fpga chain: median {} µs, predicted {predicted} µs ({e}‰)",
        p.p50_us
    );
    assert!(
        e.abs() <= 50,
        "median {} vs predicted {predicted}: {e}‰",
        p.p50_us
    );
}
