//! Continuous learning changes placements: the synthesizer sees the
//! training jobs' cost and the model pushes a retrained task on the edge
//! receives (through the cost model's coefficients), and agrees with the
//! exhaustive oracle on it.

use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::Modality;
use hivemind_synth::{report, search, synthesize, Options, Status};

/// Four drones streaming small frames; `detect` can run anywhere. With
/// `learning`, its 250 MB model is retrained every minute.
fn mission(learning: &str, pin: &str) -> String {
    format!(
        "mission push {{
  duration 10 min
  fleet drones: drone x 4 {{ cpu 1 GHz x 4; battery 100 Wh; radio 20 Mbit/s; sensors camera(640x360) }}
  cloud {{ servers 4; cores 16 each }}
  task capture on drones -> frame: image 640x360 {{ every 1 s; needs camera(640x360) }}
  task detect(frame){pin} -> boxes: list<box 16 B> x 20 {{ work 0.2 Gop; fn detect }}
  task report(boxes) at cloud {{ work 1 Mop; fn report }}
  {learning}
}}
"
    )
}

const LEARNING: &str =
    "learning on { retrain detect every 1 min from detect model 250 MB work 5 Mop per sample }";

fn synth(src: &str) -> (hivemind_ir::TaskGraph, hivemind_synth::Synthesis) {
    let graph = hivemind_dsl::compile(src, "push.hm")
        .graph
        .expect("compiles");
    let out = synthesize(&graph, Profile::default(), &Options::default()).expect("synthesizes");
    (graph, out)
}

fn detect_modality(graph: &hivemind_ir::TaskGraph, out: &hivemind_synth::Synthesis) -> Modality {
    let t = graph.task("detect").expect("detect");
    out.plan.as_ref().expect("plan").tasks[t.id.index()].modality
}

#[test]
fn model_pushes_move_a_retrained_task_off_the_edge() {
    let (g0, without) = synth(&mission("", ""));
    let (g1, with) = synth(&mission(LEARNING, ""));
    assert_eq!(without.status, Status::Optimal);
    assert_eq!(with.status, Status::Optimal);
    assert_eq!(detect_modality(&g0, &without), Modality::Edge);
    // 250 MB a minute per drone is 4.2 MB/s on a 2.5 MB/s radio.
    assert!(detect_modality(&g1, &with).is_cloud());
    let text0 = report::render(&g0, &without);
    let text1 = report::render(&g1, &with);
    assert_ne!(text0, text1);
    assert!(!text0.contains("learning:"), "{text0}");
    assert!(
        text1.contains("learning: detect 9 jobs x 4800 samples"),
        "{text1}"
    );
    let plan = with.plan.as_ref().expect("plan");
    let l = &plan.predicted.learning[0];
    assert_eq!((l.rounds, l.training_jobs), (9, 9), "rounds at 1..9 min");
    assert_eq!(
        l.model_pushes, 0,
        "in the cloud the model goes to the function"
    );
    assert!(l.cost_nusd_per_hour > 0);
}

#[test]
fn pinned_on_the_edge_the_pushes_oversubscribe_the_radio() {
    let (graph, out) = synth(&mission(LEARNING, " at edge"));
    assert_eq!(out.status, Status::Infeasible);
    let diags = report::diagnostics(&graph, &out);
    let text: String = diags
        .iter()
        .map(|d| {
            let labels: Vec<&str> = d.labels.iter().map(|l| l.message.as_str()).collect();
            format!("{} | {} | {:?}\n", d.message, labels.join(" | "), d.help)
        })
        .collect();
    assert!(
        text.contains("must move more data than its radios carry"),
        "{text}"
    );
    assert!(
        text.contains("`detect` receives a 250.0 MB model every 1.0 min"),
        "{text}"
    );
    // A smaller model every 5 minutes fits.
    let (_, ok) = synth(&mission(
        "learning on { retrain detect every 5 min from detect model 40 MB }",
        " at edge",
    ));
    assert_eq!(ok.status, Status::Optimal);
    let l = &ok.plan.as_ref().expect("plan").predicted.learning[0];
    // One round (at 5 min; 10 min is the end), one download per drone.
    assert_eq!((l.training_jobs, l.model_pushes), (1, 4));
    assert_eq!(l.model_bytes_pushed, 4 * 40_000_000);
}

#[test]
fn the_optimum_with_learning_is_the_exhaustive_optimum() {
    for (learning, pin) in [(LEARNING, ""), (LEARNING, " at edge"), ("", "")] {
        let src = mission(learning, pin);
        let (graph, out) = synth(&src);
        let model = CostModel::new(&graph, Profile::default()).expect("model");
        let oracle = search::exhaustive(&model, 1_000_000).expect("small");
        match (oracle, out.plan) {
            (None, None) => {}
            (Some((a, _)), Some(p)) => {
                let chosen: Vec<Modality> = p.tasks.iter().map(|t| t.modality).collect();
                assert_eq!(
                    model.preference_vector(&model.evaluate(&chosen), &chosen)
                        [..model.objectives.len()],
                    model.preference_vector(&model.evaluate(&a), &a)[..model.objectives.len()],
                    "{src}"
                );
            }
            (o, p) => panic!("oracle {o:?} vs synth {p:?}\n{src}"),
        }
    }
}
