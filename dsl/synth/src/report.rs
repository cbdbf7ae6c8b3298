//! What `hivemind synth` prints: the chosen plan beside the two baselines,
//! every requirement with its margin, energy, uplink, cost, prewarming, the
//! Pareto front; and, when nothing fits, diagnostics that point at the
//! conflicting requirements and pins.

use crate::{Status, Synthesis};
use hivemind_dsl::syntax::Span;
use hivemind_dsl::{Code, Diagnostic};
use hivemind_ir::plan::{Plan, Strategy};
use hivemind_ir::{Objective, RequirementKind, Sat, TaskGraph};
use std::fmt::Write;

/// Widest a padded column gets: longer text overflows it (a format width
/// above 65,535 would panic, and a 100 KB name makes no table).
pub const MAX_COLUMN: usize = 64;

/// A duration in µs as people read it.
pub fn time(us: i64) -> String {
    let a = us.unsigned_abs() as f64;
    let sign = if us < 0 { "-" } else { "" };
    if a >= 172_800e6 {
        format!("{sign}{:.1} days", a / 86_400e6)
    } else if a >= 7_200e6 {
        format!("{sign}{:.1} h", a / 3_600e6)
    } else if a >= 60_000_000.0 {
        format!("{sign}{:.1} min", a / 60e6)
    } else if a >= 1_000_000.0 {
        format!("{sign}{:.2} s", a / 1e6)
    } else if a >= 1_000.0 {
        format!("{sign}{:.1} ms", a / 1e3)
    } else {
        format!("{sign}{a:.0} µs")
    }
}

fn money_per_hour(nusd: i64) -> String {
    let dollars = nusd.unsigned_abs() as f64 / 1e9;
    let sign = if nusd < 0 { "-" } else { "" };
    if dollars < 0.1 && dollars > 0.0 {
        format!("{sign}${dollars:.4}/h")
    } else {
        format!("{sign}${dollars:.2}/h")
    }
}

fn percent(bp: i64) -> String {
    format!("{:.1}%", bp as f64 / 100.0)
}

/// What a figure too large to compute (2⁶⁴ or more of its unit) reads as.
pub const TOO_LARGE: &str = "too large";

/// `show(v)`, or "too large": a saturated figure is never printed as a number.
fn exact(v: Sat, show: impl Fn(u64) -> String) -> String {
    v.get().map_or_else(|| TOO_LARGE.to_string(), show)
}

/// A duration; beyond `i64` µs (292,000 years) too large.
fn time_sat(us: Sat) -> String {
    us.to_i64().map_or_else(|| TOO_LARGE.to_string(), time)
}

fn money_sat(nusd: Sat) -> String {
    nusd.to_i64()
        .map_or_else(|| TOO_LARGE.to_string(), money_per_hour)
}

fn energy(uj: Sat) -> String {
    exact(uj, energy_exact)
}

fn energy_exact(uj: u64) -> String {
    let wh = uj as f64 / 3.6e9;
    if wh >= 0.01 {
        format!("{wh:.2} Wh")
    } else {
        format!("{:.2} J", uj as f64 / 1e6)
    }
}

/// An objective's value in its unit.
fn objective_value(o: Objective, v: Sat) -> String {
    match o {
        Objective::Latency | Objective::ExecTime => time_sat(v),
        Objective::Energy => energy(v),
        Objective::Cost => money_sat(v),
        Objective::Bytes => rate(v.mul_div(1, 3_600)),
    }
}

fn rate(bytes_per_s: Sat) -> String {
    exact(bytes_per_s, rate_exact)
}

fn rate_exact(bytes_per_s: u64) -> String {
    let b = bytes_per_s as f64;
    if b >= 1e6 {
        format!("{:.2} MB/s", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB/s", b / 1e3)
    } else {
        format!("{b:.0} B/s")
    }
}

fn bytes(b: Sat) -> String {
    exact(b, bytes_exact)
}

fn bytes_exact(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// Continuous learning under plan `p`: per retrain, its training jobs and
/// their cost, and the model pushes its placement causes.
fn learning(graph: &TaskGraph, p: &Plan) -> String {
    let parts: Vec<String> = p
        .predicted
        .learning
        .iter()
        .map(|l| {
            let name = graph
                .tasks
                .get(l.task.index())
                .map_or("?", |t| t.name.as_str());
            let push = if l.model_pushes == 0 {
                "no push".to_string()
            } else {
                format!(
                    "{} pushed in {} downloads",
                    bytes(Sat::new(l.model_bytes_pushed)),
                    Sat::new(l.model_pushes)
                )
            };
            format!(
                "{name} {} job{} x {} samples ({} each, {}), {push}",
                Sat::new(l.training_jobs),
                if l.training_jobs == 1 { "" } else { "s" },
                Sat::new(l.samples_per_job),
                time_sat(l.train_us_per_job),
                money_sat(l.cost_nusd_per_hour),
            )
        })
        .collect();
    parts.join("; ")
}

/// A requirement's predicted value in its own unit.
pub fn value(kind: &RequirementKind, v: i64) -> String {
    match kind {
        RequirementKind::Latency { .. } | RequirementKind::ExecTime { .. } => time(v),
        RequirementKind::CloudCost { .. } => money_per_hour(v),
        RequirementKind::BatteryReserve { .. } => percent(v),
    }
}

fn margin(kind: &RequirementKind, m: i64) -> String {
    let v = value(kind, m);
    if m >= 0 {
        format!("+{v}")
    } else {
        v
    }
}

fn strategy(s: &Strategy) -> &'static str {
    match s {
        Strategy::Optimised { proven: true } => "optimal (proven)",
        Strategy::Optimised { proven: false } => "best found (time limit; not proven optimal)",
        Strategy::Centralized => "fully centralized",
        Strategy::Decentralized => "fully decentralized",
        Strategy::Greedy => "greedy heuristic (time limit)",
        Strategy::Manual => "manual",
    }
}

fn placement(graph: &TaskGraph, p: &Plan, t: usize) -> String {
    let tp = &p.tasks[t];
    match tp.fleet {
        Some(f) => format!("{}({})", tp.modality.name(), graph.fleets[f.index()].name),
        None => tp.modality.name().to_string(),
    }
}

/// The text report.
pub fn render(graph: &TaskGraph, s: &Synthesis) -> String {
    let mut out = String::new();
    let status = match s.status {
        Status::Optimal => "optimal (proven)",
        Status::Feasible => "feasible, not proven optimal (time limit)",
        Status::Infeasible => "INFEASIBLE",
        Status::Evaluated { met: true } => "plan evaluated: every requirement met",
        Status::Evaluated { met: false } => "plan evaluated: NOT every requirement met",
    };
    let _ = writeln!(out, "mission {}: {status}", graph.mission);
    if let Some(t) = &s.tie_break_cut {
        let _ = writeln!(
            out,
            "tie-breaking not proven: the time (or memory) limit cut the `{t}` tie-breaker short, so another run may choose another plan as good in every stated objective"
        );
    }
    if let Some(g) = &s.gap {
        let _ = writeln!(
            out,
            "gap: {} {} found; no plan meeting every requirement goes below {}, so the optimum is at most {:.1}% lower",
            format!("{:?}", g.objective).to_lowercase(),
            objective_value(g.objective, g.found),
            objective_value(g.objective, g.lower_bound),
            g.percent()
        );
    }
    match s.stopped {
        Some(crate::Stop::Memory) => {
            let _ = writeln!(
                out,
                "stopped: the memory cap cut the search at {} MiB resident; the plan is the best found before",
                s.peak_rss_mib
            );
        }
        Some(crate::Stop::Deadline) if s.gap.is_some() => {
            let _ = writeln!(
                out,
                "stopped: the deadline cut the search in the stage above; with more CPU time (another machine or load) the plan may differ"
            );
        }
        _ => {}
    }
    for r in &s.z3_runs {
        let kind = match r.kind {
            crate::Z3Kind::NeighbourhoodSearch => "neighbourhood search",
            crate::Z3Kind::Optimize => "z3 Optimize",
        };
        let what = match &r.end {
            crate::Z3End::Answered => continue,
            crate::Z3End::Cut {
                stop: crate::Stop::Deadline,
            } => format!("cut at the deadline after {} ms", r.ms),
            crate::Z3End::Cut {
                stop: crate::Stop::Memory,
            } => format!(
                "cut by the memory cap after {} ms ({} MiB resident)",
                r.ms, r.peak_rss_mib
            ),
            crate::Z3End::Crashed { reason } => format!("failed: {reason}"),
            crate::Z3End::Garbage { reason } => format!("gave no usable answer: {reason}"),
            crate::Z3End::Rejected { reason } => format!("answer refused: {reason}"),
            crate::Z3End::Skipped => "skipped: too large for the time left in this process".into(),
        };
        let place = r
            .in_process
            .as_ref()
            .map_or("in a worker process".to_string(), |why| {
                format!("in process: {why}")
            });
        let _ = writeln!(
            out,
            "z3 stage {} ({kind}, {place}): {what}; the plan is the best found without it",
            r.objective
        );
    }
    if s.status == Status::Optimal {
        let stated = graph.objectives.len();
        let _ = match s.proven_by_bound {
            0 => writeln!(out, "proof: z3 search"),
            n if n >= stated => writeln!(
                out,
                "proof: the greedy plan reaches every objective's lower bound (no search)"
            ),
            n => writeln!(
                out,
                "proof: lower bound reached for {n} of {stated} objectives, z3 search for the rest"
            ),
        };
    }
    let mut objectives: Vec<String> = graph
        .objectives
        .iter()
        .map(|o| format!("{o:?}").to_lowercase())
        .collect();
    if !graph.objectives_stated {
        if let Some(last) = objectives.last_mut() {
            last.push_str(" (default)");
        }
    }
    let _ = writeln!(out, "objectives: {}", objectives.join(", then "));
    let columns: Vec<(&str, Option<&Plan>)> = vec![
        ("chosen", s.plan.as_ref()),
        ("centralized", s.centralized.as_ref()),
        ("decentralized", s.decentralized.as_ref()),
    ];
    if let Some(p) = s
        .plan
        .as_ref()
        .filter(|p| p.strategy != Strategy::Optimised { proven: true })
    {
        let _ = writeln!(out, "plan: {}", strategy(&p.strategy));
    }
    let _ = writeln!(out);
    let name_w = graph
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, MAX_COLUMN);
    let _ = write!(out, "{:<name_w$}", "task");
    for (h, _) in &columns {
        let _ = write!(out, "  {h:<22}");
    }
    let _ = writeln!(out);
    for (i, t) in graph.tasks.iter().enumerate() {
        let _ = write!(out, "{:<name_w$}", t.name);
        for (_, p) in &columns {
            let cell = p.map_or("-".to_string(), |p| placement(graph, p, i));
            let _ = write!(out, "  {cell:<22}");
        }
        let _ = writeln!(out);
    }
    if !graph.requirements.is_empty() {
        let _ = writeln!(out);
        let req_w = graph
            .requirements
            .iter()
            .map(|r| r.text.len())
            .max()
            .unwrap_or(10)
            .clamp(11, MAX_COLUMN);
        let _ = write!(out, "{:<req_w$}", "requirement");
        for (h, _) in &columns {
            let _ = write!(out, "  {h:<24}");
        }
        let _ = writeln!(out);
        for (k, r) in graph.requirements.iter().enumerate() {
            let text = r.text.trim_start_matches("require ");
            let _ = write!(out, "{text:<req_w$}");
            for (_, p) in &columns {
                let cell = match p.and_then(|p| p.predicted.requirements.get(k)) {
                    Some(o) if o.too_large => format!("{TOO_LARGE} ✗"),
                    Some(o) => {
                        let mark = if o.met { "" } else { " ✗" };
                        format!(
                            "{} ({}){mark}",
                            value(&r.kind, o.predicted),
                            margin(&r.kind, o.margin)
                        )
                    }
                    None => "-".into(),
                };
                let _ = write!(out, "  {cell:<24}");
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(out);
    for (h, p) in &columns {
        let Some(p) = p else { continue };
        let fleets: Vec<String> = p
            .predicted
            .fleets
            .iter()
            .map(|f| {
                let left = if f.energy_per_device_uj.is_too_large() {
                    "battery exhausted".to_string()
                } else {
                    format!("{} left", percent(f.reserve_bp))
                };
                format!(
                    "{} {} per device ({left})",
                    graph.fleets[f.fleet.index()].name,
                    energy(f.energy_per_device_uj),
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{h:<13} energy: {}; uplink {}; cloud {}",
            fleets.join(", "),
            rate(p.predicted.uplink_bytes_per_s),
            money_sat(p.predicted.cloud_cost_nusd_per_hour)
        );
        let _ = writeln!(out, "{:<13} load: {}", "", utilisation(graph, p));
        if !p.predicted.learning.is_empty() {
            let _ = writeln!(out, "{:<13} learning: {}", "", learning(graph, p));
        }
    }
    if let Some(p) = &s.plan {
        if !p.prewarm.is_empty() {
            let w: Vec<String> = p
                .prewarm
                .iter()
                .map(|w| format!("{} x{}", w.function, w.workers))
                .collect();
            let _ = writeln!(out, "prewarm: {}", w.join(", "));
        }
    }
    if !s.pareto.is_empty() {
        let _ = writeln!(
            out,
            "\nPareto front ({} points; objectives in order):",
            s.pareto.len()
        );
        for p in &s.pareto {
            let cells: Vec<String> = graph
                .objectives
                .iter()
                .map(|o| match o {
                    hivemind_ir::Objective::Latency => {
                        format!(
                            "latency (sum of required paths) {}",
                            time_sat(p.predicted.latency_us)
                        )
                    }
                    hivemind_ir::Objective::Energy => {
                        format!("energy {}", energy(p.predicted.energy_uj))
                    }
                    hivemind_ir::Objective::Cost => {
                        format!("cost {}", money_sat(p.predicted.cloud_cost_nusd_per_hour))
                    }
                    hivemind_ir::Objective::Bytes => {
                        format!("uplink {}", rate(p.predicted.uplink_bytes_per_s))
                    }
                    hivemind_ir::Objective::ExecTime => "exec time".into(),
                })
                .collect();
            let placements: Vec<String> = (0..graph.tasks.len())
                .map(|i| placement(graph, p, i))
                .collect();
            let _ = writeln!(out, "  {}  |  {}", cells.join(", "), placements.join(" "));
        }
    }
    out
}

fn span(s: hivemind_ir::SrcSpan) -> Span {
    Span::new(s.start as usize, s.end as usize)
}

/// CPU (and radio) utilisation of each fleet and the cloud under plan `p`.
fn utilisation(graph: &TaskGraph, p: &Plan) -> String {
    let shown = |b: Sat| {
        let over = if b > Sat::new(1_000) {
            " ✗ overloaded"
        } else {
            ""
        };
        // ‰ × 10 = basis points; beyond i64 (or too large) is too large.
        let bp = b.to_i64().and_then(|b| b.checked_mul(10));
        format!(
            "{}{over}",
            bp.map_or_else(|| TOO_LARGE.to_string(), percent)
        )
    };
    let mut parts: Vec<String> = p
        .predicted
        .fleets
        .iter()
        .map(|f| {
            format!(
                "{} CPU {}, radio {}",
                graph.fleets[f.fleet.index()].name,
                shown(f.cpu_busy_permille),
                shown(f.radio_busy_permille)
            )
        })
        .collect();
    if graph.cloud.is_some() {
        parts.push(format!(
            "cloud CPU {}",
            shown(p.predicted.cloud_busy_permille)
        ));
    }
    parts.join(", ")
}

/// One diagnostic per conflict, labelled at the requirements and pins.
pub fn diagnostics(graph: &TaskGraph, s: &Synthesis) -> Vec<Diagnostic> {
    s.conflicts
        .iter()
        .map(|c| {
            if let Some(cov) = c.sweeps.first() {
                return coverage_diagnostic(graph, cov);
            }
            if !c.overflow.is_empty() {
                return overflow_diagnostic(graph, &c.overflow);
            }
            let reqs: Vec<_> = c.requirements.iter().filter_map(|id| graph.requirements.iter().find(|r| r.id == *id)).collect();
            let names: Vec<String> = reqs.iter().map(|r| format!("`{}`", r.text.trim_start_matches("require "))).collect();
            let mut names = names;
            let capacities: Vec<(Option<&hivemind_ir::Fleet>, bool)> = c
                .capacity
                .iter()
                .map(|&i| {
                    let (f, radio) = crate::encode::capacity_name(graph.fleets.len(), i);
                    (f.and_then(|f| graph.fleets.get(f)), radio)
                })
                .collect();
            for &(fleet, radio) in &capacities {
                names.push(match (fleet, radio) {
                    (Some(fleet), true) => format!("the radio capacity of fleet `{}` ({})", fleet.name, radio_words(fleet)),
                    (Some(fleet), false) => format!("the CPU capacity of fleet `{}`", fleet.name),
                    (None, _) => "the CPU capacity of the cloud".to_string(),
                });
            }
            let message = match (names.len(), c.pins.len(), capacities.first()) {
                (1, 0, None) => format!("{} cannot hold with any placement", names[0]),
                (1, 0, Some(_)) => format!("no placement fits {}", names[0]),
                (1, _, Some(&(fleet, radio))) => match (fleet, radio) {
                    (Some(fleet), true) => format!("with these pins, fleet `{}` must move more data than its radios carry ({})", fleet.name, radio_words(fleet)),
                    (Some(fleet), false) => format!("the tasks pinned to fleet `{}` need more CPU than it has", fleet.name),
                    (None, _) => "the tasks pinned to the cloud need more CPU than it has".to_string(),
                },
                (1, _, None) => format!("{} cannot hold with these pins", names[0]),
                _ => format!("{} cannot all hold together", names.join(" and ")),
            };
            let mut d = Diagnostic::error(Code::Infeasible, message);
            for r in &reqs {
                let best = c.best.iter().find(|(id, _)| *id == r.id).map(|(_, v)| *v);
                let label = match best {
                    Some(v) => format!("best possible alone: {}", value(&r.kind, v)),
                    None => "in conflict".to_string(),
                };
                d = d.label(span(r.span), label);
            }
            for &(fleet, radio) in &capacities {
                let (decl, label) = match (fleet, radio) {
                    (Some(fleet), true) => (Some(fleet.span), format!("not enough radio here ({}) for the data its tasks send and receive", radio_words(fleet))),
                    (Some(fleet), false) => (Some(fleet.span), format!("not enough CPU here ({} x {} cores) for the work placed on it", fleet.count, fleet.cores)),
                    (None, _) => (graph.cloud.as_ref().map(|c| c.span), "not enough CPU here (all servers) for the work placed on it".to_string()),
                };
                if let Some(decl) = decl {
                    d = d.label(span(decl), label);
                }
            }
            // Model pushes of retrained tasks that may run on a fleet short of radio.
            for r in hivemind_ir::activation::retrains(graph) {
                let pushes_here = capacities.iter().any(|&(fleet, radio)| {
                    radio
                        && fleet.is_some_and(|f| {
                            hivemind_ir::plan::edge_fleet(graph, r.task) == Some(f.id)
                                && hivemind_ir::plan::allowed(graph, r.task, hivemind_ir::plan::Modality::Edge)
                        })
                });
                if pushes_here {
                    let task = &graph.tasks[r.task.index()];
                    d = d.label(span(r.span), format!("on the edge, `{}` receives a {} model every {}", task.name, bytes_exact(r.model_bytes), time_sat(Sat::new(r.period_us))));
                }
            }
            for t in &c.pins {
                let task = &graph.tasks[t.index()];
                d = d.label(span(task.pin_span.unwrap_or(task.span)), format!("`{}` is pinned here", task.name));
            }
            let radio = capacities.iter().any(|&(_, radio)| radio);
            let pushes = d.labels.iter().any(|l| l.message.contains(" model every "));
            let help = if pushes {
                "run the retrained task in the cloud (remove its edge pin), push a smaller `model`, or retrain less often".to_string()
            } else if radio && !c.pins.is_empty() {
                "remove a pin so the synthesizer can process the data where it is produced, or send less (smaller data, a longer `every`)".to_string()
            } else if !c.capacity.is_empty() && !c.pins.is_empty() {
                "remove a pin so the synthesizer can move work elsewhere, or lower the work or its rate".to_string()
            } else if !c.capacity.is_empty() {
                "add devices, servers or radio bandwidth, or lower the work, the data sizes or their rate (`every`)".to_string()
            } else if c.pins.is_empty() {
                "relax the bound, or change the mission (devices, work, data sizes) or the cost profile".to_string()
            } else {
                "relax the bound or remove a pin so the synthesizer can move the task".to_string()
            };
            let help = if c.minimal {
                help
            } else {
                format!("{help}; not the smallest such set: the time ran out while shrinking it (a longer --timeout names fewer)")
            };
            d.help(help)
        })
        .collect()
}

/// Totals too large to compute at every placement.
fn overflow_diagnostic(graph: &TaskGraph, totals: &[hivemind_cost::Total]) -> Diagnostic {
    use hivemind_cost::Total;
    let names: Vec<String> = totals
        .iter()
        .map(|t| match t {
            Total::FleetEnergy(f) => format!(
                "the energy of fleet `{}`",
                graph.fleets.get(*f).map_or("?", |f| f.name.as_str())
            ),
            Total::Energy => "the energy of all fleets".into(),
            Total::CloudCost => "the cloud cost".into(),
            Total::UplinkBytes => "the uplink bytes".into(),
            Total::Latency => "the latency".into(),
            Total::ExecTime => "the execution time".into(),
        })
        .collect();
    let mut d = Diagnostic::error(
        Code::Infeasible,
        format!(
            "{} {} {TOO_LARGE} to predict with any placement (2^64 or more of the unit)",
            names.join(" and "),
            if names.len() == 1 { "is" } else { "are" },
        ),
    );
    for t in totals {
        if let Total::FleetEnergy(f) = t {
            if let Some(fleet) = graph.fleets.get(*f) {
                d = d.label(span(fleet.span), "this fleet's energy over the mission");
            }
        }
    }
    if d.labels.is_empty() {
        if let Some(t) = graph
            .tasks
            .iter()
            .find(|t| t.work.is_some())
            .or(graph.tasks.first())
        {
            d = d.label(span(t.span), "work, data and rates multiply up to this");
        }
    }
    d.help("lower the work, the data sizes, their rate (`every`), the fleet or the mission's `duration`")
}

/// A link rate as users write it.
fn bandwidth(bps: u64) -> String {
    if bps >= 1_000_000 {
        format!("{} Mbit/s", bps as f64 / 1e6)
    } else {
        format!("{} kbit/s", bps as f64 / 1e3)
    }
}

/// A fleet's radio as the mission states it: a link per device, or one
/// channel the fleet shares.
fn radio_words(fleet: &hivemind_ir::Fleet) -> String {
    if fleet.radio_shared {
        format!(
            "{} shared by its {} devices",
            bandwidth(fleet.radio_bps),
            fleet.count
        )
    } else {
        format!("{} per device", bandwidth(fleet.radio_bps))
    }
}

/// A fleet that cannot sweep its area or fly its route within the mission.
fn coverage_diagnostic(graph: &TaskGraph, c: &hivemind_cost::Coverage) -> Diagnostic {
    let task = &graph.tasks[c.task.index()];
    let fleet = &graph.fleets[c.fleet.index()];
    // Metres below a kilometre: "0.0 km" for a 30 m sweep says nothing.
    let km = |mm: u128| {
        if mm < 1_000_000 {
            format!("{} m", mm.div_ceil(1000))
        } else {
            format!("{:.1} km", mm as f64 / 1e6)
        }
    };
    // Beyond i64 µs (292,000 years) `time` would saturate: say the real figure.
    let need = match i64::try_from(c.time_us) {
        Ok(us) => time(us),
        Err(_) => format!("{:.3e} days", c.time_us as f64 / 86_400e6),
    };
    let lasts = time_sat(Sat::new(c.duration_us));
    let speed = span(fleet.span);
    let speed_label = format!(
        "{} devices at {} m/s",
        fleet.count,
        c.speed_mm_s as f64 / 1000.0
    );
    match &c.sweep {
        hivemind_cost::Sweep::Cover { area, lane_mm } => {
            let area = &graph.areas[area.index()];
            Diagnostic::error(
                Code::Infeasible,
                format!(
                    "fleet `{}` cannot cover `{}` within the mission: each of its {} devices needs {need} and the mission lasts {lasts}",
                    fleet.name, area.name, fleet.count,
                ),
            )
            .label(
                span(task.span),
                format!(
                    "{} of {} m lanes per device, plus {} to reach the area",
                    km(c.sweep_mm),
                    *lane_mm as f64 / 1000.0,
                    km(c.transit_mm)
                ),
            )
            .label(speed, speed_label)
            .label(span(area.span), "the area to cover")
            .help("add devices, raise their speed, widen the lanes (`lane`), cover a smaller area, or lengthen `duration`")
        }
        hivemind_cost::Sweep::Route { waypoints, looping } => Diagnostic::error(
            Code::Infeasible,
            format!(
                "fleet `{}` cannot travel task `{}`'s {} within the mission: each device needs {need} and the mission lasts {lasts}",
                fleet.name,
                task.name,
                if *looping { "patrol loop" } else { "route" },
            ),
        )
        .label(
            span(task.span),
            format!(
                "{} through {waypoints} waypoints, plus {} from home to the first",
                km(c.sweep_mm),
                km(c.transit_mm)
            ),
        )
        .label(speed, speed_label)
        .help("shorten the route, start it nearer the fleet's `home`, raise the fleet's `speed`, or lengthen `duration`"),
    }
}
