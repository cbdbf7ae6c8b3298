//! Every scenario compiles cleanly, is in canonical form, and models the
//! paper's testbed.

use hivemind_dsl::{compile, format};
use hivemind_examples::{scenario, SCENARIOS};
use hivemind_ir::{DeviceClass, Placement};

#[test]
fn all_ten_scenarios_compile_without_warnings() {
    assert_eq!(SCENARIOS.len(), 10);
    for s in SCENARIOS {
        let out = compile(s.source, s.file);
        let msgs: Vec<_> = out
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(msgs.is_empty(), "{}: {msgs:#?}", s.file);
        let g = out.graph.expect("graph");
        assert!(g.tasks.len() >= 4, "{}: a real pipeline", s.file);
        assert!(
            !g.requirements.is_empty(),
            "{}: states requirements",
            s.file
        );
        assert!(!g.objectives.is_empty(), "{}: states objectives", s.file);
        assert!(
            s.source.starts_with("//"),
            "{}: opens with a comment saying what it does",
            s.file
        );
    }
}

#[test]
fn scenarios_are_in_canonical_form() {
    for s in SCENARIOS {
        let formatted = format::format_source(s.source).expect("parses");
        assert_eq!(
            formatted, s.source,
            "{} is not formatted: run `hivemind fmt --write`",
            s.file
        );
    }
}

#[test]
fn scenarios_use_the_paper_testbed() {
    for s in SCENARIOS {
        let g = compile(s.source, s.file).graph.expect("graph");
        for f in &g.fleets {
            let expected = match f.class {
                DeviceClass::Drone => 16,
                DeviceClass::Car => 14,
            };
            assert_eq!(f.count, expected, "{}: fleet {}", s.file, f.name);
        }
        let cloud = g.cloud.as_ref().expect("a cloud");
        assert_eq!(
            (cloud.servers, cloud.cores_per_server),
            (12, 40),
            "{}",
            s.file
        );
        // HiveMind's point: the synthesizer chooses; not everything is pinned.
        assert!(
            g.tasks
                .iter()
                .any(|t| matches!(t.placement, Placement::Any)),
            "{}: some task left to the synthesizer",
            s.file
        );
    }
}

#[test]
fn lookup_by_id_or_stem() {
    assert_eq!(
        scenario("s02").map(|s| s.file),
        Some("s02_tree_recognition.hm")
    );
    assert_eq!(scenario("s10_slam").map(|s| s.id), Some("s10"));
    assert!(scenario("s11").is_none());
}
