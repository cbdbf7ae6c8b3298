//! The z3 optimum equals the exhaustive optimum, and z3 says infeasible
//! exactly when no placement is feasible, on random missions of up to 12
//! tasks (written as mission text and compiled, so the whole pipeline is
//! exercised). proptest prints the failing seed.

use hivemind_dsl::cost::{CostModel, Profile};
use hivemind_synth::{objective_values, search, synthesize, Options, Status};
use proptest::prelude::*;
use std::fmt::Write;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A random valid mission with `n` tasks.
pub fn random_mission(seed: u64, n: usize) -> String {
    let mut r = Rng(seed);
    let mut s = String::new();
    let _ = writeln!(s, "mission rand {{\n  duration {} min", 2 + r.below(20));
    let two_fleets = r.below(2) == 0;
    let _ = writeln!(
        s,
        "  fleet f0: drone x {} {{ cpu {} MHz; battery {} mAh @ 11.1 V; radio {} Mbit/s; sensors camera }}",
        1 + r.below(16),
        400 + r.below(1600),
        1000 + r.below(9000),
        1 + r.below(50)
    );
    if two_fleets {
        let _ = writeln!(
            s,
            "  fleet f1: car x {} {{ cpu {} MHz x 4; battery {} Wh; radio {} Mbit/s; sensors lidar }}",
            1 + r.below(14),
            600 + r.below(1200),
            5 + r.below(50),
            5 + r.below(100)
        );
    }
    let fpga = if r.below(2) == 0 { "; fpga" } else { "" };
    let _ = writeln!(
        s,
        "  cloud {{ servers 4; cores 16 each; price $0.0000{} per GB-s{fpga} }}",
        10 + r.below(90)
    );
    let _ = writeln!(
        s,
        "  task t0 on f0 -> d0: frame {} KB {{ every {} ms; needs camera }}",
        1 + r.below(300),
        100 + r.below(2000)
    );
    for i in 1..n {
        let a = r.below(i as u64);
        let b = r.below(i as u64);
        let inputs = if a != b && r.below(3) == 0 {
            format!("d{a}, d{b}")
        } else {
            format!("d{a}")
        };
        let pin = match r.below(8) {
            0 => " at cloud",
            1 => " at edge",
            2 if two_fleets => " on f1",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  task t{i}({inputs}){pin} -> d{i}: blob {} KB {{ work {} Mop }}",
            1 + r.below(500),
            1 + r.below(3000)
        );
    }
    let target = 1 + r.below((n as u64 - 1).max(1));
    if n > 1 {
        let pct = ["p50", "p95", "p99", ""][r.below(4) as usize];
        let _ = writeln!(
            s,
            "  require latency(t0 -> t{target}) {pct} < {} ms",
            20 + r.below(4000)
        );
    }
    if r.below(2) == 0 {
        let cents = 1 + r.below(300);
        let _ = writeln!(
            s,
            "  require cloud_cost < ${}.{:02} per hour",
            cents / 100,
            cents % 100
        );
    }
    if r.below(3) == 0 {
        let _ = writeln!(s, "  require battery >= {}%", 1 + r.below(60));
    }
    let mut objectives = ["latency", "energy", "cost", "bytes"];
    for i in (1..objectives.len()).rev() {
        objectives.swap(i, r.below(i as u64 + 1) as usize);
    }
    let k = 1 + r.below(3) as usize;
    let _ = writeln!(s, "  minimize {}", objectives[..k].join(" then "));
    s.push_str("}\n");
    s
}

fn check_against_oracle(seed: u64, n: usize) {
    let src = random_mission(seed, n);
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
        let opts = Options { pareto: true, max_pareto_points: 1_000, timeout: std::time::Duration::from_secs(60) };
        let out = synthesize(&graph, Profile::default(), &opts).expect("synthesize");
        let mut found: Vec<Vec<u64>> = out.pareto.iter().map(|p| objective_values(&model, p)).collect();
        found.sort();
        prop_assert_eq!(found, exact, "seed {}\n{}", seed, src);
    }
}
