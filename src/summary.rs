//! `compile --summary`: the task graph as a person reads it.

use hivemind_ir::{Behaviour, Placement, RequirementKind, TaskGraph, Trigger};
use std::fmt::Write;

pub fn render(g: &TaskGraph) -> String {
    let mut out = String::new();
    let devices: u64 = g.fleets.iter().map(|f| u64::from(f.count)).sum();
    let _ = writeln!(
        out,
        "mission {}: {} devices in {} fleet(s), {} tasks, {} edges, {} requirements",
        g.mission,
        devices,
        g.fleets.len(),
        g.tasks.len(),
        g.edges.len(),
        g.requirements.len()
    );
    for f in &g.fleets {
        let _ = writeln!(
            out,
            "  fleet {:<10} {:?} x {:<3} {:.2} GHz x {}  {:.1} Wh  {:.0} Mbit/s",
            f.name,
            f.class,
            f.count,
            f.cpu_hz as f64 / 1e9,
            f.cores,
            f.battery_uj as f64 / 3.6e9,
            f.radio_bps as f64 / 1e6
        );
    }
    for t in &g.tasks {
        let placement = match t.placement {
            Placement::Any => "synthesizer decides".to_string(),
            Placement::Edge => "edge".to_string(),
            Placement::Cloud => "cloud".to_string(),
            Placement::Fleet { fleet } => format!("on {}", g.fleets[fleet.index()].name),
        };
        let trigger = match (t.trigger, t.behaviour) {
            (_, Some(Behaviour::Cover { area, .. })) => {
                format!("covers {}", g.areas[area.index()].name)
            }
            (_, Some(b)) => format!("{b:?}").to_lowercase(),
            (Trigger::Periodic { period_us }, _) => format!("every {} ms", period_us / 1_000),
            (Trigger::Upstream, _) => {
                let ins: Vec<_> = t.inputs.iter().map(|i| i.name.as_str()).collect();
                if ins.is_empty() {
                    "after predecessors".to_string()
                } else {
                    format!("on {}", ins.join(", "))
                }
            }
            (other, _) => format!("{other:?}").to_lowercase(),
        };
        let work = t.work.map_or(String::new(), |w| {
            let per = if w.per_item { "/item" } else { "" };
            if w.ops >= 1_000_000_000 {
                format!("{:.2} Gop{per}", w.ops as f64 / 1e9)
            } else {
                format!("{:.2} Mop{per}", w.ops as f64 / 1e6)
            }
        });
        let _ = writeln!(
            out,
            "  task  {:<14} {:<26} {:<22} {work}",
            t.name, trigger, placement
        );
    }
    for r in &g.requirements {
        let kind = match r.kind {
            RequirementKind::Latency { .. } => "latency",
            RequirementKind::ExecTime { .. } => "exec time",
            RequirementKind::CloudCost { .. } => "cost",
            RequirementKind::BatteryReserve { .. } => "battery",
        };
        let _ = writeln!(out, "  require {kind:<10} {}", r.text);
    }
    out
}
