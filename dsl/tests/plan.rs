//! Plan assembly rules over compiled missions.
use hivemind_dsl::ir::plan::*;
use hivemind_dsl::ir::{FleetId, TaskGraph, TaskId};

const SRC: &str = "mission m {\n  fleet d: drone x 4 { cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s; sensors camera }\n  cloud { servers 2; cores 8 each; fpga }\n  task cap on d -> f: image 64x64 { every 1 s; needs camera }\n  task det(f) -> b: list<box 8 B> x 5 { work 1 Gop; fn det }\n  task cls(b) -> c: list<tag 8 B> x 5 { work 1 Mop per item; fanout per item; fn cls }\n  task rep(c) at cloud { work 1 Mop; fn rep }\n}\n";

fn graph() -> TaskGraph {
    hivemind_dsl::compile(SRC, "m.hm").graph.expect("compiles")
}

#[test]
fn assemble_derives_fleets_channels_and_prewarm() {
    let g = graph();
    let p = assemble(
        &g,
        &[
            Modality::Edge,
            Modality::Edge,
            Modality::Cloud,
            Modality::Cloud,
        ],
        Strategy::Manual,
        "h",
    );
    p.validate(&g).expect("valid");
    assert_eq!(
        p.tasks[0].instances, 4,
        "periodic sensing runs on every device"
    );
    assert_eq!(
        p.tasks[1].fleet,
        Some(FleetId(0)),
        "follows its producer's fleet"
    );
    assert_eq!(p.tasks[2].instances, 5, "fan-out per item");
    let kinds: Vec<_> = p.channels.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ChannelKind::DeviceLocal,
            ChannelKind::Uplink,
            ChannelKind::CloudInWorker
        ]
    );
    assert_eq!(
        p.prewarm
            .iter()
            .map(|w| (w.function.as_str(), w.workers))
            .collect::<Vec<_>>(),
        [("cls", 1), ("rep", 1)]
    );
    let fpga = assemble(
        &g,
        &[
            Modality::Edge,
            Modality::Edge,
            Modality::CloudFpga,
            Modality::Cloud,
        ],
        Strategy::Manual,
        "h",
    );
    assert_eq!(fpga.channels[2].kind, ChannelKind::CloudRemoteMemory);
}

#[test]
fn pins_and_needs_restrict_modalities() {
    let g = graph();
    assert!(allowed(&g, TaskId(0), Modality::Edge));
    assert!(!allowed(&g, TaskId(0), Modality::Cloud), "needs a camera");
    assert!(allowed(&g, TaskId(1), Modality::CloudFpga));
    assert!(!allowed(&g, TaskId(3), Modality::Edge), "pinned at cloud");
}

/// A plan belongs to what a mission means, not to its file name, layout or
/// cost profile; another mission, a disallowed placement, truncation and
/// another version are refused.
#[test]
fn plans_are_tied_to_the_mission_meaning_only() {
    let g = graph();
    let ok = [
        Modality::Edge,
        Modality::Edge,
        Modality::Cloud,
        Modality::Cloud,
    ];
    let p = assemble(&g, &ok, Strategy::Manual, "profile-a");
    let text = p.to_json_pretty();
    assert!(Plan::from_json(&text, &g).is_ok());
    // The same mission from another path, reformatted and commented.
    let src = format!(
        "// a comment\n\n{}",
        hivemind_dsl::format::format_source(SRC).unwrap_or(SRC.to_string())
    );
    let moved = hivemind_dsl::compile(&src, "./elsewhere/m.hm")
        .graph
        .expect("compiles");
    assert_eq!(moved.identity_sha256(), g.identity_sha256());
    assert!(Plan::from_json(&text, &moved).is_ok());
    // Another mission (one more drone) is refused.
    let other = hivemind_dsl::compile(&SRC.replace("drone x 4", "drone x 5"), "m.hm")
        .graph
        .expect("compiles");
    assert!(matches!(
        Plan::from_json(&text, &other),
        Err(PlanError::Mismatch { .. })
    ));
    // A cloud-pinned task placed on the edge is refused.
    let pinned = assemble(&g, &[Modality::Edge; 4], Strategy::Manual, "x");
    assert!(matches!(
        Plan::from_json(&pinned.to_json_pretty(), &g),
        Err(PlanError::Inconsistent(_))
    ));
    assert!(matches!(
        Plan::from_json(&text[..text.len() / 2], &g),
        Err(PlanError::Json(_))
    ));
    let v = text.replacen(
        &format!("\"schema_version\": {PLAN_SCHEMA_VERSION}"),
        "\"schema_version\": 7",
        1,
    );
    assert!(matches!(
        Plan::from_json(&v, &g),
        Err(PlanError::Version { found: 7 })
    ));
}

/// `edge_fleets` (one pass) answers what `edge_fleet` (one walk per task)
/// does, on pinned chains, sensor fallbacks and a 5,000-task chain.
#[test]
fn edge_fleets_in_one_pass_agree_with_the_walk() {
    let two = "mission m {\n  fleet a: drone x 2 { cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s; sensors gps }\n  fleet b: car x 2 { cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s; sensors lidar }\n  task s on b -> x: v 1 B { every 1 s }\n  task t(x) -> y: v 1 B { work 1 Mop }\n  task u(y) -> z: v 1 B { work 1 Mop }\n  task l -> w: v 1 B { every 1 s; needs lidar }\n  task m2(w, z) { work 1 Mop }\n  task free -> q: v 1 B { every 1 s }\n  task q2(q) { work 1 Mop }\n}\n";
    let mut chain = String::from("mission c {\n  fleet a: drone x 2 { cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s }\n  task c0 on a -> v0: v 1 B { every 1 s }\n");
    for i in 1..5_000 {
        chain.push_str(&format!(
            "  task c{i}(v{}) -> v{i}: v 1 B {{ work 1 Mop }}\n",
            i - 1
        ));
    }
    chain.push_str("  task sink(v4999) { work 1 Mop }\n}\n");
    for src in [SRC, two, chain.as_str()] {
        let g = hivemind_dsl::compile(src, "m.hm").graph.expect("compiles");
        let all = edge_fleets(&g);
        for t in &g.tasks {
            assert_eq!(all[t.id.index()], edge_fleet(&g, t.id), "task `{}`", t.name);
        }
    }
    let g = hivemind_dsl::compile(two, "m.hm").graph.expect("compiles");
    let fleet = |name: &str| edge_fleets(&g)[g.task(name).expect("task").id.index()];
    assert_eq!(
        fleet("u"),
        Some(FleetId(1)),
        "pinned ancestor along first inputs"
    );
    assert_eq!(fleet("l"), Some(FleetId(1)), "the fleet with its sensor");
    assert_eq!(fleet("q2"), Some(FleetId(0)), "else the first fleet");
}
