//! `learning on { retrain … }`: what a retrain must say and what the
//! checker says when it does not (data-driven: input, expected codes and
//! message fragments).

#[path = "support/messages.rs"]
mod support;

use hivemind_dsl::{compile, format, Code};
use support::messages;

fn mission(learning: &str) -> String {
    format!(
        "mission m {{
  fleet drones: drone x 4 {{
    cpu 1 GHz x 2
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    sensors camera(640x360), gps
  }}
  cloud {{ servers 2; cores 8 each }}
  task capture on drones -> frame: image 640x360 {{ every 1 s; needs camera }}
  task detect(frame) -> boxes: list<box 32 B> x 10 {{ work 0.5 Gop; fn detect }}
  task report(boxes) at cloud {{ work 1 Mop; fn report }}
  learning on {{ {learning} }}
}}
"
    )
}

/// `learning` compiles with exactly `codes` (in order), and every fragment
/// appears in the messages or help.
fn check(learning: &str, codes: &[Code], fragments: &[&str]) {
    let out = compile(&mission(learning), "m.hm");
    let got: Vec<Code> = out.diagnostics.iter().map(|d| d.code).collect();
    let text = messages(&out);
    assert_eq!(got, codes, "{learning}\n{text}");
    for f in fragments {
        assert!(text.contains(f), "{learning}: missing {f:?} in\n{text}");
    }
    for d in &out.diagnostics {
        assert!(!d.labels.is_empty(), "{learning}: {} has no span", d.code);
    }
}

#[test]
fn the_full_form_lowers_to_the_ir() {
    let out = compile(
        &mission("retrain detect every 5 min from detect model 40 MB work 20 Mop per sample"),
        "m.hm",
    );
    let text = messages(&out);
    let g = out.graph.unwrap_or_else(|| panic!("{text}"));
    let r = &g.policies.learning.retrain[0];
    assert_eq!(g.tasks[r.task.index()].name, "detect");
    assert_eq!(g.tasks[r.data.index()].name, "detect");
    assert_eq!(r.period_us, 300_000_000);
    assert_eq!(r.model_bytes, 40_000_000);
    assert_eq!(r.train_ops_per_sample, 20_000_000);
    assert!(r.span.start > 0 && r.span.line > 0);
}

#[test]
fn work_per_sample_defaults_to_the_documented_figure() {
    let out = compile(
        &mission("retrain detect every 5 min from capture model 4 MB"),
        "m.hm",
    );
    let text = messages(&out);
    let g = out.graph.unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        g.policies.learning.retrain[0].train_ops_per_sample,
        hivemind_dsl::ir::defaults::TRAIN_OPS_PER_SAMPLE
    );
}

#[test]
fn the_old_short_form_is_an_error_showing_the_full_form() {
    check(
        "retrain detect every 5 min",
        &[Code::MissingProperty],
        &[
            "`retrain detect` needs `from DATA_TASK`",
            "and `model SIZE`",
            "retrain TASK every PERIOD from DATA_TASK model SIZE [work OPS per sample]",
            // The example names the data the task reads.
            "retrain detect every 5 min from capture model 40 MB",
        ],
    );
}

#[test]
fn a_missing_model_is_named() {
    check(
        "retrain detect every 5 min from capture",
        &[Code::MissingProperty],
        &["needs `model SIZE`", "from capture model 40 MB"],
    );
}

#[test]
fn a_model_size_in_seconds_is_a_wrong_unit() {
    check(
        "retrain detect every 5 min from capture model 40 s",
        &[Code::WrongUnit],
        &["model size must be a data size"],
    );
}

#[test]
fn training_work_must_be_work() {
    check(
        "retrain detect every 5 min from capture model 4 MB work 3 MB per sample",
        &[Code::WrongUnit],
        &["training work per sample"],
    );
}

#[test]
fn unknown_tasks_get_a_suggestion() {
    check(
        "retrain detcet every 5 min from captur model 4 MB",
        &[Code::UnknownTask, Code::UnknownTask],
        &[
            "unknown task `detcet`",
            "did you mean `detect`?",
            "did you mean `capture`?",
        ],
    );
}

#[test]
fn training_data_must_be_an_output() {
    check(
        "retrain detect every 5 min from report model 4 MB",
        &[Code::NoTrainingData],
        &["task `report` outputs nothing to train on"],
    );
}

#[test]
fn the_retrained_task_must_call_a_function() {
    check(
        "retrain capture every 5 min from capture model 4 MB",
        &[Code::NotLearnable],
        &["task `capture` runs no model to retrain"],
    );
}

#[test]
fn every_mistake_of_one_line_is_reported() {
    check(
        "retrain detect every 5 s from report model 40 s",
        &[Code::Absurd, Code::NoTrainingData, Code::WrongUnit],
        &["retrain period"],
    );
}

#[test]
fn parts_come_in_order() {
    let out = compile(
        &mission("retrain detect every 5 min model 4 MB from capture"),
        "m.hm",
    );
    let text = messages(&out);
    assert_eq!(out.diagnostics[0].code, Code::UnknownKeyword, "{text}");
    assert!(text.contains("unexpected word `from`"), "{text}");
}

#[test]
fn the_formatter_round_trips_every_form() {
    for learning in [
        "retrain detect every 5 min from capture model 4 MB",
        "retrain detect every 5 min from capture model 4 MB work 20 Mop per sample",
        "retrain detect every 5 min",
        "retrain detect every 5 min from capture",
    ] {
        let src = mission(learning);
        let once = format::format_source(&src).expect("formats");
        assert!(once.contains(learning), "{once}");
        assert_eq!(format::format_source(&once).expect("formats"), once);
    }
}
