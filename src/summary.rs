//! `compile --summary`: the task graph as a person reads it, in words and
//! the units a mission is written in (never Rust debug text or the IR's
//! base units).

use hivemind_dsl::units::{display, display_in, Dim};
use hivemind_ir::{
    AreaId, Behaviour, DeviceClass, FailureAction, FanOut, Gather, LowBatteryAction, Objective,
    Placement, Priority, StragglerThreshold, TaskGraph, Trigger,
};
use hivemind_synth::report::MAX_COLUMN;
use std::fmt::Write;

pub fn render(g: &TaskGraph) -> String {
    let mut out = String::new();
    let devices: u64 = g.fleets.iter().map(|f| u64::from(f.count)).sum();
    let duration = format!(
        ", {}{}",
        time(g.duration_us),
        if g.duration_stated { "" } else { " (default)" }
    );
    let _ = writeln!(
        out,
        "mission {}: {} in {}, {}, {}, {}{duration}",
        g.mission,
        plural(devices, "device"),
        plural(g.fleets.len() as u64, "fleet"),
        plural(g.tasks.len() as u64, "task"),
        plural(g.edges.len() as u64, "edge"),
        plural(g.requirements.len() as u64, "requirement"),
    );
    let name_width = g
        .fleets
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .min(MAX_COLUMN);
    for f in &g.fleets {
        let class = match f.class {
            DeviceClass::Drone => "drone",
            DeviceClass::Car => "car",
        };
        let _ = writeln!(
            out,
            "  fleet {:<name_width$}  {}, CPU {} x {}, battery {}, radio {}{}",
            f.name,
            plural(u64::from(f.count), class),
            display(i128::from(f.cpu_hz), Dim::Frequency),
            f.cores,
            display_in(i128::from(f.battery_uj), "Wh", 2).unwrap_or_default(),
            display(i128::from(f.radio_bps), Dim::Bandwidth),
            if f.radio_shared { " shared" } else { "" },
        );
    }
    if let Some(c) = &g.cloud {
        let fpga = if c.fpga {
            format!(", {}", plural(u64::from(c.fpga_boards), "FPGA board"))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  cloud {}, {} each{fpga}",
            plural(u64::from(c.servers), "server"),
            plural(u64::from(c.cores_per_server), "core"),
        );
    }
    let rows: Vec<[String; 4]> = g
        .tasks
        .iter()
        .map(|t| {
            let mut what = match (&t.behaviour, t.trigger) {
                (Some(b @ Behaviour::GotoInput { .. }), _) => {
                    let ins: Vec<_> = t.inputs.iter().map(|i| i.name.as_str()).collect();
                    format!("on {}, {}", ins.join(", "), behaviour(g, t, b))
                }
                (Some(b), _) => behaviour(g, t, b),
                (None, Trigger::Periodic { period_us }) => format!("every {}", time(period_us)),
                (None, Trigger::Window { period_us }) => {
                    let ins: Vec<_> = t.inputs.iter().map(|i| i.name.as_str()).collect();
                    let over = if ins.is_empty() {
                        "its predecessors".to_string()
                    } else {
                        ins.join(", ")
                    };
                    format!("every {} (a window over {over})", time(period_us))
                }
                (None, Trigger::Once) => "once at the start".to_string(),
                (None, Trigger::Never) => "never runs".to_string(),
                (None, Trigger::Upstream | Trigger::Behaviour) => {
                    let ins: Vec<_> = t.inputs.iter().map(|i| i.name.as_str()).collect();
                    if ins.is_empty() {
                        "after its predecessors".to_string()
                    } else {
                        format!("on {}", ins.join(", "))
                    }
                }
            };
            match t.fanout {
                Some(FanOut::Fixed { width }) => {
                    let _ = write!(what, ", fan out x{width}");
                }
                Some(FanOut::PerItem) => what.push_str(", fan out per item"),
                None => {}
            }
            if let Some(a) = t.assign {
                let _ = match a.by {
                    hivemind_ir::AssignBy::Nearest => {
                        write!(what, ", {} nearest per value", a.count)
                    }
                    hivemind_ir::AssignBy::Battery => {
                        write!(what, ", {} with most battery per value", a.count)
                    }
                };
            }
            match t.gather {
                Some(Gather::All) => what.push_str(", gather all"),
                Some(Gather::Count { n }) => {
                    let _ = write!(what, ", gather {n}");
                }
                None => {}
            }
            match t.priority {
                Priority::Critical => what.push_str(", critical priority"),
                Priority::High => what.push_str(", high priority"),
                Priority::Low => what.push_str(", low priority"),
                Priority::Normal => {}
            }
            let placement = match t.placement {
                Placement::Any => "placed by the synthesizer".to_string(),
                Placement::Edge => "on the edge".to_string(),
                Placement::Cloud => "in the cloud".to_string(),
                Placement::Fleet { fleet } => format!("on {}", g.fleets[fleet.index()].name),
            };
            let work = t.work.map_or(String::new(), |w| {
                let amount = display(i128::from(w.ops), Dim::Work);
                if w.per_item {
                    format!("{amount} per item")
                } else {
                    amount
                }
            });
            [t.name.clone(), what, placement, work]
        })
        .collect();
    let width = |k: usize| {
        rows.iter()
            .map(|r| r[k].chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_COLUMN)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for [name, what, placement, work] in &rows {
        let line = format!("  task {name:<w0$}  {what:<w1$}  {placement:<w2$}  {work}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for r in &g.requirements {
        let _ = writeln!(out, "  {}", r.text);
    }
    if !g.objectives.is_empty() {
        let names: Vec<&str> = g
            .objectives
            .iter()
            .filter_map(|o| Objective::ALL.iter().find(|(_, x)| x == o))
            .map(|(n, _)| *n)
            .collect();
        let _ = writeln!(
            out,
            "  minimize {}{}",
            names.join(", then "),
            if g.objectives_stated {
                ""
            } else {
                " (default)"
            }
        );
    }
    policies(g, &mut out);
    out
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn time(us: u64) -> String {
    display(i128::from(us), Dim::Time)
}

fn area(g: &TaskGraph, a: AreaId) -> &str {
    g.areas.get(a.index()).map_or("?", |a| a.name.as_str())
}

fn point(p: hivemind_ir::PointMm) -> String {
    format!(
        "({}, {})",
        display(i128::from(p.x_mm), Dim::Length),
        display(i128::from(p.y_mm), Dim::Length)
    )
}

fn behaviour(g: &TaskGraph, t: &hivemind_ir::Task, b: &Behaviour) -> String {
    match b {
        Behaviour::Cover { area: a, lane_mm } => format!(
            "cover {}, lanes {}",
            area(g, *a),
            display(i128::from(*lane_mm), Dim::Length)
        ),
        Behaviour::GotoPoint { point: p } => format!("goto {}", point(*p)),
        Behaviour::GotoArea { area: a } => format!("goto {}", area(g, *a)),
        Behaviour::GotoInput { input } => format!(
            "goto where `{}` was sensed",
            t.inputs
                .get(*input as usize)
                .map_or("?", |i| i.name.as_str())
        ),
        Behaviour::Route { waypoints, looping } => format!(
            "{} {} waypoints ({})",
            if *looping { "patrol" } else { "route through" },
            waypoints.len(),
            display(
                i128::try_from(hivemind_ir::route::length_mm(waypoints, *looping))
                    .unwrap_or(i128::MAX),
                Dim::Length
            ),
        ),
        Behaviour::ReturnHome => "return home".to_string(),
        Behaviour::Land => "land".to_string(),
    }
}

/// Every policy in effect, the defaults marked as such.
fn policies(g: &TaskGraph, out: &mut String) {
    let p = &g.policies;
    let default = |span: &Option<hivemind_ir::SrcSpan>| {
        if span.is_none() {
            " (default)"
        } else {
            ""
        }
    };
    let failure = match &p.device_failure.action {
        FailureAction::Repartition { areas } if areas.is_empty() => {
            "repartition the covered areas".to_string()
        }
        FailureAction::Repartition { areas } => {
            let names: Vec<&str> = areas.iter().map(|&a| area(g, a)).collect();
            format!("repartition {}", names.join(", "))
        }
        FailureAction::Reassign => "reassign its work".to_string(),
        FailureAction::Abort => "abort the mission".to_string(),
    };
    let _ = writeln!(
        out,
        "  on device failure: {failure}{}",
        default(&p.device_failure.span)
    );
    match &p.straggler {
        Some(s) => {
            let when = match s.threshold {
                StragglerThreshold::FactorOfMedian { permille } => {
                    format!("slower than {}x the median", trim_decimal(permille, 1000))
                }
                StragglerThreshold::Percentile { bp } => {
                    format!("slower than p{}", trim_decimal(bp, 100))
                }
                StragglerThreshold::Absolute { us } => format!("still running after {}", time(us)),
            };
            let _ = writeln!(
                out,
                "  on straggler: relaunch when {when}, first result wins{}",
                default(&s.span)
            );
        }
        None => {
            let _ = writeln!(out, "  on straggler: no relaunch");
        }
    }
    let e = &p.task_error;
    let mut on_error = match e.retries {
        0 => "no retry".to_string(),
        n => format!(
            "retry {}, {} apart",
            if n == 1 {
                "once".to_string()
            } else {
                format!("{n} times")
            },
            time(e.backoff_us)
        ),
    };
    if e.abort_after {
        on_error.push_str(", then abort the mission");
    }
    let _ = writeln!(out, "  on task error: {on_error}{}", default(&e.span));
    if let Some(b) = &p.low_battery {
        let action = match b.action {
            LowBatteryAction::ReturnHome => "return home",
            LowBatteryAction::Land => "land",
        };
        let _ = writeln!(
            out,
            "  on low battery ({}): {action}",
            display(i128::from(b.threshold_bp), Dim::Percent)
        );
    }
    let l = &p.learning;
    if l.enabled {
        let retrain: Vec<String> = l
            .retrain
            .iter()
            .map(|r| {
                let name = |t: hivemind_ir::TaskId| {
                    g.tasks.get(t.index()).map_or("?", |t| t.name.as_str())
                };
                format!(
                    "{} every {} from {} (model {}, {} per sample)",
                    name(r.task),
                    time(r.period_us),
                    name(r.data),
                    display(i128::from(r.model_bytes), Dim::Data),
                    display(i128::from(r.train_ops_per_sample), Dim::Work),
                )
            })
            .collect();
        if retrain.is_empty() {
            let _ = writeln!(out, "  learning on");
        } else {
            let _ = writeln!(out, "  learning on: retrain {}", retrain.join(", "));
        }
    }
}

/// `value / scale` as a short decimal: `1500 / 1000` is `1.5`.
fn trim_decimal(value: u32, scale: u32) -> String {
    let (int, frac) = (value / scale, value % scale);
    if frac == 0 {
        return int.to_string();
    }
    let digits = format!("{frac:0width$}", width = scale.ilog10() as usize);
    format!("{int}.{}", digits.trim_end_matches('0'))
}
