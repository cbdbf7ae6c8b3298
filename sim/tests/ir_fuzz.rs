//! Task graphs and plans are files users hand to the tools: dangling ids,
//! missing entries and wrong versions are clear errors, never panics, in
//! `from_json`, the cost model, plan assembly and the controller.
//! (Extreme numeric values are the hardening issue's property tests.)

use hivemind_controller::{Config, Controller, Micros};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::{self, Modality, Plan, Strategy};
use hivemind_ir::{IrError, TaskGraph};
use hivemind_sim::{simple_plan, World, WorldConfig};
use proptest::prelude::*;
use serde_json::Value;

/// Keys whose integer values are ids into the graph's arrays.
const ID_KEYS: &[&str] = &[
    "id", "producer", "from", "to", "fleet", "area", "areas", "task",
];

fn graphs() -> Vec<Value> {
    hivemind_examples::SCENARIOS
        .iter()
        .map(|s| {
            let g = hivemind_dsl::compile(s.source, s.file)
                .graph
                .expect("example compiles");
            serde_json::to_value(&g).expect("serializes")
        })
        .collect()
}

/// Pointers (JSON paths) to every id-valued integer and every array.
fn sites(
    v: &Value,
    path: &mut Vec<String>,
    key: Option<&str>,
    ids: &mut Vec<String>,
    arrays: &mut Vec<String>,
) {
    match v {
        Value::Number(_) if key.is_some_and(|k| ID_KEYS.contains(&k)) => {
            ids.push(format!("/{}", path.join("/")));
        }
        Value::Array(items) => {
            if !items.is_empty() {
                arrays.push(format!("/{}", path.join("/")));
            }
            for (i, x) in items.iter().enumerate() {
                path.push(i.to_string());
                sites(x, path, key, ids, arrays);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.replace('~', "~0").replace('/', "~1"));
                sites(x, path, Some(k), ids, arrays);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Everything downstream of reading a graph, on a graph that was accepted.
fn exercise(graph: &TaskGraph) {
    let Ok(model) = CostModel::new(graph, Profile::default()) else {
        return;
    };
    if let Some(choices) = model.all_choices() {
        let first: Vec<Modality> = choices.iter().map(|c| c[0]).collect();
        let _ = model.evaluate(&first);
        let p = plan::assemble(graph, &first, Strategy::Manual, "fuzz");
        let text = p.to_json_pretty();
        let _ = Plan::from_json(&text, graph);
    }
    let _ = hivemind_cost::coverage(graph);
    let devices: u64 = graph.fleets.iter().map(|f| u64::from(f.count)).sum();
    let plan = simple_plan(graph);
    if plan.validate(graph).is_err() || devices > 200 {
        return;
    }
    let mut g = graph.clone();
    g.duration_us = g.duration_us.min(3_000_000);
    let Ok(ctl) = Controller::new(Config::default(), g, plan, 1) else {
        return;
    };
    let mut w = World::new(ctl, WorldConfig::default());
    w.keep_effects = false;
    w.run_to_end(Micros::from_secs(120));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dangling_ids_and_missing_entries_are_errors_not_panics(
        pick in 0usize..10,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..6, any::<bool>()), 1..4),
    ) {
        let all = graphs();
        let mut v = all[pick % all.len()].clone();
        for (at, choice, delete) in edits {
            let (mut ids, mut arrays) = (Vec::new(), Vec::new());
            sites(&v, &mut Vec::new(), None, &mut ids, &mut arrays);
            if delete && !arrays.is_empty() {
                let ptr = at.get(&arrays).clone();
                if let Some(Value::Array(items)) = v.pointer_mut(&ptr) {
                    let i = at.index(items.len());
                    items.remove(i);
                }
            } else if !ids.is_empty() {
                let ptr = at.get(&ids).clone();
                let new = [0u64, 1, 7, 99, u64::from(u32::MAX), u64::MAX][usize::from(choice)];
                if let Some(x) = v.pointer_mut(&ptr) {
                    *x = Value::from(new);
                }
            }
        }
        let text = serde_json::to_string(&v).expect("json");
        match TaskGraph::from_json(&text) {
            Ok(g) => exercise(&g),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn wrong_versions_and_foreign_json_are_named() {
    let v = graphs().remove(0);
    let mut newer = v.clone();
    newer["schema_version"] = Value::from(999);
    assert!(matches!(
        TaskGraph::from_json(&newer.to_string()),
        Err(IrError::Version { found: 999 })
    ));
    for text in ["{}", "[]", "null", "{\"schema_version\": \"2\"}", "\u{0}"] {
        assert!(TaskGraph::from_json(text).is_err(), "{text:?}");
    }
}
