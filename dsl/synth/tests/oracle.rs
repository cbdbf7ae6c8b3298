//! The z3 optimum equals the exhaustive optimum, and z3 says infeasible
//! exactly when no placement is feasible, on random missions of up to 12
//! tasks (written as mission text and compiled, so the whole pipeline is
//! exercised). proptest prints the failing seed.

use hivemind_cost::{CostModel, Profile};
use hivemind_dsl::synthetic::random_mission;
use hivemind_synth::{objective_values, search, synthesize, Options, Status, Worker};

/// The z3 stages run in the crate's worker process, as in a program that
/// synthesizes: the oracle checks that path.
fn worker() -> Worker {
    Worker::program(env!("CARGO_BIN_EXE_hivemind-synth-worker"))
}
use proptest::prelude::*;

fn check_against_oracle(seed: u64, n: usize) {
    check_source_against_oracle(seed, random_mission(seed, n));
}

/// [`random_mission`] with limits that bind: its own cloud budget and
/// battery reserves replaced by a budget at 60–95% of the all-cloud cost
/// and a reserve on `f0` half-way between its all-cloud and all-edge use
/// (by seed; the mission may become infeasible, which the oracle checks too).
fn binding_mission(seed: u64, n: usize) -> String {
    let src = random_mission(seed, n);
    let mut kept: Vec<&str> = src
        .lines()
        .filter(|l| !l.contains("require cloud_cost") && !l.contains("require battery"))
        .collect();
    kept.pop(); // the closing brace
    let mut body = kept.join("\n");
    let graph = hivemind_dsl::compile(&(body.clone() + "\n}\n"), "b.hm")
        .graph
        .expect("compiles");
    let model = CostModel::new(&graph, Profile::default()).expect("model");
    use hivemind_ir::plan::Modality::{Cloud, CloudFpga, Edge};
    let cloud =
        hivemind_cost::baseline(&model, [Cloud, CloudFpga, Edge]).map(|a| model.evaluate(&a));
    let edge =
        hivemind_cost::baseline(&model, [Edge, Cloud, CloudFpga]).map(|a| model.evaluate(&a));
    if let (Some(cloud), Some(edge)) = (cloud, edge) {
        let cost = cloud.cloud_cost_nusd_per_hour.saturated();
        let budget = cost / 100 * (60 + seed % 36);
        if budget > 0 {
            body += &format!(
                "\n  require cloud_cost <= ${}.{:06} per hour",
                budget / 1_000_000_000,
                budget % 1_000_000_000 / 1_000
            );
        }
        let (a, b) = (
            cloud.fleet_energy_uj[0].saturated(),
            edge.fleet_energy_uj[0].saturated(),
        );
        let allowed = u128::from(a.min(b) + a.abs_diff(b) / 2);
        let cap = model.battery_uj[0].max(1);
        let bp = 10_000u128
            .saturating_sub(allowed * 10_000 / cap)
            .clamp(1, 9_999);
        if seed.is_multiple_of(2) {
            body += &format!("\n  require battery(f0) >= {}.{:02}%", bp / 100, bp % 100);
        }
    }
    body + "\n}\n"
}

fn check_source_against_oracle(seed: u64, src: String) {
    let out = hivemind_dsl::compile(&src, "rand.hm");
    let graph = out.graph.unwrap_or_else(|| {
        panic!(
            "generated mission must compile: {:?}\n{src}",
            out.diagnostics.first()
        )
    });
    let model = CostModel::new(&graph, Profile::default()).expect("model");
    let oracle = search::exhaustive(&model, 2_000_000).expect("small enough to enumerate");
    let opts = Options {
        timeout: std::time::Duration::from_secs(60),
        z3_worker: worker(),
        ..Options::default()
    };
    let synth = synthesize(&graph, Profile::default(), &opts).expect("synthesize");
    match oracle {
        None => {
            assert_eq!(
                synth.status,
                Status::Infeasible,
                "seed {seed}: oracle finds no feasible plan\n{src}"
            );
            assert!(
                !synth.conflicts.is_empty(),
                "seed {seed}: infeasible without explanation"
            );
        }
        Some((_, best)) => {
            assert_eq!(
                synth.status,
                Status::Optimal,
                "seed {seed}: oracle found a plan\n{src}"
            );
            let plan = synth.plan.expect("plan");
            plan.validate(&graph).expect("valid plan");
            assert!(
                plan.predicted.requirements.iter().all(|r| r.met),
                "seed {seed}: plan violates a requirement"
            );
            let za: Vec<_> = plan.tasks.iter().map(|t| t.modality).collect();
            assert_eq!(
                objective_values(&model, &plan),
                model.objective_vector(&best),
                "seed {seed}: z3 optimum differs from the oracle ({:?} via {:?}: {za:?})\n{src}",
                synth.status,
                plan.strategy
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn z3_matches_the_exhaustive_oracle(seed in any::<u64>(), n in 2usize..=9) {
        check_against_oracle(seed, n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    /// The same on missions whose budget and battery reserve bind.
    #[test]
    fn z3_matches_the_oracle_where_limits_bind(seed in any::<u64>(), n in 2usize..=9) {
        check_source_against_oracle(seed, binding_mission(seed, n));
    }
}

#[test]
fn z3_matches_the_oracle_at_twelve_tasks() {
    for seed in [1u64, 7, 42] {
        check_against_oracle(seed, 12);
    }
}

/// The generator must exercise both answers, or the property above proves little.
#[test]
fn generated_missions_cover_feasible_and_infeasible_cases() {
    let (mut feasible, mut infeasible, mut combos_total) = (0, 0, 0u64);
    for seed in 0..200u64 {
        let n = 2 + (seed % 11) as usize;
        let src = random_mission(seed, n);
        let out = hivemind_dsl::compile(&src, "r.hm");
        let Some(g) = out.graph else {
            panic!("seed {seed}: {:?}\n{src}", out.diagnostics)
        };
        let model = CostModel::new(&g, Profile::default()).expect("model");
        combos_total += g
            .tasks
            .iter()
            .map(|t| model.choices(t.id).len() as u64)
            .product::<u64>();
        match search::exhaustive(&model, 2_000_000).expect("small") {
            Some(_) => feasible += 1,
            None => infeasible += 1,
        }
    }
    assert!(
        feasible >= 60 && infeasible >= 40,
        "feasible {feasible}, infeasible {infeasible}"
    );
    assert!(
        combos_total / 200 >= 500,
        "placements per mission: {}",
        combos_total / 200
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]
    /// `--pareto` finds exactly the non-dominated objective vectors.
    #[test]
    fn pareto_front_matches_the_exhaustive_front(seed in any::<u64>(), n in 2usize..=7) {
        let src = random_mission(seed, n);
        let graph = hivemind_dsl::compile(&src, "rand.hm").graph.expect("compiles");
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let exact = search::exhaustive_front(&model, 1_000_000).expect("small");
        let opts = Options { pareto: true, max_pareto_points: 1_000, timeout: std::time::Duration::from_secs(60), z3_worker: worker(), ..Options::default() };
        let out = synthesize(&graph, Profile::default(), &opts).expect("synthesize");
        // The front's points after the first come from z3 (the blocks are
        // only in its encoding), in the worker.
        prop_assert!(out.z3_runs.iter().all(|r| r.in_process.is_none()), "{:?}", out.z3_runs);
        let mut found: Vec<Vec<hivemind_ir::Sat>> = out.pareto.iter().map(|p| objective_values(&model, p)).collect();
        found.sort();
        prop_assert_eq!(found, exact, "seed {}\n{}", seed, src);
    }
}

/// A plan not proven optimal in time carries an optimality gap whose lower
/// bound no feasible placement beats (checked against the exhaustive
/// optimum). With no time at all, z3 gets its 1 ms minimum and is cut short
/// wherever the bounds do not prove the greedy plan optimal.
#[test]
fn reported_gaps_are_sound() {
    let mut gaps = 0;
    for seed in 0..400u64 {
        let n = 6 + (seed % 4) as usize;
        // Half of them with a budget and a reserve that bind.
        let src = if seed.is_multiple_of(2) {
            random_mission(seed, n)
        } else {
            binding_mission(seed, n)
        };
        let graph = hivemind_dsl::compile(&src, "r.hm").graph.expect("compiles");
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let opts = Options {
            timeout: std::time::Duration::ZERO,
            z3_worker: worker(),
            ..Options::default()
        };
        let Ok(out) = synthesize(&graph, Profile::default(), &opts) else {
            continue;
        };
        let Some(gap) = out.gap else { continue };
        gaps += 1;
        let (_, best) = search::exhaustive(&model, 2_000_000)
            .expect("small")
            .expect("a plan was found, so one is feasible");
        let stage = model
            .objectives
            .iter()
            .position(|&o| o == gap.objective)
            .expect("a stated objective");
        let optimum = model.objective_vector(&best);
        // The bound holds with the earlier objectives at their optimum; the
        // lexicographic optimum has them there.
        assert!(
            gap.lower_bound <= optimum[stage] && optimum[stage] <= gap.found,
            "seed {seed}: gap {gap:?}, optimum {optimum:?}\n{src}"
        );
    }
    eprintln!("{gaps} gaps checked");
    assert!(gaps >= 3, "only {gaps} missions timed out with a gap");
}
