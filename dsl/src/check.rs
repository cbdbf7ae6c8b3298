//! The checker: AST → [`TaskGraph`], collecting every diagnostic in one pass.
//!
//! Phases (each a submodule): `devices` (areas, fleets, cloud), `tasks`
//! (types, items, pins), `graph` (edges, cycles, reachability warnings),
//! `rules` (requirements, objectives, policies). A phase that finds an error
//! records it and carries on with a placeholder so later phases still report
//! theirs; the graph is returned only when there is no error.

mod devices;
mod graph;
mod quantities;
mod rules;
mod tasks;

use crate::diagnostic::{Code, Diagnostic, LineIndex};
use crate::ir::{self, SrcSpan, TaskGraph};
use crate::suggest;
use crate::syntax::{Decl, Ident, Mission, Span};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What the checker found: the graph when there were no errors, and every
/// diagnostic (errors and warnings), ordered by source position.
#[derive(Debug)]
pub struct Checked {
    pub graph: Option<TaskGraph>,
    pub diagnostics: Vec<Diagnostic>,
}

pub(crate) struct Ctx<'a> {
    src: &'a str,
    index: LineIndex,
    diags: Vec<Diagnostic>,
    areas: Vec<ir::Area>,
    area_ids: HashMap<&'a str, ir::AreaId>,
    sensors: Vec<ir::DeclaredSensor>,
    sensor_ids: HashMap<&'a str, u32>,
    fleets: Vec<ir::Fleet>,
    fleet_ids: HashMap<&'a str, ir::FleetId>,
    cloud: Option<ir::Cloud>,
    task_ids: HashMap<&'a str, ir::TaskId>,
    /// An input or `flow` name did not resolve, so paths may be missing:
    /// path checks would only repeat that error.
    graph_incomplete: bool,
    /// Each unknown name reported so far (by kind): its diagnostic's index
    /// and how many times it is used. Later uses become labels of that one
    /// diagnostic instead of errors of their own.
    unknown_uses: HashMap<(Code, String), (usize, usize)>,
    /// Fleet properties (by keyword) whose line had an error: what tasks
    /// lack from them (a sensor, the speed) would only echo it.
    broken_fleets: std::collections::HashSet<(ir::FleetId, &'static str)>,
    /// Tasks pinned to the cloud of a mission without one, and tasks that
    /// move a fleet without a `speed`: one diagnostic each, listing them.
    cloud_pins_without_cloud: Vec<(String, Span)>,
    movers_without_speed: std::collections::BTreeMap<ir::FleetId, Vec<(String, Span)>>,
    /// Problems reported so far, counting uses folded into an earlier
    /// diagnostic: a phase compares it to know whether it found any.
    reports: usize,
}

/// Uses of one unknown name shown as labels; the rest are counted.
const UNKNOWN_LABELS: usize = 5;

impl<'a> Ctx<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.reports += 1;
        self.diags.push(d);
    }

    /// "unknown area `feild`" with a suggestion among the declared names of
    /// that kind, or `fallback` help when nothing is close.
    fn unknown(&mut self, code: Code, kind: &str, name: &Ident, fallback: Option<&str>) {
        self.unknown_with(code, name, |cx| {
            // Straight from the maps: the search looks at a bounded number
            // of names, so an unknown name costs O(1), not O(declared).
            let word = &name.name;
            let help = match code {
                Code::UnknownArea => suggest::did_you_mean(word, cx.area_ids.keys().copied()),
                Code::UnknownFleet => suggest::did_you_mean(word, cx.fleet_ids.keys().copied()),
                _ => suggest::did_you_mean(word, cx.task_ids.keys().copied()),
            }
            .or_else(|| fallback.map(str::to_string));
            Diagnostic::error(
                code,
                format!("unknown {kind} `{}`", quantities::short(&name.name)),
            )
            .label(name.span, "not declared")
            .maybe_help(help)
        });
    }

    /// Report an unknown name (task, fleet, area, data, sensor, priority,
    /// pin target) once: the first use gets `make`'s diagnostic, later uses
    /// of the same name a label on it ("also used here"), so one typo in a
    /// fleet name is one error, not one per task. Without any fleet,
    /// unknown fleets are not reported: `hm::no-fleet` says it.
    fn unknown_with(&mut self, code: Code, name: &Ident, make: impl FnOnce(&Self) -> Diagnostic) {
        if code == Code::UnknownFleet && self.fleets.is_empty() {
            return;
        }
        let key = (code, name.name.clone());
        if let Some(&(index, uses)) = self.unknown_uses.get(&key) {
            if uses < UNKNOWN_LABELS {
                if let Some(d) = self.diags.get_mut(index) {
                    d.labels.push(crate::diagnostic::Label {
                        span: name.span,
                        message: "also used here".into(),
                    });
                }
            }
            self.unknown_uses.insert(key, (index, uses + 1));
            self.reports += 1;
            return;
        }
        let d = make(self);
        self.unknown_uses.insert(key, (self.diags.len(), 1));
        self.push(d);
    }

    /// "(used 12 times)" on unknown names used more often than labelled.
    fn finish_unknown_uses(&mut self) {
        for &(index, uses) in self.unknown_uses.values() {
            if uses > UNKNOWN_LABELS {
                if let Some(d) = self.diags.get_mut(index) {
                    d.message.push_str(&format!(" (used {uses} times)"));
                }
            }
        }
    }
    /// A sensor's name as written (built-in or declared).
    fn sensor_name(&self, kind: ir::SensorKind) -> String {
        match kind {
            ir::SensorKind::Declared(i) => self
                .sensors
                .get(i as usize)
                .map_or_else(|| "?".into(), |s| s.name.clone()),
            builtin => builtin.name().to_string(),
        }
    }
    fn span(&self, s: Span) -> SrcSpan {
        let (line, col) = self.index.line_col(self.src, s.start);
        SrcSpan {
            start: s.start as u32,
            end: s.end as u32,
            line,
            col,
        }
    }
}

pub fn check(mission: &Mission, src: &str, file: &str) -> Checked {
    let mut cx = Ctx {
        src,
        index: LineIndex::new(src),
        diags: Vec::new(),
        areas: Vec::new(),
        area_ids: HashMap::new(),
        sensors: Vec::new(),
        sensor_ids: HashMap::new(),
        fleets: Vec::new(),
        fleet_ids: HashMap::new(),
        cloud: None,
        task_ids: HashMap::new(),
        graph_incomplete: false,
        unknown_uses: HashMap::new(),
        broken_fleets: std::collections::HashSet::new(),
        cloud_pins_without_cloud: Vec::new(),
        movers_without_speed: std::collections::BTreeMap::new(),
        reports: 0,
    };
    let duration_us = devices::duration(&mut cx, mission);
    devices::areas(&mut cx, mission);
    devices::sensors(&mut cx, mission);
    devices::fleets(&mut cx, mission);
    devices::cloud(&mut cx, mission);
    let task_decls: Vec<_> = mission
        .decls
        .iter()
        .filter_map(|d| match d {
            Decl::Task(t) => Some(t),
            _ => None,
        })
        .collect();
    let mut tasks = tasks::lower(&mut cx, &task_decls);
    let edges = graph::edges(&mut cx, mission, &task_decls, &mut tasks);
    let requirements = rules::requirements(&mut cx, mission, &tasks, &edges);
    let objectives = rules::objectives(&mut cx, mission);
    let policies = rules::policies(&mut cx, mission, &tasks);
    graph::warnings(&mut cx, mission, &task_decls, &tasks, &edges, &policies);
    cx.finish_unknown_uses();

    let mut diagnostics = std::mem::take(&mut cx.diags);
    diagnostics.sort_by_key(|d| (d.primary_span().map_or(0, |s| s.start), d.severity));
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    if failed {
        // Warnings after errors are mostly echoes of them (a task whose
        // period failed to parse "never runs"); show them once it is clean.
        diagnostics.retain(Diagnostic::is_error);
    }
    let graph = (!failed).then(|| TaskGraph {
        schema_version: ir::SCHEMA_VERSION,
        mission: mission.name.name.clone(),
        source: ir::SourceInfo {
            file: file.to_string(),
            sha256: format!("{:x}", Sha256::digest(src.as_bytes())),
            bytes: src.len() as u64,
        },
        duration_us: duration_us.unwrap_or(ir::defaults::MISSION_DURATION_US),
        duration_stated: duration_us.is_some(),
        areas: cx.areas,
        sensors: cx.sensors,
        fleets: cx.fleets,
        cloud: cx.cloud,
        tasks,
        edges,
        requirements,
        objectives_stated: !objectives.is_empty(),
        objectives: if objectives.is_empty() {
            ir::defaults::OBJECTIVES.to_vec()
        } else {
            objectives
        },
        policies,
    });
    Checked { graph, diagnostics }
}
