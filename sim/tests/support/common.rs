//! Shared helpers for the controller's integration tests.
#![allow(dead_code)]

use hivemind_controller::core::{DeviceStatus, State};
use hivemind_controller::geometry::{
    area_contains, check_partition, strip_contains, x_extent, Strip,
};
use hivemind_controller::rng::Rng;
use hivemind_controller::{
    Config, Controller, DeviceId, DeviceMsg, Effect, Epoch, Event, Micros, Publication,
};
use hivemind_ir::{PointMm, TaskGraph};
use hivemind_sim::{simple_plan, World, WorldConfig};
use std::collections::{BTreeMap, BTreeSet};

/// A tree-survey mission: cover, periodic capture, an edge detector, a
/// per-item cloud classifier and a gathering dedup.
pub fn survey(drones: u32) -> TaskGraph {
    let src = format!(
        "mission survey {{
  duration 10 min
  area field = rect(0 m, 0 m, 400 m, 300 m)
  fleet drones: drone x {drones} {{
    cpu 1.0 GHz x 1
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    speed 5 m/s
    sensors camera(1280x720), gps
    home (0 m, 0 m)
  }}
  cloud {{ servers 2; cores 8 each }}
  task sweep on drones {{ cover field; lane 25 m }}
  task capture on drones -> frame: jpeg 120 KB {{ every 1 s; needs camera(1280x720) }}
  task detect(frame) on drones -> crowns: list<crop 12 KB> x 60 {{ work 0.1 Gop; fn det; priority high }}
  task classify(crowns) -> trees: list<tree 64 B> x 60 {{ work 2 Gop per item; fanout per item; fn cls }}
  task dedup(trees) -> inv: list<tree 64 B> x 5000 {{ work 0.5 Mop per item; gather all; fn dd }}
  on device_failure {{ repartition field }}
  on straggler(2x median) {{ relaunch }}
  on task_error {{ retry 3 backoff 100 ms }}
}}
"
    );
    let c = hivemind_dsl::compile(&src, "survey.hm");
    let errors: Vec<String> = c.errors().map(|d| d.message.clone()).collect();
    c.graph
        .unwrap_or_else(|| panic!("test mission does not compile: {errors:?}"))
}

pub fn world(graph: TaskGraph, cfg: WorldConfig) -> World {
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph, plan, cfg.seed).expect("valid plan");
    World::new(ctl, cfg)
}

/// Every cover area is partitioned by the strips of in-service devices plus
/// the fleet's orphans: exact interval tiling, and a sample of points each
/// in exactly one strip.
pub fn assert_cover_partition(st: &State, seed: u64) {
    for c in cover_tasks(st) {
        let area = &st.graph.areas[c.1 .0 as usize];
        let mut strips: Vec<Strip> = st
            .devices
            .values()
            .filter(|d| d.fleet == c.0 && d.status == DeviceStatus::Alive)
            .flat_map(|d| d.cover.iter().copied())
            .filter(|s| s.area == area.id)
            .collect();
        strips.extend(
            st.fleets[c.0.index()]
                .orphans
                .iter()
                .filter(|s| s.area == area.id),
        );
        if let Err(e) = check_partition(area, &strips) {
            panic!(
                "seed {seed}: area {} not partitioned: {e}; strips {strips:?}",
                area.name
            );
        }
        // Repartition never adds strips: only a join may (one).
        let registered = st.devices.values().filter(|d| d.fleet == c.0).count();
        let bound = registered.max(1) as u64 + st.counters.rejoins;
        assert!(
            strips.len() as u64 <= bound,
            "seed {seed}: {} strips for {registered} devices and {} rejoins",
            strips.len(),
            st.counters.rejoins
        );
        // Non-alive devices hold nothing.
        for (id, d) in &st.devices {
            if d.status != DeviceStatus::Alive {
                assert!(
                    d.cover.is_empty(),
                    "seed {seed}: {id} out of service but holds {:?}",
                    d.cover
                );
            }
        }
        let (lo, hi) = x_extent(area);
        let mut rng = Rng::new(seed);
        for _ in 0..200 {
            let p = PointMm {
                x_mm: lo + rng.below((hi - lo + 1) as u64) as i64,
                y_mm: rng.below(300_001) as i64,
            };
            if !area_contains(area, p) {
                continue;
            }
            let n = strips.iter().filter(|s| strip_contains(s, hi, p)).count();
            assert_eq!(n, 1, "seed {seed}: point {p:?} is in {n} strips");
        }
    }
}

fn cover_tasks(st: &State) -> Vec<(hivemind_ir::FleetId, hivemind_ir::AreaId)> {
    st.graph
        .tasks
        .iter()
        .zip(&st.plan.tasks)
        .filter_map(|(t, p)| match (t.behaviour.clone(), p.fleet) {
            (Some(hivemind_ir::Behaviour::Cover { area, .. }), Some(f)) => Some((f, area)),
            _ => None,
        })
        .collect()
}

/// No instance completed twice; every created instance resolved exactly once
/// (completed, or failed with a reason) once the mission finished.
pub fn assert_exactly_once(w: &World, seed: u64) {
    // Training jobs take ids from the same counter; a trained model is their completion.
    let trained = w.publications.iter().filter_map(|(_, p)| match p {
        Publication::ModelTrained { job, task, .. } => Some((*job, *task)),
        _ => None,
    });
    let done: Vec<_> = w.completed().into_iter().chain(trained).collect();
    let mut seen = BTreeSet::new();
    for (i, _) in &done {
        assert!(seen.insert(*i), "seed {seed}: {i} completed twice");
    }
    let failed: BTreeSet<_> = w
        .publications
        .iter()
        .filter_map(|(_, p)| match p {
            Publication::Failed {
                instance, reason, ..
            } => {
                assert!(!reason.is_empty());
                Some(*instance)
            }
            _ => None,
        })
        .collect();
    assert!(
        seen.is_disjoint(&failed),
        "seed {seed}: an instance both completed and failed"
    );
    // Firings lost with their device (and not reported later after all).
    let lost: BTreeSet<_> = w
        .publications
        .iter()
        .filter_map(|(_, p)| match p {
            Publication::Lost { instance, .. } => Some(*instance),
            _ => None,
        })
        .filter(|i| !seen.contains(i))
        .collect();
    assert!(lost.is_disjoint(&failed), "seed {seed}: lost and failed");
    if matches!(w.ctl.state().phase, hivemind_controller::Phase::Finished) {
        let created = w.ctl.instances_created();
        assert_eq!(
            seen.len() as u64 + failed.len() as u64 + lost.len() as u64,
            created,
            "seed {seed}: {created} created, {} completed, {} failed, {} lost",
            seen.len(),
            failed.len(),
            lost.len()
        );
        let reported: u64 = w.ctl.report().tasks.iter().map(|t| t.lost).sum();
        assert_eq!(
            reported,
            lost.len() as u64,
            "seed {seed}: lost in the report"
        );
        assert!(w.ctl.state().instances.is_empty());
    }
}

/// The core alone, driven by hand: every effect kept, and the epoch of
/// each registration it gave.
pub struct Driven {
    pub ctl: Controller,
    pub epochs: BTreeMap<DeviceId, Epoch>,
    pub effects: Vec<Effect>,
}

impl Driven {
    pub fn new(ctl: Controller) -> Driven {
        Driven {
            ctl,
            epochs: BTreeMap::new(),
            effects: Vec::new(),
        }
    }
    pub fn drain(&mut self) {
        while let Some(e) = self.ctl.poll_effect() {
            if let Effect::Device {
                device,
                epoch,
                msg: DeviceMsg::Registered { .. },
            } = &e
            {
                self.epochs.insert(*device, *epoch);
            }
            self.effects.push(e);
        }
    }
    pub fn handle(&mut self, now: Micros, e: Event) {
        self.ctl.handle(now, e);
        self.drain();
    }
    pub fn timeout(&mut self, now: Micros) {
        self.ctl.handle_timeout(now);
        self.drain();
    }
}

/// Drones that fire their own captures on grants (`DeviceMsg::Fire`,
/// `ir::activation::fired_on_device`), with a device-local successor and
/// a cloud consumer; with `gather`, a `gather all` waits for the rounds.
pub fn fired_mission(drones: u32, duration: &str, every: &str, gather: bool) -> TaskGraph {
    let gather = if gather {
        "  task all(n) at cloud { gather all; work 1 Mop }\n"
    } else {
        ""
    };
    let src = format!(
        "mission fired {{
  duration {duration}
  fleet drones: drone x {drones} {{ cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s }}
  cloud {{ servers 1; cores 4 each }}
  task capture on drones -> frame: jpeg 10 KB {{ every {every}; work 1 Mop }}
  task thumb(frame) on drones -> small: jpeg 1 KB {{ work 1 Mop }}
  task count(small) at cloud -> n: count 8 B {{ work 1 Mop }}
  on task_error {{ retry 3 backoff 100 ms }}
{gather}}}
"
    );
    hivemind_dsl::compile(&src, "fired.hm")
        .graph
        .expect("compiles")
}
