//! End to end, as a user runs it: every scenario S1–S10 is compiled, placed
//! by the synthesizer, and executed by the controller core on a simulated
//! fleet (taking the times the cost model predicts) with a tenth of its
//! devices killed mid-mission; nothing is lost or done twice, and every
//! required path is measured and within its bound.

use hivemind_controller::{Config, Controller, Micros, Phase};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::RequirementKind;
use hivemind_sim::{Timing, World, WorldConfig};
use hivemind_synth::{synthesize, Options, Status};

#[test]
fn every_scenario_runs_on_its_synthesized_plan_despite_failures() {
    for s in hivemind_examples::SCENARIOS {
        let graph = hivemind_dsl::compile(s.source, s.file)
            .graph
            .expect("compiles");
        let out = synthesize(&graph, Profile::default(), &Options::default()).expect("synthesizes");
        assert_eq!(out.status, Status::Optimal, "{}", s.file);
        let plan = out.plan.expect("plan");
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let timing = Timing::predicted(&model, &plan);
        // Two virtual minutes are enough to see steady state and the failures.
        let duration = Micros(120_000_000);
        let ctl = Controller::new(Config::default(), graph.clone(), plan, 3)
            .expect("controller accepts the plan");
        let mut world = World::new(
            ctl,
            WorldConfig {
                seed: 3,
                timing: Some(timing),
                ..WorldConfig::default()
            },
        );
        world.keep_effects = false;
        let devices = world.device_ids();
        for d in devices.iter().step_by(10) {
            world.kill(Micros(40_000_000), *d);
        }
        world.stop_at(duration);
        world.run_to_end(Micros(600_000_000));
        let r = world.ctl.report();
        assert_eq!(r.phase, Phase::Finished, "{}", s.file);
        assert!(r.failures.is_empty(), "{}: {:?}", s.file, r.failures);
        assert_eq!(
            r.counters.devices_failed as usize,
            devices.len().div_ceil(10),
            "{}",
            s.file
        );
        // The firings the killed devices made themselves and never
        // reported are lost with them; everything else completed.
        let fired = hivemind_ir::activation::fired_on_device(&graph);
        for (k, t) in r.tasks.iter().enumerate() {
            assert_eq!(
                t.created,
                t.completed + t.lost,
                "{}: task {}",
                s.file,
                t.task
            );
            assert!(t.lost == 0 || fired[k], "{}: task {}", s.file, t.task);
        }
        let latency_requirements = graph
            .requirements
            .iter()
            .filter(|q| matches!(q.kind, RequirementKind::Latency { .. }))
            .count();
        assert_eq!(r.paths.len(), latency_requirements, "{}", s.file);
        for p in &r.paths {
            assert!(
                p.latency.count > 0 && p.met,
                "{}: path {} -> {}: {p:?}",
                s.file,
                p.from,
                p.to
            );
        }
        let completed = world.completed();
        let unique: std::collections::BTreeSet<_> = completed.iter().map(|(i, _)| *i).collect();
        assert_eq!(
            unique.len(),
            completed.len(),
            "{}: an instance completed twice",
            s.file
        );
    }
}
