//! Tasks: data types, inputs and outputs, items, pins and sensors.

use super::devices::{duplicate, sensor};
use super::quantities::{range, short, Range, POSITIVE};
use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, Behaviour, DataKind, FleetId, Placement, Priority, TaskId, Trigger};
use crate::suggest;
use crate::syntax::{
    self, DataType, FanOut, FnRef, Gather, GotoTarget, PinKind, Span, TaskDecl, TaskItem,
};
use crate::units::{self, Dim};
use std::collections::HashMap;

const MAX_BYTES: i128 = 1_000_000_000_000;
const MINUTE: i128 = 60_000_000;
/// Sweep lanes from 10 cm to 10 km.
const LANE: Range = range(100, 10_000_000);

fn data_type(cx: &mut Ctx, t: &DataType) -> Option<ir::DataType> {
    match t {
        DataType::Image {
            resolution,
            channels,
            ..
        } => {
            let w = cx.count(&resolution.width, "image width", 1, 65_536);
            let h = cx.count(&resolution.height, "image height", 1, 65_536);
            let bpp: u8 = match channels.as_ref().map(|c| c.name.as_str()) {
                Some("gray") => 1,
                Some("depth") => 2,
                Some("rgba") => 4,
                _ => 3,
            };
            let (w, h) = (w?, h?);
            Some(ir::DataType {
                kind: DataKind::Image {
                    width: w as u32,
                    height: h as u32,
                    bytes_per_pixel: bpp,
                },
                bytes: w * h * u64::from(bpp),
            })
        }
        DataType::List {
            element,
            max_items,
            span,
        } => {
            let n = cx.count(max_items, "list length", 1, 1_000_000);
            let el = data_type(cx, element)?;
            let n = n?;
            let bytes = u128::from(el.bytes) * u128::from(n);
            if bytes > MAX_BYTES as u128 {
                cx.push(
                    Diagnostic::error(Code::Absurd, "list is implausibly large")
                        .label(*span, "more than 1 TB per value"),
                );
                return None;
            }
            Some(ir::DataType {
                kind: DataKind::List {
                    element: Box::new(el),
                    max_items: n as u32,
                },
                bytes: bytes as u64,
            })
        }
        DataType::Blob { kind, size, span } => {
            let bytes = match size {
                Some(size) => {
                    cx.measure(size, Dim::Data, "data size", range(POSITIVE, MAX_BYTES))?
                }
                None => i128::from(reading_size(cx, kind, *span)?),
            };
            Some(ir::DataType {
                kind: DataKind::Blob {
                    name: kind.name.clone(),
                },
                bytes: bytes as u64,
            })
        }
    }
}

/// A type written as a bare name: a declared sensor's reading.
fn reading_size(cx: &mut Ctx, kind: &syntax::Ident, span: Span) -> Option<u64> {
    let declared = cx
        .sensor_ids
        .get(kind.name.as_str())
        .and_then(|&i| cx.sensors.get(i as usize));
    if let Some(bytes) = declared.and_then(|s| s.reading_bytes) {
        return Some(bytes);
    }
    let help = if declared.is_some() {
        format!(
            "give the sensor a reading size: `sensor {} {{ size 10 KB }}`",
            short(&kind.name)
        )
    } else {
        format!(
            "write a size (`{} 2 KB`), or declare a sensor with that name",
            short(&kind.name)
        )
    };
    cx.push(
        Diagnostic::error(
            Code::MissingType,
            format!("data type `{}` has no size", short(&kind.name)),
        )
        .label(span, "how many bytes is one value?")
        .help(help),
    );
    None
}

/// Who produces each data name: (task, output index, span of the output).
pub(super) type Producers<'a> = HashMap<&'a str, (TaskId, usize, Span)>;

/// Lower every task. Ids follow declaration order; duplicates keep their
/// slot (as placeholders) so ids stay aligned with `decls`.
pub(super) fn lower<'a>(cx: &mut Ctx<'a>, decls: &[&'a TaskDecl]) -> Vec<ir::Task> {
    let mut first_span: HashMap<&str, Span> = HashMap::new();
    for (i, t) in decls.iter().enumerate() {
        if let Some(&first) = first_span.get(t.name.name.as_str()) {
            cx.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("task `{}` is declared twice", t.name.name),
                )
                .label(t.name.span, "declared again here")
                .label(first, "first declared here")
                .help("rename one of them; task names are unique per mission"),
            );
        } else {
            first_span.insert(t.name.name.as_str(), t.name.span);
            cx.task_ids.insert(t.name.name.as_str(), TaskId(i as u32));
        }
    }
    // Outputs first: inputs refer to them by name, in any declaration order.
    let mut producers: Producers = HashMap::new();
    let mut outputs: Vec<Vec<ir::OutputData>> = Vec::with_capacity(decls.len());
    for (i, t) in decls.iter().enumerate() {
        let mut outs = Vec::new();
        for (k, o) in t.outputs.iter().enumerate() {
            if let Some(&(other, _, first)) = producers.get(o.name.name.as_str()) {
                let who = &decls[other.index()].name.name;
                // A task declared twice (reported above) produces its
                // outputs twice; that is the same mistake.
                if *who != t.name.name {
                    cx.push(
                        Diagnostic::error(
                            Code::DuplicateOutput,
                            format!("data `{}` is produced twice", o.name.name),
                        )
                        .label(o.name.span, "produced again here")
                        .label(first, format!("first produced by `{who}`"))
                        .help("give each output its own name"),
                    );
                }
            } else {
                producers.insert(o.name.name.as_str(), (TaskId(i as u32), k, o.name.span));
            }
            let ty = match &o.ty {
                Some(t) => data_type(cx, t),
                None => {
                    cx.push(
                        Diagnostic::error(Code::MissingType, format!("output `{}` has no type", o.name.name))
                            .label(o.name.span, "type needed here")
                            .help(format!("write `{}: image 640x360`, `{}: boxes 4 KB` or `{}: list<box 32 B> x 50`", o.name.name, o.name.name, o.name.name)),
                    );
                    None
                }
            };
            outs.push(ir::OutputData {
                name: o.name.name.clone(),
                ty: ty.unwrap_or_else(unknown_type),
            });
        }
        outputs.push(outs);
    }
    let mut tasks = Vec::with_capacity(decls.len());
    for (i, (t, outs)) in decls.iter().zip(outputs.iter()).enumerate() {
        let task = lower_task(
            cx,
            TaskId(i as u32),
            t,
            outs.clone(),
            &producers,
            &outputs,
            decls,
        );
        tasks.push(task);
    }
    report_gathered(cx);
    tasks
}

/// The diagnostics gathered over all tasks: one for every task pinned to
/// a missing cloud, one per fleet moved without a `speed`.
fn report_gathered(cx: &mut Ctx) {
    let pins = std::mem::take(&mut cx.cloud_pins_without_cloud);
    if let Some((first, _)) = pins.first() {
        let message = match pins.len() {
            1 => format!("task `{first}` runs in the cloud, but the mission has no cloud"),
            n => format!("{n} tasks run in the cloud, but the mission has no cloud"),
        };
        let mut d = Diagnostic::error(Code::NoCloud, message);
        for (_, span) in pins.iter().take(5) {
            d = d.label(*span, "pinned to the cloud");
        }
        cx.push(
            d.help("declare it: `cloud { servers 12; cores 40 each; price $0.0000166 per GB-s }`"),
        );
    }
    for (fid, movers) in std::mem::take(&mut cx.movers_without_speed) {
        let fleet = cx.fleets[fid.index()].name.clone();
        let names: Vec<String> = movers.iter().map(|(n, _)| format!("`{n}`")).collect();
        let (who, verb) = match names.len() {
            1 => (format!("task {}", names[0]), "moves"),
            n if n <= 3 => (format!("tasks {}", names.join(", ")), "move"),
            n => (format!("{n} tasks"), "move"),
        };
        let mut d = Diagnostic::error(
            Code::MissingProperty,
            format!("fleet `{fleet}` has no `speed`, but {who} {verb} it"),
        );
        for (_, span) in movers.iter().take(5) {
            d = d.label(*span, "pinned here");
        }
        cx.push(d.help("add e.g. `speed 5 m/s` to the fleet"));
    }
}

fn unknown_type() -> ir::DataType {
    ir::DataType {
        kind: DataKind::Blob { name: "?".into() },
        bytes: 0,
    }
}

fn lower_task(
    cx: &mut Ctx,
    id: TaskId,
    t: &TaskDecl,
    outputs: Vec<ir::OutputData>,
    producers: &Producers,
    all_outputs: &[Vec<ir::OutputData>],
    decls: &[&TaskDecl],
) -> ir::Task {
    let mut inputs: Vec<ir::Input> = Vec::new();
    let mut seen_params: HashMap<&str, Span> = HashMap::new();
    for p in t.params.iter().flatten() {
        if let Some(&first) = seen_params.get(p.name.name.as_str()) {
            cx.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("input `{}` is listed twice", p.name.name),
                )
                .label(p.name.span, "again here")
                .label(first, "first here"),
            );
            continue;
        }
        seen_params.insert(p.name.name.as_str(), p.name.span);
        let Some(&(producer, k, out_span)) = producers.get(p.name.name.as_str()) else {
            unknown_data(cx, &p.name, producers, decls);
            continue;
        };
        let produced = all_outputs[producer.index()][k].ty.clone();
        if let Some(declared) = p.ty.as_ref().and_then(|ty| data_type(cx, ty)) {
            if produced.bytes != 0 && declared != produced {
                let same_kind = std::mem::discriminant(&declared.kind)
                    == std::mem::discriminant(&produced.kind)
                    && match (&declared.kind, &produced.kind) {
                        (DataKind::Blob { name: a }, DataKind::Blob { name: b }) => a == b,
                        _ => true,
                    };
                let code = if same_kind {
                    Code::SizeMismatch
                } else {
                    Code::TypeMismatch
                };
                let what = if same_kind { "size" } else { "type" };
                cx.push(
                    Diagnostic::error(
                        code,
                        format!(
                            "input `{}` expects `{}` but receives `{}`",
                            p.name.name,
                            declared.describe(),
                            produced.describe()
                        ),
                    )
                    .label(p.span, format!("declared {what} here"))
                    .label(out_span, format!("produced as `{}`", produced.describe()))
                    .help(format!("make the two {what}s agree")),
                );
            }
        }
        inputs.push(ir::Input {
            name: p.name.name.clone(),
            producer,
            ty: produced,
        });
    }

    let mut task = ir::Task {
        id,
        name: t.name.name.clone(),
        inputs,
        outputs,
        work: None,
        function: None,
        placement: Placement::Any,
        trigger: Trigger::Never,
        behaviour: None,
        fanout: None,
        gather: None,
        priority: Priority::Normal,
        needs: Vec::new(),
        assign: None,
        span: cx.span(t.span),
        pin_span: t.pins.first().map(|p| cx.span(p.span)),
    };
    items(cx, t, &mut task);
    placement(cx, t, &mut task);
    task
}

fn unknown_data(cx: &mut Ctx, name: &syntax::Ident, producers: &Producers, decls: &[&TaskDecl]) {
    cx.graph_incomplete = true;
    // By the name map, not a scan of every task: a file of many unknown
    // inputs stays linear.
    let same_name = cx
        .task_ids
        .get(name.name.as_str())
        .and_then(|id| decls.get(id.index()))
        .filter(|t| t.name.name == name.name);
    cx.unknown_with(Code::UnknownData, name, |_| {
        let d = Diagnostic::error(
            Code::UnknownData,
            format!("no task produces `{}`", short(&name.name)),
        )
        .label(name.span, "unknown input");
        if let Some(task) = same_name {
            let outs: Vec<_> = task
                .outputs
                .iter()
                .map(|o| format!("`{}`", o.name.name))
                .collect();
            d.help(if outs.is_empty() {
                format!(
                    "`{}` is a task with no outputs; order it with `flow {} -> ...` instead",
                    name.name, name.name
                )
            } else {
                format!(
                    "`{}` is a task; inputs name its outputs: {}",
                    name.name,
                    outs.join(", ")
                )
            })
        } else if let Some(h) = suggest::did_you_mean(&name.name, producers.keys().copied()) {
            d.help(h)
        } else {
            d.help(
                "inputs name the outputs of other tasks (`task detect(frame) -> ...` reads `frame`)",
            )
        }
    });
}

fn has_list_input(task: &ir::Task) -> bool {
    task.inputs
        .iter()
        .any(|i| matches!(i.ty.kind, DataKind::List { .. }))
}

/// Whether every input the task declares resolved to a producer with a
/// known type: checks on the inputs' types would otherwise echo the error
/// that lost them (an unknown data name, an output without a type).
fn inputs_known(t: &TaskDecl, task: &ir::Task) -> bool {
    t.params.iter().flatten().count() == task.inputs.len()
        && task.inputs.iter().all(|i| i.ty != unknown_type())
}

fn per_item_error(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::PerItemWithoutList,
        format!("`{what} per item` needs a list input"),
    )
    .label(span, "no input of this task is a list")
    .help("declare the producer's output as `list<T> x N`")
}

fn items(cx: &mut Ctx, t: &TaskDecl, task: &mut ir::Task) {
    let mut first: HashMap<&'static str, Span> = HashMap::new();
    let mut behaviour_span: Option<Span> = None;
    let mut lane: Option<(&syntax::Quantity, Span)> = None;
    for item in &t.items {
        let kw = item.keyword();
        if kw != "needs" {
            if let Some(&f) = first.get(kw) {
                cx.push(duplicate(&format!("`{kw}`"), item.span(), f));
                continue;
            }
            first.insert(kw, item.span());
        }
        let mut set_behaviour =
            |cx: &mut Ctx, b: Option<Behaviour>, span: Span, task: &mut ir::Task| {
                if let Some(prev) = behaviour_span {
                    cx.push(
                        Diagnostic::error(
                            Code::BehaviourConflict,
                            "a task has at most one swarm behaviour",
                        )
                        .label(span, "second behaviour")
                        .label(prev, "first behaviour")
                        .help("split the behaviours into separate tasks ordered with `flow`"),
                    );
                } else {
                    behaviour_span = Some(span);
                    task.behaviour = b;
                }
            };
        match item {
            TaskItem::Work {
                amount,
                per_item,
                span,
            } => {
                let ops = cx.measure(
                    amount,
                    Dim::Work,
                    "work",
                    range(POSITIVE, 1_000_000_000_000_000),
                );
                if *per_item && !has_list_input(task) && inputs_known(t, task) {
                    cx.push(per_item_error(*span, "work"));
                }
                task.work = ops.map(|ops| ir::Work {
                    ops: ops as u64,
                    per_item: *per_item,
                });
            }
            TaskItem::Fn { target, .. } => {
                task.function = Some(match target {
                    FnRef::Name(i) => i.name.clone(),
                    FnRef::Quoted { text, .. } => text.clone(),
                })
            }
            TaskItem::Every { period, .. } => {
                if let Some(p) =
                    cx.measure(period, Dim::Time, "period", range(1_000, 24 * 60 * MINUTE))
                {
                    task.trigger = Trigger::Periodic {
                        period_us: p as u64,
                    };
                }
            }
            TaskItem::Once { span } => {
                if let Some(&every) = first.get("every") {
                    cx.push(
                        Diagnostic::error(
                            Code::TriggerConflict,
                            "a task cannot be both `once` and `every`",
                        )
                        .label(*span, "once")
                        .label(every, "periodic"),
                    );
                } else {
                    task.trigger = Trigger::Once;
                }
            }
            TaskItem::Cover { area, span } => {
                let b = cx
                    .area_ids
                    .get(area.name.as_str())
                    .map(|&a| Behaviour::Cover {
                        area: a,
                        lane_mm: ir::defaults::LANE_MM,
                    });
                if b.is_none() {
                    unknown_area(cx, area);
                }
                set_behaviour(cx, b, *span, task);
            }
            TaskItem::Lane { width, span } => lane = Some((width, *span)),
            TaskItem::Goto { target, span } => {
                let b = match target {
                    GotoTarget::Point(p) => {
                        coordinate(cx, p).map(|point| Behaviour::GotoPoint { point })
                    }
                    GotoTarget::Area(a) => {
                        let input = t
                            .params
                            .iter()
                            .flatten()
                            .position(|p| p.name.name == a.name);
                        match (input, cx.area_ids.get(a.name.as_str())) {
                            (Some(_), Some(_)) => {
                                cx.push(
                                    Diagnostic::error(
                                        Code::DuplicateName,
                                        format!("`goto {}`: `{}` is both an input of the task and an area", a.name, a.name),
                                    )
                                    .label(a.span, "which one?")
                                    .help("rename the input or the area"),
                                );
                                None
                            }
                            (Some(i), None) => Some(Behaviour::GotoInput { input: i as u32 }),
                            (None, Some(&id)) => Some(Behaviour::GotoArea { area: id }),
                            (None, None) => {
                                unknown_area(cx, a);
                                None
                            }
                        }
                    }
                };
                set_behaviour(cx, b, *span, task);
            }
            TaskItem::Return { span } => {
                set_behaviour(cx, Some(Behaviour::ReturnHome), *span, task)
            }
            TaskItem::Land { span } => set_behaviour(cx, Some(Behaviour::Land), *span, task),
            TaskItem::FanOut { how, span } => match how {
                FanOut::Count(n) => {
                    task.fanout = cx
                        .count(n, "fan-out width", 2, 10_000)
                        .map(|w| ir::FanOut::Fixed { width: w as u32 })
                }
                FanOut::PerItem => {
                    if has_list_input(task) {
                        task.fanout = Some(ir::FanOut::PerItem);
                    } else if inputs_known(t, task) {
                        cx.push(per_item_error(*span, "fanout"));
                    }
                }
            },
            TaskItem::Gather { how, span } => {
                // Inputs that failed to resolve have their own error.
                if t.params.iter().flatten().next().is_none() {
                    cx.push(
                        Diagnostic::error(Code::GatherWithoutInput, "`gather` needs an input to gather")
                            .label(*span, "this task has no inputs")
                            .help("gather collects the results of an upstream task's instances: `task dedup(faces) { gather all }`"),
                    );
                }
                task.gather = match how {
                    Gather::All => Some(ir::Gather::All),
                    Gather::Count(n) => cx
                        .count(n, "gather count", 1, 1_000_000)
                        .map(|n| ir::Gather::Count { n: n as u32 }),
                };
            }
            TaskItem::Priority { level, .. } => {
                const LEVELS: [(&str, Priority); 4] = [
                    ("critical", Priority::Critical),
                    ("high", Priority::High),
                    ("normal", Priority::Normal),
                    ("low", Priority::Low),
                ];
                match LEVELS.iter().find(|(n, _)| *n == level.name) {
                    Some(&(_, p)) => task.priority = p,
                    None => cx.unknown_with(Code::UnknownPriority, level, |_| {
                        Diagnostic::error(
                            Code::UnknownPriority,
                            format!("unknown priority `{}`", short(&level.name)),
                        )
                        .label(level.span, "expected critical, high, normal or low")
                        .maybe_help(suggest::did_you_mean(
                            &level.name,
                            LEVELS.iter().map(|(n, _)| *n),
                        ))
                    }),
                }
            }
            TaskItem::Needs { sensors, .. } => {
                for s in sensors {
                    if let Some(sn) = sensor(cx, s) {
                        if !task.needs.iter().any(|x| x.kind == sn.kind) {
                            task.needs.push(sn);
                        }
                    }
                }
            }
            TaskItem::Route {
                waypoints,
                looping,
                span,
            } => {
                let points: Option<Vec<ir::PointMm>> =
                    waypoints.iter().map(|p| coordinate(cx, p)).collect();
                let b = points.map(|waypoints| Behaviour::Route {
                    waypoints,
                    looping: *looping,
                });
                set_behaviour(cx, b, *span, task);
            }
            TaskItem::Assign { count, rule, .. } => {
                let by = match rule.name.as_str() {
                    "nearest" => Some(ir::AssignBy::Nearest),
                    "battery" => Some(ir::AssignBy::Battery),
                    other => {
                        cx.push(
                            Diagnostic::error(
                                Code::UnknownAssignRule,
                                format!("`assign` cannot choose devices by `{}`", short(other)),
                            )
                            .label(rule.span, "expected `nearest` or `by battery`")
                            .help(match suggest::closest(other, ["nearest", "battery"]) {
                                Some("battery") => "did you mean `by battery`?".to_string(),
                                Some(c) => format!("did you mean `{c}`?"),
                                None => "write `assign 2 nearest` (closest to where the value was sensed) or `assign 2 by battery` (most charge left)".into(),
                            }),
                        );
                        None
                    }
                };
                let n = cx.count(count, "devices per value", 1, 10_000);
                if let (Some(by), Some(n)) = (by, n) {
                    task.assign = Some(ir::Assign {
                        count: n as u32,
                        by,
                    });
                }
            }
        }
    }
    if let Some(Behaviour::GotoInput { .. }) = task.behaviour {
        // Going where a value was sensed picks the nearest device unless
        // the task says otherwise.
        task.assign.get_or_insert(ir::Assign {
            count: 1,
            by: ir::AssignBy::Nearest,
        });
    }
    if let Some((width, span)) = lane {
        match task.behaviour {
            Some(Behaviour::Cover { area, .. }) => {
                if let Some(w) = cx.measure(width, Dim::Length, "lane width", LANE) {
                    let limit = narrowest_side(&cx.areas[area.index()].shape);
                    if limit > 0 && w > limit {
                        cx.push(
                            Diagnostic::error(
                                Code::LaneTooWide,
                                format!(
                                    "lane of {} is wider than area `{}`",
                                    units::display(w, Dim::Length),
                                    cx.areas[area.index()].name
                                ),
                            )
                            .label(span, "too wide")
                            .help(format!(
                                "the area is {} across at its narrowest",
                                units::display(limit, Dim::Length)
                            )),
                        );
                    }
                    task.behaviour = Some(Behaviour::Cover {
                        area,
                        lane_mm: w as u64,
                    });
                }
            }
            _ if first.contains_key("cover") => {
                // The cover failed (unknown area, second behaviour) and
                // says so; the lane is still checked for its own errors.
                let _ = cx.measure(width, Dim::Length, "lane width", LANE);
            }
            _ if behaviour_span.is_none() => cx.push(
                Diagnostic::error(Code::LaneWithoutCover, "`lane` without `cover`")
                    .label(span, "lane of what?")
                    .help("`lane` sets the sweep width of `cover <area>`"),
            ),
            _ => cx.push(
                Diagnostic::error(Code::LaneWithoutCover, "`lane` only applies to `cover`")
                    .label(span, "this task does not cover an area"),
            ),
        }
    }
    // Without inputs the gather is the error (`gather-without-input`).
    if let (Some(&gather), Some(&every), false) = (
        first.get("gather"),
        first.get("every"),
        task.inputs.is_empty(),
    ) {
        cx.push(
            Diagnostic::error(
                Code::TriggerConflict,
                "a task cannot both `gather` and fire `every` period",
            )
            .label(gather, "gathers a round or a count of values")
            .label(every, "a window: gathers what arrives each period")
            .help("both batch the task's inputs: keep `every` for a time window, or `gather` for a round or a count"),
        );
    }
    let goes_to_input = matches!(task.behaviour, Some(Behaviour::GotoInput { .. }));
    if task.behaviour.is_some() && !goes_to_input && task.trigger == Trigger::Never {
        task.trigger = Trigger::Behaviour;
    }
    if task.trigger == Trigger::Never && task.inputs.is_empty() {
        sensor_paced(cx, t, task);
    }
    if task.trigger == Trigger::Never && !task.inputs.is_empty() {
        task.trigger = Trigger::Upstream;
    }
}

/// A source that reads declared sensors with a rate and states no `every`
/// fires once per reading.
fn sensor_paced(cx: &mut Ctx, t: &TaskDecl, task: &mut ir::Task) {
    let mut rated: Vec<(&str, u64)> = Vec::new();
    for n in &task.needs {
        if let ir::SensorKind::Declared(i) = n.kind {
            if let Some(s) = cx.sensors.get(i as usize) {
                if let Some(p) = s.period_us {
                    rated.push((s.name.as_str(), p));
                }
            }
        }
    }
    match rated.as_slice() {
        [] => {}
        [(_, p), rest @ ..] if rest.iter().all(|(_, q)| q == p) => {
            task.trigger = Trigger::Periodic { period_us: *p };
        }
        _ => {
            let list: Vec<String> = rated
                .iter()
                .map(|(n, p)| format!("`{n}` every {}", units::display(i128::from(*p), Dim::Time)))
                .collect();
            cx.push(
                Diagnostic::error(
                    Code::SensorRate,
                    format!(
                        "task `{}` reads sensors at different rates ({})",
                        t.name.name,
                        list.join(", ")
                    ),
                )
                .label(t.name.span, "fires on which sensor's readings?")
                .help("say how often it runs with `every`"),
            );
        }
    }
}

/// Smallest extent of the area's bounding box, in mm (0 if unknown).
fn narrowest_side(shape: &ir::AreaShape) -> i128 {
    let (lo, hi) = shape.bounding_box();
    let extent = |a: i64, b: i64| i128::from(b) - i128::from(a);
    extent(lo.x_mm, hi.x_mm).min(extent(lo.y_mm, hi.y_mm))
}

fn coordinate(cx: &mut Ctx, p: &syntax::Point) -> Option<ir::PointMm> {
    let coord = range(-1_000_000_000, 1_000_000_000);
    let x = cx.measure(&p.x, Dim::Length, "a coordinate", coord);
    let y = cx.measure(&p.y, Dim::Length, "a coordinate", coord);
    Some(ir::PointMm {
        x_mm: x? as i64,
        y_mm: y? as i64,
    })
}

fn unknown_area(cx: &mut Ctx, a: &syntax::Ident) {
    cx.unknown(
        Code::UnknownArea,
        "area",
        a,
        Some("declare it: `area field = rect(0 m, 0 m, 400 m, 300 m)`"),
    );
}

fn placement(cx: &mut Ctx, t: &TaskDecl, task: &mut ir::Task) {
    if t.pins.len() > 1 {
        let mut d = Diagnostic::error(
            Code::MultiplePins,
            format!("task `{}` is pinned {} times", t.name.name, t.pins.len()),
        );
        for p in &t.pins {
            d = d.label(p.span, "pin");
        }
        cx.push(d.help("keep one pin: `on <fleet>`, `at edge` or `at cloud`"));
    }
    let Some(pin) = t.pins.first() else {
        if task.behaviour.is_some() || !task.needs.is_empty() || task.assign.is_some() {
            task.placement = Placement::Edge;
            if !task.needs.is_empty()
                && !cx.fleets.is_empty()
                && !cx.broken_fleets.iter().any(|&(_, kw)| kw == "sensors")
                && !cx.fleets.iter().any(|f| has_sensors(f, &task.needs))
            {
                let names: Vec<_> = task.needs.iter().map(|s| cx.sensor_name(s.kind)).collect();
                cx.push(
                    Diagnostic::error(
                        Code::SensorMissing,
                        format!("no fleet has {}", names.join(" and ")),
                    )
                    .label(t.name.span, format!("task `{}` needs it", t.name.name))
                    .help("add the sensor to a fleet's `sensors` line"),
                );
            }
        }
        return;
    };
    let target = pin.target.name.as_str();
    match pin.kind {
        PinKind::At => match target {
            "cloud" => {
                task.placement = Placement::Cloud;
                if cx.cloud.is_none() {
                    cx.cloud_pins_without_cloud
                        .push((t.name.name.clone(), pin.span));
                }
                let edge_only =
                    task.behaviour.is_some() || !task.needs.is_empty() || task.assign.is_some();
                if edge_only {
                    let why = if task.behaviour.is_some() {
                        "moves a vehicle"
                    } else if task.assign.is_some() {
                        "is assigned to devices"
                    } else {
                        "reads a sensor"
                    };
                    cx.push(
                        Diagnostic::error(Code::PinConflict, format!("task `{}` {why}, so it cannot run in the cloud", t.name.name))
                            .label(pin.span, "`at cloud` cannot hold")
                            .help("pin it with `on <fleet>` or `at edge`, or move the cloud work into its own task"),
                    );
                }
            }
            "edge" => task.placement = Placement::Edge,
            other => cx.unknown_with(Code::UnknownPinTarget, &pin.target, |cx| {
                Diagnostic::error(
                    Code::UnknownPinTarget,
                    format!("`at {}` is not a placement", short(other)),
                )
                .label(pin.target.span, "expected `cloud` or `edge`")
                .help(match suggest::closest(other, ["cloud", "edge"]) {
                    Some(c) => format!("did you mean `at {c}`?"),
                    None if cx.fleet_ids.contains_key(other) => {
                        format!("to pin on a fleet write `on {other}`")
                    }
                    None => "write `at cloud`, `at edge` or `on <fleet>`".into(),
                })
            }),
        },
        PinKind::On => match cx.fleet_ids.get(target).copied() {
            Some(fid) => {
                task.placement = Placement::Fleet { fleet: fid };
                fleet_can_host(cx, t, task, fid, pin.span);
            }
            None => cx.unknown_with(Code::UnknownFleet, &pin.target, |cx| {
                let hint = if target == "cloud" || target == "edge" {
                    Some(format!("write `at {target}`"))
                } else {
                    suggest::did_you_mean(target, cx.fleet_ids.keys().copied())
                };
                Diagnostic::error(
                    Code::UnknownFleet,
                    format!("unknown fleet `{}`", short(target)),
                )
                .label(pin.target.span, "not declared")
                .help(
                    hint.unwrap_or_else(|| "declare it: `fleet drones: drone x 16 { ... }`".into()),
                )
            }),
        },
    }
}

fn has_sensors(f: &ir::Fleet, needs: &[ir::Sensor]) -> bool {
    needs
        .iter()
        .all(|n| f.sensors.iter().any(|s| s.kind == n.kind))
}

/// The pinned fleet has the sensors, resolution and mobility the task needs.
fn fleet_can_host(cx: &mut Ctx, t: &TaskDecl, task: &ir::Task, fid: FleetId, pin_span: Span) {
    let fleet = &cx.fleets[fid.index()];
    let mut diags = Vec::new();
    for need in &task.needs {
        match fleet.sensors.iter().find(|s| s.kind == need.kind) {
            None => diags.push(
                Diagnostic::error(
                    Code::SensorMissing,
                    format!(
                        "task `{}` needs a {}, but fleet `{}` has none",
                        t.name.name,
                        cx.sensor_name(need.kind),
                        fleet.name
                    ),
                )
                .label(pin_span, "pinned here")
                .label(needs_span(t, &cx.sensor_name(need.kind)), "needed here")
                .help(format!(
                    "add `{}` to the `sensors` of fleet `{}` or pin the task elsewhere",
                    cx.sensor_name(need.kind),
                    fleet.name
                )),
            ),
            Some(have) => {
                if let (Some([nw, nh]), Some([hw, hh])) = (need.resolution, have.resolution) {
                    if nw > hw || nh > hh {
                        diags.push(
                            Diagnostic::error(
                                Code::ResolutionTooLow,
                                format!(
                                    "task `{}` needs a {nw}x{nh} {}, fleet `{}` has {hw}x{hh}",
                                    t.name.name,
                                    cx.sensor_name(need.kind),
                                    fleet.name
                                ),
                            )
                            .label(needs_span(t, &cx.sensor_name(need.kind)), "needed here")
                            .label(pin_span, "pinned here"),
                        );
                    }
                }
            }
        }
    }
    // The fleet's own error (an unknown sensor, a bad `speed`) comes first;
    // what the task lacks from that line would repeat it.
    if cx.broken_fleets.contains(&(fid, "sensors")) {
        diags.clear();
    }
    if task.behaviour.is_some()
        && fleet.speed_mm_s.is_none()
        && !cx.broken_fleets.contains(&(fid, "speed"))
    {
        cx.movers_without_speed
            .entry(fid)
            .or_default()
            .push((t.name.name.clone(), pin_span));
    }
    for d in diags {
        cx.push(d);
    }
}

fn needs_span(t: &TaskDecl, sensor: &str) -> Span {
    t.items
        .iter()
        .find_map(|i| match i {
            TaskItem::Needs { sensors, .. } => sensors
                .iter()
                .find(|s| s.name.name == sensor)
                .map(|s| s.span),
            _ => None,
        })
        .unwrap_or(t.name.span)
}
