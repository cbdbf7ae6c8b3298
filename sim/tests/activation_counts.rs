//! One meaning of a mission: for every trigger rule, the activation and
//! instance counts the cost model predicts (`ir::activation::rates`) are the
//! counts the controller executes, whatever the placement.

use hivemind_controller::{Config, Controller, Micros, Phase};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::{self, Modality, Strategy};
use hivemind_ir::TaskGraph;
use hivemind_sim::{simple_plan, World, WorldConfig};

const FLEET: &str = "fleet drones: drone x 3 { cpu 1 GHz x 2; battery 100 Wh; radio 50 Mbit/s; speed 5 m/s; sensors camera }\n  cloud { servers 2; cores 16 each }";

fn mission(body: &str) -> TaskGraph {
    mission_of("20 s", body)
}

fn mission_of(duration: &str, body: &str) -> TaskGraph {
    let src = format!("mission m {{\n  duration {duration}\n  {FLEET}\n{body}\n}}\n");
    let c = hivemind_dsl::compile(&src, "m.hm");
    let errors: Vec<String> = c.diagnostics.iter().map(|d| d.message.clone()).collect();
    c.graph
        .unwrap_or_else(|| panic!("does not compile: {errors:?}\n{src}"))
}

/// Per task: (name, predicted activations, predicted instances, executed
/// activations, executed instances).
fn counts(
    graph: &TaskGraph,
    modalities: Option<&[Modality]>,
    items: u32,
) -> Vec<(String, u128, u128, u64, u64)> {
    let plan = match modalities {
        Some(m) => plan::assemble(graph, m, Strategy::Manual, "test"),
        None => simple_plan(graph),
    };
    let model = CostModel::new(graph, Profile::default()).expect("profile");
    let ctl = Controller::new(Config::default(), graph.clone(), plan, 7).expect("plan");
    let mut w = World::new(
        ctl,
        WorldConfig {
            items,
            jitter_permille: 0,
            ..WorldConfig::default()
        },
    );
    w.keep_effects = false;
    w.run_to_end(Micros::from_secs(600));
    let st = w.ctl.state();
    assert_eq!(st.phase, Phase::Finished, "mission {}", graph.mission);
    // Bytes over the uplink, counted as the cost model counts them: every
    // value of an edge that leaves a device, once.
    let plan = &st.plan;
    let predicted_uplink: u128 = plan
        .channels
        .iter()
        .filter(|c| c.kind.is_uplink())
        .map(|c| u128::from(c.bytes) * model.rates[c.from.index()].per_mission)
        .sum();
    assert_eq!(
        u128::from(st.counters.uplink_bytes),
        predicted_uplink,
        "mission {}: uplink bytes",
        graph.mission
    );
    // Continuous learning: rounds, training jobs (model versions) and the
    // model bytes pushed to devices, as the cost model predicts them for
    // this placement.
    let assignment: Vec<Modality> = plan.tasks.iter().map(|t| t.modality).collect();
    let predicted = hivemind_cost::predict::learning(&model, &assignment);
    assert_eq!(predicted.len(), st.learning.models.len());
    for (p, m) in predicted.iter().zip(&st.learning.models) {
        let name = &graph.tasks[m.task.index()].name;
        assert_eq!(
            (
                p.rounds,
                p.training_jobs,
                p.model_pushes,
                p.model_bytes_pushed
            ),
            (m.rounds, m.jobs_completed, m.pushes, m.bytes_pushed),
            "retrain {name}: predicted (rounds, jobs, pushes, bytes) vs executed"
        );
        assert_eq!(
            m.version as u64, m.jobs_completed,
            "retrain {name}: one version per job"
        );
    }
    let pushed: u64 = predicted.iter().map(|p| p.model_bytes_pushed).sum();
    assert_eq!(st.counters.model_bytes_pushed, pushed, "model bytes pushed");
    graph
        .tasks
        .iter()
        .map(|t| {
            let r = model.rates[t.id.index()];
            let k = &st.kinds[t.id.index()];
            (
                t.name.clone(),
                r.per_mission,
                r.instances_per_mission(),
                k.activations,
                k.created,
            )
        })
        .collect()
}

fn assert_agree(case: &str, graph: &TaskGraph, modalities: Option<&[Modality]>, items: u32) {
    for (name, pa, pi, ea, ei) in counts(graph, modalities, items) {
        let t = graph.task(&name).expect("task");
        if matches!(
            hivemind_ir::activation::activation(graph, t.id).width,
            hivemind_ir::activation::Width::PerItem { .. }
        ) && items < hivemind_ir::activation::max_items(t)
        {
            // The world's results carry fewer items than the list's stated
            // length, and the prediction is for full lists: activations agree,
            // instances are at most the prediction.
            assert_eq!(pa, u128::from(ea), "{case}: task `{name}` activations");
            assert!(
                u128::from(ei) <= pi,
                "{case}: task `{name}` instances {ei} > {pi}"
            );
            continue;
        }
        assert_eq!(
            (pa, pi),
            (u128::from(ea), u128::from(ei)),
            "{case}: task `{name}`: predicted {pa} activations / {pi} instances, executed {ea} / {ei}"
        );
    }
}

fn expect(graph: &TaskGraph, task: &str, activations: u128, instances: u128) {
    let model = CostModel::new(graph, Profile::default()).expect("profile");
    let t = graph.task(task).expect("task");
    let r = model.rates[t.id.index()];
    assert_eq!(
        (r.per_mission, r.instances_per_mission()),
        (activations, instances),
        "task `{task}`"
    );
}

/// Every placement the rules allow: all edge where possible, all cloud where possible.
fn placements(graph: &TaskGraph) -> Vec<Vec<Modality>> {
    [Modality::Edge, Modality::Cloud]
        .into_iter()
        .map(|pref| {
            graph
                .tasks
                .iter()
                .map(|t| {
                    if plan::allowed(graph, t.id, pref) {
                        pref
                    } else {
                        Modality::Edge
                    }
                })
                .collect()
        })
        .collect()
}

fn check_everywhere(case: &str, graph: &TaskGraph, items: u32) {
    assert_agree(case, graph, None, items);
    for m in placements(graph) {
        assert_agree(case, graph, Some(&m), items);
    }
}

#[test]
fn periodic_sources_fire_per_device_only_when_bound_to_the_fleet() {
    let g = mission(
        "  task scan on drones { every 2 s; work 1 Mop }\n  task tick { every 2 s; work 1 Mop }\n  task local at edge { every 2 s; work 1 Mop }\n  task shot -> f: frame 1 KB { every 4 s; needs camera }\n  task use(f) { work 1 Mop }",
    );
    expect(&g, "scan", 30, 30);
    expect(&g, "tick", 10, 10);
    expect(&g, "local", 10, 10);
    expect(&g, "shot", 15, 15);
    expect(&g, "use", 15, 15);
    check_everywhere("periodic", &g, 1);
}

#[test]
fn input_driven_tasks_fire_once_per_value() {
    let g = mission(
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task det(f) -> b: box 10 B { work 1 Mop }\n  task rep(b) { work 1 Mop }",
    );
    expect(&g, "det", 60, 60);
    expect(&g, "rep", 60, 60);
    check_everywhere("per input", &g, 1);
}

#[test]
fn every_on_an_input_driven_task_is_a_tumbling_window() {
    let g = mission(
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task fuse(f) -> m: map 1 KB { every 5 s; work 1 Mop }\n  task show(m) { work 1 Mop }",
    );
    assert!(matches!(
        g.task("fuse").expect("fuse").trigger,
        hivemind_ir::Trigger::Window {
            period_us: 5_000_000
        }
    ));
    expect(&g, "fuse", 4, 4);
    expect(&g, "show", 4, 4);
    check_everywhere("window", &g, 1);
}

#[test]
fn gather_all_gathers_one_round_whatever_the_placement() {
    let g = mission(
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task det(f) -> b: list<box 10 B> x 4 { work 1 Mop }\n  task dedup(b) -> u: list<box 10 B> x 100 { gather all; work 1 Mop per item }\n  task rep(u) { work 1 Mop }",
    );
    expect(&g, "det", 60, 60);
    expect(&g, "dedup", 20, 20);
    expect(&g, "rep", 20, 20);
    check_everywhere("gather all", &g, 4);
}

#[test]
fn gather_n_fires_every_n_values_and_once_for_the_remainder() {
    let g = mission(
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task four(f) { gather 4; work 1 Mop }\n  task seven(f) { gather 7; work 1 Mop }",
    );
    expect(&g, "four", 15, 15);
    expect(&g, "seven", 9, 9);
    check_everywhere("gather n", &g, 1);
}

#[test]
fn fan_out_runs_width_instances_for_one_value() {
    let g = mission(
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task det(f) -> b: list<box 10 B> x 5 { work 1 Mop }\n  task cls(b) -> c: list<tag 8 B> x 5 { work 1 Mop per item; fanout per item }\n  task four(c) -> d: tag 8 B { fanout 4; work 1 Mop }\n  task rep(d) { work 1 Mop }",
    );
    expect(&g, "cls", 60, 300);
    expect(&g, "four", 60, 240);
    expect(&g, "rep", 60, 60);
    check_everywhere("fan-out", &g, 5);
}

#[test]
fn joins_run_at_their_slowest_producer_and_once_runs_once() {
    let g = mission(
        "  task a -> x: v 1 KB { every 1 s; work 1 Mop }\n  task b -> y: v 1 KB { every 2 s; work 1 Mop }\n  task j(x, y) { work 1 Mop }\n  task init -> z: v 1 KB { once; work 1 Mop }\n  task after(z) { work 1 Mop }",
    );
    expect(&g, "j", 10, 10);
    expect(&g, "init", 1, 1);
    expect(&g, "after", 1, 1);
    check_everywhere("join and once", &g, 1);
}

#[test]
fn sensor_paced_assigned_and_routed_tasks_run_as_predicted() {
    let g = mission(
        "  sensor tag { rate 2 Hz, size 1 KB }\n  fleet scouts: drone x 2 { cpu 1 GHz x 1; battery 100 Wh; radio 10 Mbit/s; speed 5 m/s; sensors tag }\n  fleet cars: car x 4 { cpu 1 GHz x 2; battery 100 Wh; radio 10 Mbit/s; speed 3 m/s }\n  task read on scouts -> t: tag { needs tag }\n  task go(t) on cars { goto t; assign 2 nearest; work 1 Mop }\n  task look -> l: list<spot 10 B> x 3 { every 5 s; work 1 Mop }\n  task visit(l) on cars { assign 3 by battery; fanout per item; work 1 Mop per item }\n  task lap on scouts { patrol (0 m, 0 m), (100 m, 0 m), (100 m, 100 m) }\n  task tour on cars { route (0 m, 0 m), (10 m, 0 m) }",
    );
    expect(&g, "read", 80, 80);
    expect(&g, "go", 80, 160);
    expect(&g, "look", 4, 4);
    expect(&g, "visit", 4, 36);
    expect(&g, "lap", 0, 0);
    check_everywhere("assign, sensors, routes", &g, 3);
}

/// The example missions S1–S10 over 20 s without faults.
#[test]
fn example_missions_execute_what_the_cost_model_predicts() {
    for s in hivemind_examples::SCENARIOS
        .iter()
        .chain(hivemind_examples::SHOWCASES)
    {
        let mut g = hivemind_dsl::compile(s.source, s.file)
            .graph
            .expect("example compiles");
        g.duration_us = 20_000_000;
        assert_agree(s.id, &g, None, 1);
    }
}

#[test]
fn retrain_rounds_jobs_and_pushes_are_what_the_cost_model_predicts() {
    // Rounds at 1 and 2 min of a 3 min mission; the data comes through
    // every rule: per input, a window, a gather and a once.
    let g = mission_of(
        "3 min",
        "  task cap on drones -> f: frame 10 KB { every 1 s; needs camera }\n  task det(f) -> b: list<box 10 B> x 4 { work 1 Mop; fn det }\n  task fuse(b) -> m: map 1 KB { every 20 s; work 1 Mop; fn fuse }\n  task dedup(b) -> u: list<box 10 B> x 100 { gather all; work 1 Mop; fn dd }\n  task init -> z: v 1 KB { once; work 1 Mop }\n  task use(z) { work 1 Mop; fn use_z }\n  learning on {\n    retrain det every 1 min from det model 2 MB work 1 Mop per sample\n    retrain fuse every 1 min from fuse model 1 MB\n    retrain dedup every 1 min from dedup model 3 MB\n    retrain use every 1 min from init model 500 KB\n  }",
    );
    let model = CostModel::new(&g, Profile::default()).expect("profile");
    let jobs: Vec<u128> = model.learning.iter().map(|l| l.retraining.jobs).collect();
    // Once: one value, so one job; the others have samples every round.
    assert_eq!(jobs, [2, 2, 2, 1]);
    check_everywhere("learning", &g, 2);
}
