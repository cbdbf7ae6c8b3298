//! Snapshots of what `hivemind synth` prints: the plan report for every
//! scenario S1-S10, and report + diagnostics for the infeasible corpus.

use hivemind_cost::{CostModel, Profile};
use hivemind_dsl::diagnostic::{render, Style};
use hivemind_synth::{report, synthesize, Options, Status};
use std::path::Path;

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({ snapshot_path => "data/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, value);
    });
}

#[test]
fn every_scenario_gets_a_proven_optimal_plan() {
    for s in hivemind_examples::SCENARIOS {
        let graph = hivemind_dsl::compile(s.source, s.file)
            .graph
            .expect("compiles");
        let out = synthesize(&graph, Profile::default(), &Options::default()).expect("synthesizes");
        assert_eq!(out.status, Status::Optimal, "{}", s.file);
        let plan = out.plan.as_ref().expect("plan");
        plan.validate(&graph).expect("plan fits its graph");
        assert!(
            plan.predicted.requirements.iter().all(|r| r.met),
            "{}",
            s.file
        );
        // The plan is never worse than either baseline that is feasible.
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let chosen = hivemind_synth::objective_values(&model, plan);
        for base in [&out.centralized, &out.decentralized].into_iter().flatten() {
            let a: Vec<_> = base.tasks.iter().map(|t| t.modality).collect();
            if model.evaluate(&a).feasible() {
                assert!(
                    chosen <= hivemind_synth::objective_values(&model, base),
                    "{}: worse than {:?}",
                    s.file,
                    base.strategy
                );
            }
        }
        snapshot(&format!("plan__{}", s.id), &report::render(&graph, &out));
    }
}

#[test]
fn infeasible_missions_are_explained_with_spans() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/infeasible");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "at least 10 infeasible missions");
    for path in files {
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let name = format!("infeasible/{stem}.hm");
        let src = std::fs::read_to_string(&path).expect("read");
        let compiled = hivemind_dsl::compile(&src, &name);
        assert!(
            compiled.diagnostics.is_empty(),
            "{name} must check cleanly: {:?}",
            compiled.diagnostics
        );
        let graph = compiled.graph.expect("graph");
        let out = synthesize(&graph, Profile::default(), &Options::default()).expect("synthesizes");
        assert_eq!(out.status, Status::Infeasible, "{name}");
        assert!(out.plan.is_none());
        let diags = report::diagnostics(&graph, &out);
        assert!(!diags.is_empty(), "{name}: no explanation");
        for d in &diags {
            assert!(
                !d.labels.is_empty()
                    && d.labels
                        .iter()
                        .all(|l| l.span.end <= src.len() && l.span.start < l.span.end),
                "{name}: bad labels"
            );
        }
        let text = format!(
            "{}\n{}",
            report::render(&graph, &out),
            render(&diags, &name, &src, Style::Plain)
        );
        snapshot(&format!("infeasible__{stem}"), &text);
    }
}

#[test]
fn pareto_front_points_do_not_dominate_each_other() {
    let s = hivemind_examples::scenario("s07").expect("s07");
    let graph = hivemind_dsl::compile(s.source, s.file)
        .graph
        .expect("graph");
    let model = CostModel::new(&graph, Profile::default()).expect("model");
    let opts = Options {
        pareto: true,
        ..Options::default()
    };
    let out = synthesize(&graph, Profile::default(), &opts).expect("synth");
    assert!(out.pareto.len() >= 2, "S7 trades energy against cost");
    let points: Vec<Vec<hivemind_ir::Sat>> = out
        .pareto
        .iter()
        .map(|p| hivemind_synth::objective_values(&model, p))
        .collect();
    for (i, a) in points.iter().enumerate() {
        for (j, b) in points.iter().enumerate() {
            let dominates = a.iter().zip(b).all(|(x, y)| x <= y) && a != b;
            assert!(
                i == j || !dominates,
                "pareto point {i} {a:?} dominates {j} {b:?}"
            );
        }
    }
    assert_eq!(
        points[0],
        hivemind_synth::objective_values(&model, out.plan.as_ref().expect("plan")),
        "first point is the lexicographic optimum"
    );
}
