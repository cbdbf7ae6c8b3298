//! Behaviours driven by the mission and by data, through the core's seam:
//! `assign` picks the nearest devices (or those with the most battery) for
//! each value and `goto` an input sends them where the value was sensed; a
//! patrol spaces its fleet evenly along the loop; a declared sensor paces
//! the task that reads it. The test world then moves the vehicles.

use hivemind_controller::{
    BehaviourCommand, Command, Config, Controller, DeviceId, DeviceMsg, Effect, Event, Executor,
    Micros,
};
use hivemind_ir::{FleetId, PointMm, TaskGraph};
use hivemind_sim::{simple_plan, World, WorldConfig};

#[path = "support/common.rs"]
mod common;
use common::Driven;

fn compile(src: &str) -> TaskGraph {
    let c = hivemind_dsl::compile(src, "m.hm");
    let errors: Vec<String> = c.errors().map(|d| d.message.clone()).collect();
    c.graph
        .unwrap_or_else(|| panic!("does not compile: {errors:?}"))
}

const RESCUE: &str = "mission rescue {
  duration 60 s
  sensor beacon { rate 1 Hz, size 2 KB }
  fleet scouts: drone x 2 { cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; speed 8 m/s; sensors beacon }
  fleet cars: car x 5 { cpu 1 GHz x 2; battery 100 Wh; radio 10 Mbit/s; speed 4 m/s }
  task listen on scouts -> ping: beacon { needs beacon }
  task go(ping) on cars { goto ping; assign 2 nearest; work 1 Mop }
  task charge(ping) on cars -> r: note 8 B { assign 1 by battery; work 1 Mop }
}";

fn p(x_m: i64, y_m: i64) -> PointMm {
    PointMm {
        x_mm: x_m * 1000,
        y_mm: y_m * 1000,
    }
}

/// The core with scouts 0–1 and cars 2–6 registered at the given spots and
/// the mission started.
fn driven(graph: TaskGraph, spots: &[(u32, u32, PointMm, u64)]) -> Driven {
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph, plan, 3).expect("plan");
    let mut d = Driven::new(ctl);
    for &(device, fleet, position, battery_uj) in spots {
        d.handle(
            Micros::ZERO,
            Event::DeviceJoined {
                device: DeviceId(device),
                fleet: FleetId(fleet),
                battery_uj,
                position,
            },
        );
    }
    d.handle(
        Micros::from_millis(1),
        Event::Operator {
            command: Command::Start,
        },
    );
    d
}

/// Devices sent an attempt of `task` (or granted a firing of it, the
/// first time), and the goto points sent, in order.
fn sent(effects: &[Effect], task: u32) -> (Vec<DeviceId>, Vec<(DeviceId, PointMm)>) {
    let mut runs = Vec::new();
    let mut gotos = Vec::new();
    for e in effects {
        if let Effect::Device { device, msg, .. } = e {
            match msg {
                DeviceMsg::RunTask { task: t, .. } if t.0 == task => runs.push(*device),
                DeviceMsg::Fire { task: t, .. } if t.0 == task && !runs.contains(device) => {
                    runs.push(*device)
                }
                DeviceMsg::Behave(BehaviourCommand::GotoPoint { point }) => {
                    gotos.push((*device, *point))
                }
                _ => {}
            }
        }
    }
    (runs, gotos)
}

#[test]
fn assign_sends_the_nearest_cars_where_the_value_was_sensed_and_ranks_by_battery() {
    let graph = compile(RESCUE);
    let full = 360_000_000_000; // 100 Wh
    let spots = [
        (0, 0, p(0, 0), full),
        (1, 0, p(500, 500), full),
        // Cars: 3 and 5 are nearest to scout 1; 6 has the most battery.
        (2, 1, p(-100, 0), full / 2),
        (3, 1, p(480, 490), full / 3),
        (4, 1, p(0, 300), full / 4),
        (5, 1, p(520, 530), full / 5),
        (6, 1, p(900, 900), full),
    ];
    let mut d = driven(graph, &spots);
    // The per-reading source runs on both scouts, each at its phase
    // (`ir::activation::Phasing`): scout 0 at the start (1 ms), scout 1
    // half its 1 s period later, each firing by itself on the grants it
    // holds (`DeviceMsg::Fire`). Complete scout 1's first.
    d.timeout(Micros::from_millis(501));
    let (listen, _) = sent(&d.effects, 0);
    assert_eq!(listen, [DeviceId(0), DeviceId(1)]);
    let instance = d
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Device {
                device: DeviceId(1),
                msg: DeviceMsg::Fire {
                    instance, at_us, ..
                },
                ..
            } => {
                assert_eq!(*at_us, 501_000, "scout 1's first firing, at its phase");
                Some(*instance)
            }
            _ => None,
        })
        .expect("scout 1 fires listen");
    d.effects.clear();
    let epoch = d.epochs[&DeviceId(1)];
    d.handle(
        Micros::from_millis(530),
        Event::TaskResult {
            instance,
            executor: Executor::Device {
                device: DeviceId(1),
                epoch,
            },
            items: 1,
            bytes: 2_000,
            model_version: 0,
        },
    );
    let (go, gotos) = sent(&d.effects, 1);
    assert_eq!(
        go,
        [DeviceId(3), DeviceId(5)],
        "the two cars nearest to scout 1"
    );
    assert_eq!(
        gotos,
        [(DeviceId(3), p(500, 500)), (DeviceId(5), p(500, 500))],
        "each is sent where the ping was heard, before it runs"
    );
    let (charge, _) = sent(&d.effects, 2);
    assert_eq!(charge, [DeviceId(6)], "the car with the most battery left");
}

#[test]
fn a_patrol_spaces_its_fleet_evenly_and_the_world_flies_it() {
    let graph = compile(
        "mission loop {
  duration 2 min
  fleet drones: drone x 4 { cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; speed 10 m/s; home (0 m, 0 m) }
  task watch on drones { patrol (0 m, 0 m), (100 m, 0 m), (100 m, 100 m), (0 m, 100 m) }
}",
    );
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph, plan, 1).expect("plan");
    let mut w = World::new(ctl, WorldConfig::default());
    w.run_to_end(Micros::from_secs(600));
    let mut starts: Vec<u64> = w
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Device {
                msg:
                    DeviceMsg::Behave(BehaviourCommand::Route {
                        looping: true,
                        start_mm,
                        ..
                    }),
                ..
            } => Some(*start_mm),
            _ => None,
        })
        .collect();
    starts.sort_unstable();
    assert_eq!(
        starts,
        [0, 100_000, 200_000, 300_000],
        "a 400 m loop, 4 drones"
    );
    // Telemetry follows the loop: every reported position lies on the square.
    let on_square = |q: &PointMm| {
        let (x, y) = (q.x_mm, q.y_mm);
        let inside = (0..=100_000).contains(&x) && (0..=100_000).contains(&y);
        inside && (x == 0 || x == 100_000 || y == 0 || y == 100_000)
    };
    let positions: Vec<PointMm> = w
        .publications
        .iter()
        .filter_map(|(_, p)| match p {
            hivemind_controller::Publication::Telemetry { position, .. } => Some(*position),
            _ => None,
        })
        .collect();
    assert!(
        positions.len() > 40,
        "{} telemetry reports",
        positions.len()
    );
    let moved = positions.iter().filter(|q| **q != p(0, 0)).count();
    assert!(moved > positions.len() / 2, "the drones fly");
    // Entry legs cut corners (a drone flies straight to its start); after
    // the first 20 s every report is on the loop.
    let late: Vec<&PointMm> = w
        .publications
        .iter()
        .filter(|(t, _)| *t > Micros::from_secs(20))
        .filter_map(|(_, p)| match p {
            hivemind_controller::Publication::Telemetry { position, .. } => Some(position),
            _ => None,
        })
        .collect();
    assert!(late.iter().all(|q| on_square(q)), "{late:?}");
}

#[test]
fn a_declared_sensor_paces_its_reader_and_its_name_is_a_type() {
    let graph = compile(RESCUE);
    let listen = graph.task("listen").expect("task");
    assert_eq!(
        listen.trigger,
        hivemind_ir::Trigger::Periodic {
            period_us: 1_000_000
        }
    );
    assert_eq!(listen.outputs[0].ty.bytes, 2_000);
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph.clone(), plan, 1).expect("plan");
    let mut w = World::new(ctl, WorldConfig::default());
    w.keep_effects = false;
    w.run_to_end(Micros::from_secs(600));
    let st = w.ctl.state();
    // 60 readings on each of 2 scouts; two cars per reading.
    assert_eq!(st.kinds[0].activations, 120);
    assert_eq!(st.kinds[1].created, 240);
    assert_eq!(st.kinds[2].created, 120);
}

/// When the last device of a fleet fails the core says so at once
/// (`FleetLost`), and the fleet's work still waiting at the end fails with
/// that reason instead of waiting silently.
#[test]
fn losing_a_whole_fleet_is_published_and_its_waiting_work_fails_with_that_reason() {
    let graph = compile(
        "mission lost {
  duration 20 s
  fleet drones: drone x 2 { cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  fleet cars: car x 2 { cpu 1 GHz x 1; battery 100 Wh; radio 10 Mbit/s }
  task cap on drones -> f: frame 1 KB { every 1 s; needs camera }
  task use(f) on cars { work 1 Mop }
}",
    );
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph, plan, 1).expect("plan");
    let mut w = World::new(ctl, WorldConfig::default());
    // Cars are devices 2 and 3.
    w.kill(Micros::from_secs(5), DeviceId(2));
    w.kill(Micros::from_secs(5), DeviceId(3));
    w.run_to_end(Micros::from_secs(600));
    let lost: Vec<_> = w
        .publications
        .iter()
        .filter_map(|(t, p)| match p {
            hivemind_controller::Publication::FleetLost { fleet, reason } => {
                Some((*t, *fleet, reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].1, FleetId(1));
    assert!(
        lost[0].0 < Micros::from_secs(10),
        "published when it happened: {:?}",
        lost[0].0
    );
    let st = w.ctl.state();
    assert_eq!(st.phase, hivemind_controller::Phase::Finished);
    assert_eq!(st.counters.fleets_lost, 1);
    let use_task = &st.kinds[1];
    assert!(use_task.failed > 0, "the cars' waiting work failed");
    assert_eq!(
        use_task.completed + use_task.failed,
        use_task.created,
        "every instance resolved"
    );
    assert!(st
        .failures
        .iter()
        .all(|f| f.reason == "fleet `cars` lost every device before the instance could run"));
}

/// A join whose other producer never delivers: the pacer's values are
/// counted as never joined at the end, not dropped silently.
#[test]
fn join_values_that_never_meet_their_partner_are_counted() {
    let graph = compile(
        "mission join {
  duration 10 s
  fleet drones: drone x 1 { cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  fleet cars: car x 1 { cpu 1 GHz x 1; battery 100 Wh; radio 10 Mbit/s; sensors lidar }
  cloud { servers 1; cores 4 each }
  task a on drones -> x: v 1 KB { every 1 s; needs camera }
  task b on cars -> y: v 1 KB { every 2 s; needs lidar }
  task j(x, y) at cloud { work 1 Mop }
}",
    );
    let plan = simple_plan(&graph);
    let ctl = Controller::new(Config::default(), graph, plan, 1).expect("plan");
    let mut w = World::new(ctl, WorldConfig::default());
    // The drone dies before the mission starts: `x` never comes, while the
    // car's `y` (every 2 s, the slower producer, which paces the join)
    // delivers at 0, 2, 4, 6 and 8 s.
    w.kill(Micros::ZERO, DeviceId(0));
    w.run_to_end(Micros::from_secs(600));
    let st = w.ctl.state();
    assert_eq!(st.phase, hivemind_controller::Phase::Finished);
    assert_eq!(st.kinds[1].completed, 5);
    assert_eq!(st.kinds[2].activations, 0, "the join never fired");
    assert_eq!(st.counters.unjoined_values, 5);
}

/// Admission control: a pool that cannot keep up does not make the core
/// queue without bound; activations over the limit are shed and counted,
/// and everything admitted still completes or fails with a reason.
#[test]
fn an_overloaded_pool_sheds_activations_instead_of_queueing_without_bound() {
    let graph = compile(
        "mission flood {
  duration 20 s
  fleet drones: drone x 20 { cpu 1 GHz x 1; battery 100 Wh; radio 20 Mbit/s; sensors camera }
  cloud { servers 1; cores 1 each }
  task cap on drones -> f: frame 1 KB { every 100 ms; needs camera }
  task heavy(f) at cloud { work 100 Gop }
}",
    );
    let plan = simple_plan(&graph);
    let cfg = Config {
        max_unresolved_instances: 200,
        ..Config::default()
    };
    let ctl = Controller::new(cfg, graph, plan, 1).expect("plan");
    // Each cloud run takes 1 s; 200 frames arrive per second.
    let mut w = World::new(
        ctl,
        WorldConfig {
            cloud_service_us: 1_000_000,
            ..WorldConfig::default()
        },
    );
    w.keep_effects = false;
    let mut peak = 0;
    while w.step() {
        peak = peak.max(w.ctl.state().instances.len());
        if w.now > Micros::from_secs(600) {
            break;
        }
    }
    let st = w.ctl.state();
    assert_eq!(st.phase, hivemind_controller::Phase::Finished);
    assert!(peak <= 200 + 20, "peak {peak} unresolved instances");
    assert!(st.counters.shed_activations > 100, "{:?}", st.counters);
    for k in &st.kinds {
        assert_eq!(
            k.completed + k.failed,
            k.created,
            "every admitted instance resolved"
        );
    }
}
