//! The IR as a file format: round trip, versioning, and bad input.

use hivemind_dsl::{compile, synthetic};
use hivemind_ir::{IrError, TaskGraph};

fn graph() -> TaskGraph {
    compile(&synthetic::mission(20), "gen.hm")
        .graph
        .expect("compiles")
}

#[test]
fn json_round_trip_is_lossless_and_deterministic() {
    let g = graph();
    let text = g.to_json_pretty();
    assert_eq!(TaskGraph::from_json(&text).expect("reads"), g);
    assert_eq!(graph().to_json_pretty(), text, "same source, same bytes");
}

#[test]
fn wrong_schema_version_is_named() {
    let text = graph().to_json_pretty().replacen(
        &format!("\"schema_version\": {}", hivemind_ir::SCHEMA_VERSION),
        "\"schema_version\": 99",
        1,
    );
    match TaskGraph::from_json(&text) {
        Err(IrError::Version { found: 99 }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_garbage_and_unknown_fields_are_errors() {
    let text = graph().to_json_pretty();
    for cut in [0, 1, text.len() / 3, text.len() - 2] {
        assert!(TaskGraph::from_json(&text[..cut]).is_err(), "cut at {cut}");
    }
    assert!(TaskGraph::from_json("\u{0}\u{1}garbage").is_err());
    let extra = text.replacen("\"mission\":", "\"surprise\": 1, \"mission\":", 1);
    assert!(matches!(
        TaskGraph::from_json(&extra),
        Err(IrError::Json(_))
    ));
}

#[test]
fn inconsistent_ids_are_rejected() {
    let mut g = graph();
    g.tasks.swap(0, 1);
    assert!(matches!(
        TaskGraph::from_json(&g.to_json_pretty()),
        Err(IrError::Inconsistent(_))
    ));
    let mut g = graph();
    g.edges[0].to = hivemind_ir::TaskId(9_999);
    assert!(matches!(
        TaskGraph::from_json(&g.to_json_pretty()),
        Err(IrError::Inconsistent(_))
    ));
}

#[test]
fn quantities_are_in_documented_base_units() {
    let src = "mission m {\n  fleet d: drone x 2 { cpu 1.5 GHz x 2; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s; speed 36 km/h }\n  cloud { servers 1; cores 2 each; price $0.0000166 per GB-s }\n  task a on d -> x: image 640x360 { every 250 ms }\n  task b(x) at cloud { work 0.8 Gop }\n  require latency(a -> b) p99.9 < 1.5 s\n  require cloud_cost < $2 per hour\n  require battery(d) >= 20%\n}\n";
    let g = compile(src, "m.hm").graph.expect("compiles");
    let f = &g.fleets[0];
    assert_eq!(
        (f.cpu_hz, f.cores, f.radio_bps, f.speed_mm_s),
        (1_500_000_000, 2, 20_000_000, Some(10_000))
    );
    assert_eq!(
        f.battery_uj, 59_940_000_000,
        "1500 mAh x 11.1 V = 16.65 Wh = 59 940 J"
    );
    assert_eq!(
        g.cloud.as_ref().and_then(|c| c.price_nusd_per_gb_s),
        Some(16_600)
    );
    assert_eq!(
        g.tasks[0].trigger,
        hivemind_ir::Trigger::Periodic { period_us: 250_000 }
    );
    assert_eq!(g.tasks[0].outputs[0].ty.bytes, 640 * 360 * 3);
    assert_eq!(g.tasks[1].work.map(|w| w.ops), Some(800_000_000));
    use hivemind_ir::RequirementKind as K;
    assert_eq!(
        g.requirements[0].kind,
        K::Latency {
            from: g.tasks[0].id,
            to: g.tasks[1].id,
            percentile_bp: 9_990,
            bound_us: 1_500_000
        }
    );
    assert_eq!(
        g.requirements[1].kind,
        K::CloudCost {
            max_nusd_per_hour: 2_000_000_000
        }
    );
    assert_eq!(
        g.requirements[2].kind,
        K::BatteryReserve {
            fleet: Some(f.id),
            min_bp: 2_000
        }
    );
    assert!(g.requirements[2].inclusive);
}
