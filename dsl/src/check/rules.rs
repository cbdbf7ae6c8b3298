//! Requirements, objectives, policies and continuous learning.

use super::devices::duplicate;
use super::graph::{unknown_task, Reach};
use super::quantities::{range, short, POSITIVE};
use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{
    self, defaults, Behaviour, FailureAction, Objective, RequirementKind, StragglerThreshold,
};
use crate::suggest;
use crate::syntax::{
    Action, Cmp, Decl, EventArg, Ident, Mission, Money, PolicyDecl, Requirement, Span,
};
use crate::units::Dim;

const HOUR_US: i128 = 3_600_000_000;

fn task_id(cx: &mut Ctx, name: &Ident) -> Option<ir::TaskId> {
    let id = cx.task_ids.get(name.name.as_str()).copied();
    if id.is_none() {
        unknown_task(cx, name);
    }
    id
}

fn direction(cx: &mut Ctx, cmp: Cmp, want_upper: bool, span: Span, what: &str) -> Option<()> {
    if cmp.is_upper_bound() == want_upper {
        return Some(());
    }
    let (bad, good) = if want_upper {
        ("a lower bound", "`<` or `<=`")
    } else {
        ("an upper bound", "`>` or `>=`")
    };
    cx.push(
        Diagnostic::error(Code::BoundDirection, format!("{what} cannot be {bad}"))
            .label(span, format!("`{}` here", cmp.as_str()))
            .help(format!("use {good}")),
    );
    None
}

/// `$2 per hour` → nano-dollars per hour.
fn cost_rate(cx: &mut Ctx, dollars: &Money, per: &Ident) -> Option<u64> {
    let per_hour: i128 = match per.name.as_str() {
        "hour" | "h" => 1,
        "min" | "minute" => 60,
        "s" | "second" => 3_600,
        "day" => {
            let n = cx.dollars(dollars, "cloud cost", 1_000_000_000_000_000)?;
            return Some((n / 24) as u64);
        }
        other => {
            cx.push(
                Diagnostic::error(
                    Code::UnknownRateUnit,
                    format!("cost rate per `{}` is not understood", short(other)),
                )
                .label(per.span, "expected hour, min, s or day")
                .maybe_help(suggest::did_you_mean(other, ["hour", "min", "s", "day"])),
            );
            return None;
        }
    };
    let n = cx.dollars(dollars, "cloud cost", 1_000_000_000_000_000)?;
    Some((n * per_hour) as u64)
}

fn requirement_kind(
    cx: &mut Ctx,
    r: &crate::syntax::RequireDecl,
    reach: &mut Reach,
) -> Option<RequirementKind> {
    Some(match &r.req {
        Requirement::Latency {
            from,
            to,
            percentile,
            cmp,
            bound,
        } => {
            let a = task_id(cx, from);
            let b = task_id(cx, to);
            let dir = direction(cx, *cmp, true, r.span, "a latency requirement");
            let p = cx.percentile(percentile.as_ref());
            let us = cx.measure(
                bound,
                Dim::Time,
                "latency bound",
                range(POSITIVE, 24 * HOUR_US),
            );
            let (a, b) = (a?, b?);
            if !cx.graph_incomplete && !reach.reaches(a, b) {
                cx.push(
                    Diagnostic::error(
                        Code::NoPath,
                        format!("no path from `{}` to `{}`", from.name, to.name),
                    )
                    .label(from.span.join(to.span), "these tasks are not connected")
                    .help(format!(
                        "`{}` must be downstream of `{}` through inputs or `flow`",
                        to.name, from.name
                    )),
                );
                return None;
            }
            dir?;
            RequirementKind::Latency {
                from: a,
                to: b,
                percentile_bp: p?,
                bound_us: us? as u64,
            }
        }
        Requirement::ExecTime {
            task,
            percentile,
            cmp,
            bound,
        } => {
            let t = task.as_ref().map(|name| task_id(cx, name));
            let dir = direction(cx, *cmp, true, r.span, "an execution-time requirement");
            let p = cx.percentile(percentile.as_ref());
            let us = cx.measure(
                bound,
                Dim::Time,
                "execution-time bound",
                range(POSITIVE, 7 * 24 * HOUR_US),
            );
            let task = match t {
                Some(Some(id)) => Some(id),
                Some(None) => return None,
                None => None,
            };
            dir?;
            RequirementKind::ExecTime {
                task,
                percentile_bp: p?,
                bound_us: us? as u64,
            }
        }
        Requirement::CloudCost { cmp, dollars, per } => {
            let dir = direction(cx, *cmp, true, r.span, "a cost limit");
            let rate = cost_rate(cx, dollars, per);
            dir?;
            RequirementKind::CloudCost {
                max_nusd_per_hour: rate?,
            }
        }
        Requirement::Battery { fleet, cmp, bound } => {
            let f = match fleet {
                Some(name) => match cx.fleet_ids.get(name.name.as_str()).copied() {
                    Some(id) => Some(id),
                    None => {
                        cx.unknown(Code::UnknownFleet, "fleet", name, None);
                        return None;
                    }
                },
                None => None,
            };
            let dir = direction(cx, *cmp, false, r.span, "a battery reserve");
            let bp = cx.measure(
                bound,
                Dim::Percent,
                "battery reserve",
                range(POSITIVE, 9_900),
            );
            dir?;
            RequirementKind::BatteryReserve {
                fleet: f,
                min_bp: bp? as u32,
            }
        }
    })
}

pub(super) fn requirements(
    cx: &mut Ctx,
    m: &Mission,
    tasks: &[ir::Task],
    edges: &[ir::Edge],
) -> Vec<ir::Requirement> {
    let mut out: Vec<ir::Requirement> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut reach = Reach::new(tasks.len(), edges);
    for d in &m.decls {
        let Decl::Require(r) = d else { continue };
        let Some(kind) = requirement_kind(cx, r, &mut reach) else {
            continue;
        };
        if let Some(k) = out.iter().position(|x| x.kind == kind) {
            cx.push(
                Diagnostic::warning(
                    Code::DuplicateRequirement,
                    "the same requirement is stated twice",
                )
                .label(r.span, "again here")
                .label(spans[k], "first here"),
            );
            continue;
        }
        let inclusive = match &r.req {
            Requirement::Latency { cmp, .. }
            | Requirement::ExecTime { cmp, .. }
            | Requirement::CloudCost { cmp, .. }
            | Requirement::Battery { cmp, .. } => {
                matches!(cmp, Cmp::Le | Cmp::Ge)
            }
        };
        let text = cx
            .src
            .get(r.span.start..r.span.end)
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let span = cx.span(r.span);
        out.push(ir::Requirement {
            id: out.len() as u32,
            kind,
            inclusive,
            text,
            span,
        });
        spans.push(r.span);
    }
    out
}

pub(super) fn objectives(cx: &mut Ctx, m: &Mission) -> Vec<Objective> {
    let mut out = Vec::new();
    let mut first: Option<Span> = None;
    for d in &m.decls {
        let Decl::Minimize(mz) = d else { continue };
        if let Some(f) = first {
            cx.push(
                Diagnostic::error(Code::DuplicateObjective, "`minimize` is given twice")
                    .label(mz.span, "again here")
                    .label(f, "first here")
                    .help("order all objectives in one line: `minimize energy then latency`"),
            );
            continue;
        }
        first = Some(mz.span);
        let mut seen: Vec<(Objective, Span)> = Vec::new();
        for o in &mz.objectives {
            let Some(&(_, obj)) = Objective::ALL.iter().find(|(n, _)| *n == o.name) else {
                let names: Vec<_> = Objective::ALL.iter().map(|(n, _)| *n).collect();
                cx.push(
                    Diagnostic::error(
                        Code::UnknownObjective,
                        format!("unknown objective `{}`", short(&o.name)),
                    )
                    .label(o.span, "cannot minimize this")
                    .help(
                        suggest::did_you_mean(&o.name, names.iter().copied())
                            .unwrap_or_else(|| format!("objectives: {}", names.join(", "))),
                    ),
                );
                continue;
            };
            if let Some(&(_, s)) = seen.iter().find(|(x, _)| *x == obj) {
                cx.push(
                    Diagnostic::error(
                        Code::DuplicateObjective,
                        format!("objective `{}` is listed twice", o.name),
                    )
                    .label(o.span, "again")
                    .label(s, "first"),
                );
                continue;
            }
            seen.push((obj, o.span));
            out.push(obj);
        }
    }
    out
}

const EVENTS: [&str; 4] = ["device_failure", "straggler", "task_error", "low_battery"];

fn invalid_action(cx: &mut Ctx, p: &PolicyDecl, a: &Action, allowed: &str) {
    cx.push(
        Diagnostic::error(
            Code::InvalidAction,
            format!(
                "`{}` is not an action for `on {}`",
                a.keyword(),
                p.event.name
            ),
        )
        .label(a.span(), "not allowed here")
        .help(format!("`on {}` takes {allowed}", p.event.name)),
    );
}

fn no_arg(cx: &mut Ctx, p: &PolicyDecl) {
    if let Some(crate::syntax::EventArgument { span, .. }) = &p.arg {
        cx.push(
            Diagnostic::error(
                Code::EventArgument,
                format!("`{}` takes no threshold", p.event.name),
            )
            .label(*span, "remove this"),
        );
    }
}

fn missing_arg(cx: &mut Ctx, p: &PolicyDecl, example: &str) {
    cx.push(
        Diagnostic::error(
            Code::EventArgument,
            format!("`{}` needs a threshold", p.event.name),
        )
        .label(p.event.span, "threshold missing")
        .help(format!("e.g. `{example}`")),
    );
}

pub(super) fn policies(cx: &mut Ctx, m: &Mission, tasks: &[ir::Task]) -> ir::Policies {
    let covered: Vec<ir::AreaId> = {
        let mut v: Vec<_> = tasks
            .iter()
            .filter_map(|t| match t.behaviour {
                Some(Behaviour::Cover { area, .. }) => Some(area),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut pol = ir::Policies {
        device_failure: ir::FailurePolicy {
            action: if covered.is_empty() {
                FailureAction::Reassign
            } else {
                FailureAction::Repartition {
                    areas: covered.clone(),
                }
            },
            span: None,
        },
        straggler: Some(ir::StragglerPolicy {
            threshold: StragglerThreshold::FactorOfMedian {
                permille: defaults::STRAGGLER_FACTOR_PERMILLE,
            },
            span: None,
        }),
        task_error: ir::RetryPolicy {
            retries: defaults::RETRIES,
            backoff_us: defaults::RETRY_BACKOFF_US,
            abort_after: false,
            span: None,
        },
        low_battery: None,
        learning: ir::Learning {
            enabled: false,
            retrain: Vec::new(),
            span: None,
        },
    };
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for d in &m.decls {
        let Decl::Policy(p) = d else { continue };
        let ev = p.event.name.as_str();
        if !EVENTS.contains(&ev) {
            cx.push(
                Diagnostic::error(Code::UnknownEvent, format!("unknown event `{}`", short(ev)))
                    .label(p.event.span, "the controller raises no such event")
                    .help(
                        suggest::did_you_mean(ev, EVENTS)
                            .unwrap_or_else(|| format!("events: {}", EVENTS.join(", "))),
                    ),
            );
            continue;
        }
        if let Some(&(_, first)) = seen.iter().find(|(e, _)| *e == ev) {
            cx.push(
                Diagnostic::error(Code::DuplicatePolicy, format!("two policies for `{ev}`"))
                    .label(p.event.span, "again here")
                    .label(first, "first here")
                    .help("merge their actions into one block"),
            );
            continue;
        }
        seen.push((ev, p.event.span));
        if p.actions.is_empty() {
            cx.push(
                Diagnostic::error(Code::InvalidAction, format!("`on {ev}` has no action"))
                    .label(p.span, "empty block"),
            );
            continue;
        }
        let span = Some(cx.span(p.span));
        match ev {
            "device_failure" => {
                no_arg(cx, p);
                let mut areas = Vec::new();
                let mut action = None;
                for a in &p.actions {
                    match a {
                        Action::Repartition { area, .. } => {
                            match area {
                                Some(name) => match cx.area_ids.get(name.name.as_str()) {
                                    Some(&id) => areas.push(id),
                                    None => cx.unknown(Code::UnknownArea, "area", name, None),
                                },
                                None => areas.extend(covered.iter().copied()),
                            }
                            action.get_or_insert(FailureAction::Repartition { areas: Vec::new() });
                        }
                        Action::Reassign { .. } => {
                            action.get_or_insert(FailureAction::Reassign);
                        }
                        Action::Abort { .. } => {
                            action.get_or_insert(FailureAction::Abort);
                        }
                        other => invalid_action(
                            cx,
                            p,
                            other,
                            "`repartition [area]`, `reassign` or `abort`",
                        ),
                    }
                }
                let kinds: std::collections::BTreeSet<_> = p
                    .actions
                    .iter()
                    .filter(|a| {
                        matches!(
                            a,
                            Action::Repartition { .. }
                                | Action::Reassign { .. }
                                | Action::Abort { .. }
                        )
                    })
                    .map(|a| a.keyword())
                    .collect();
                if kinds.len() > 1 {
                    cx.push(
                        Diagnostic::error(Code::InvalidAction, "conflicting failure actions")
                            .label(
                                p.span,
                                format!(
                                    "{} together",
                                    kinds.into_iter().collect::<Vec<_>>().join(" and ")
                                ),
                            )
                            .help("repartition already re-places queued work; choose one action"),
                    );
                }
                if let Some(mut act) = action {
                    if let FailureAction::Repartition { areas: a } = &mut act {
                        areas.sort();
                        areas.dedup();
                        if areas.is_empty()
                            && p.actions
                                .iter()
                                .any(|x| matches!(x, Action::Repartition { area: None, .. }))
                        {
                            cx.push(
                                Diagnostic::error(
                                    Code::InvalidAction,
                                    "nothing to repartition: no task covers an area",
                                )
                                .label(p.span, "here")
                                .help("name the area (`repartition field`) or use `reassign`"),
                            );
                        }
                        *a = areas;
                    }
                    pol.device_failure = ir::FailurePolicy { action: act, span };
                }
            }
            "straggler" => {
                let threshold = match p.arg.as_ref().map(|a| (&a.value, a.span)) {
                    None => {
                        missing_arg(cx, p, "on straggler(2x median) { relaunch }");
                        None
                    }
                    Some((EventArg::FactorOfMedian(n), s)) => match cx.decimal(n) {
                        None => None,
                        Some(d) if d.rounding_is_material(1000, 1) => {
                            cx.push(
                                Diagnostic::error(
                                    Code::TooPrecise,
                                    format!(
                                        "straggler factor `{}x` is too precise",
                                        short(&n.text)
                                    ),
                                )
                                .label(s, "more than three decimals")
                                .help("the factor is kept to 0.001x, e.g. `1.5x median`"),
                            );
                            None
                        }
                        Some(d) => match d.scaled(1000, 1) {
                            Some(v) if v.value > 1000 && v.value <= 100_000 => {
                                Some(StragglerThreshold::FactorOfMedian {
                                    permille: v.value as u32,
                                })
                            }
                            _ => {
                                cx.push(
                                    Diagnostic::error(
                                        Code::EventArgument,
                                        "a straggler factor must be above 1x and at most 100x",
                                    )
                                    .label(
                                        s,
                                        "every instance is slower than 1x the median half the time",
                                    )
                                    .help("HiveMind uses `2x median`"),
                                );
                                None
                            }
                        },
                    },
                    Some((EventArg::Percentile(pc), _)) => cx
                        .percentile(Some(pc))
                        .map(|bp| StragglerThreshold::Percentile { bp }),
                    Some((EventArg::Quantity(q), _)) => cx
                        .measure(
                            q,
                            Dim::Time,
                            "straggler threshold",
                            range(1_000, 24 * HOUR_US),
                        )
                        .map(|us| StragglerThreshold::Absolute { us: us as u64 }),
                };
                for a in &p.actions {
                    if !matches!(a, Action::Relaunch { .. }) {
                        invalid_action(cx, p, a, "`relaunch`");
                    }
                }
                if let Some(threshold) = threshold {
                    pol.straggler = Some(ir::StragglerPolicy { threshold, span });
                }
            }
            "task_error" => {
                no_arg(cx, p);
                let mut retry = ir::RetryPolicy {
                    retries: 0,
                    backoff_us: 0,
                    abort_after: false,
                    span,
                };
                let mut retry_span: Option<Span> = None;
                for a in &p.actions {
                    match a {
                        Action::Retry {
                            times,
                            backoff,
                            span,
                        } => {
                            if let Some(first) = retry_span {
                                cx.push(duplicate("`retry`", *span, first));
                                continue;
                            }
                            retry_span = Some(*span);
                            retry.retries =
                                cx.count(times, "retry count", 0, 100).unwrap_or(0) as u32;
                            if let Some(b) = backoff {
                                retry.backoff_us =
                                    cx.measure(b, Dim::Time, "backoff", range(0, HOUR_US))
                                        .unwrap_or(0) as u64;
                            }
                        }
                        Action::Abort { .. } => retry.abort_after = true,
                        other => invalid_action(cx, p, other, "`retry N [backoff T]` and `abort`"),
                    }
                }
                pol.task_error = retry;
            }
            _ => {
                // low_battery
                let threshold = match p.arg.as_ref().map(|a| (&a.value, a.span)) {
                    Some((EventArg::Quantity(q), _)) => {
                        cx.measure(q, Dim::Percent, "battery threshold", range(POSITIVE, 9_900))
                    }
                    Some((_, s)) => {
                        cx.push(
                            Diagnostic::error(
                                Code::EventArgument,
                                "`low_battery` takes a percentage",
                            )
                            .label(s, "expected e.g. `20 %`"),
                        );
                        None
                    }
                    None => {
                        missing_arg(cx, p, "on low_battery(20 %) { return }");
                        None
                    }
                };
                let mut action = None;
                for a in &p.actions {
                    match a {
                        Action::Return { .. } if action.is_none() => {
                            action = Some(ir::LowBatteryAction::ReturnHome)
                        }
                        Action::Land { .. } if action.is_none() => {
                            action = Some(ir::LowBatteryAction::Land)
                        }
                        other => invalid_action(cx, p, other, "one of `return` or `land`"),
                    }
                }
                if let (Some(bp), Some(action)) = (threshold, action) {
                    pol.low_battery = Some(ir::LowBatteryPolicy {
                        threshold_bp: bp as u32,
                        action,
                        span,
                    });
                }
            }
        }
    }
    learning(cx, m, tasks, &mut pol);
    pol
}

fn learning(cx: &mut Ctx, m: &Mission, tasks: &[ir::Task], pol: &mut ir::Policies) {
    let mut first: Option<Span> = None;
    for d in &m.decls {
        let Decl::Learning(l) = d else { continue };
        if let Some(f) = first {
            cx.push(
                Diagnostic::error(Code::DuplicatePolicy, "`learning` is given twice")
                    .label(l.span, "again here")
                    .label(f, "first here"),
            );
            continue;
        }
        first = Some(l.span);
        let mut retrain: Vec<ir::Retrain> = Vec::new();
        for r in l.retrain.iter().flatten() {
            if let Some(x) = retrain_of(cx, r, tasks) {
                if retrain.iter().any(|y| y.task == x.task) {
                    cx.push(duplicate(
                        &format!("`retrain {}`", r.task.name),
                        r.span,
                        l.span,
                    ));
                    continue;
                }
                retrain.push(x);
            }
        }
        pol.learning = ir::Learning {
            enabled: l.enabled,
            retrain,
            span: Some(cx.span(l.span)),
        };
    }
}

/// The full form of a retrain, for help lines.
const RETRAIN_FORM: &str =
    "retrain TASK every PERIOD from DATA_TASK model SIZE [work OPS per sample]";

/// One `retrain` line: every part checked (all errors reported), the IR
/// entry only when all of them are right.
fn retrain_of(cx: &mut Ctx, r: &crate::syntax::Retrain, tasks: &[ir::Task]) -> Option<ir::Retrain> {
    let id = task_id(cx, &r.task);
    let period = cx.measure(
        &r.every,
        Dim::Time,
        "retrain period",
        range(60_000_000, 30 * 24 * HOUR_US),
    );
    if let Some(id) = id {
        if tasks[id.index()].function.is_none() {
            cx.push(
                Diagnostic::error(Code::NotLearnable, format!("task `{}` runs no model to retrain", r.task.name))
                    .label(r.task.span, "has no `fn`")
                    .help("only tasks that call a function (`fn face_detect`) have a model to retrain and push"),
            );
        }
    }
    let data = match &r.from {
        Some(from) => {
            let data = task_id(cx, from);
            match data {
                Some(d) if tasks[d.index()].outputs.is_empty() => {
                    cx.push(
                        Diagnostic::error(
                            Code::NoTrainingData,
                            format!("task `{}` outputs nothing to train on", from.name),
                        )
                        .label(from.span, "has no output")
                        .help("name a task with an output (`-> boxes: list<box 32 B> x 10`): each value, or each item of a list, is one training sample"),
                    );
                    None
                }
                _ => data,
            }
        }
        None => None,
    };
    let model = r.model.as_ref().and_then(|m| {
        cx.measure(
            m,
            Dim::Data,
            "model size",
            range(POSITIVE, 1_000_000_000_000),
        )
    });
    let ops = match &r.work {
        Some(w) => cx.measure(
            w,
            Dim::Work,
            "training work per sample",
            range(POSITIVE, 1_000_000_000_000_000),
        ),
        None => Some(i128::from(ir::defaults::TRAIN_OPS_PER_SAMPLE)),
    };
    let missing: Vec<&str> = [
        (
            r.from.is_none(),
            "`from DATA_TASK` (whose outputs are the training samples)",
        ),
        (
            r.model.is_none(),
            "`model SIZE` (what is pushed to the devices)",
        ),
    ]
    .into_iter()
    .filter_map(|(m, what)| m.then_some(what))
    .collect();
    if !missing.is_empty() {
        // The example names the data the task reads, when it reads some.
        let from = match (&r.from, id) {
            (Some(f), _) => f.name.clone(),
            (None, Some(t)) => tasks[t.index()]
                .inputs
                .first()
                .and_then(|i| tasks.get(i.producer.index()))
                .map_or("DATA_TASK".into(), |p| p.name.clone()),
            (None, None) => "DATA_TASK".into(),
        };
        cx.push(
            Diagnostic::error(
                Code::MissingProperty,
                format!("`retrain {}` needs {}", r.task.name, missing.join(" and ")),
            )
            .label(r.span, "incomplete")
            .help(format!(
                "write `{RETRAIN_FORM}`, e.g. `retrain {} every {} from {} model {}`",
                r.task.name,
                format_quantity(&r.every),
                from,
                r.model.as_ref().map_or("40 MB".into(), format_quantity),
            )),
        );
        return None;
    }
    let (task, data) = (id?, data?);
    // A task without `fn` was reported above.
    tasks[task.index()].function.as_ref()?;
    Some(ir::Retrain {
        task,
        period_us: period? as u64,
        data,
        model_bytes: model? as u64,
        train_ops_per_sample: ops? as u64,
        span: cx.span(r.span),
    })
}

fn format_quantity(q: &crate::syntax::Quantity) -> String {
    match &q.unit {
        Some(u) => format!("{} {}", q.number.text, u.name),
        None => q.number.text.clone(),
    }
}
