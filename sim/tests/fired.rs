//! Sources the devices fire by themselves (`ir::activation::fired_on_device`):
//! the controller grants each device its next firings ahead
//! (`DeviceMsg::Fire`) and sends no start command; a firing whose result
//! reaches the controller before its timer is created then, at its
//! instant; a device out of service loses its grants.

#[path = "support/common.rs"]
mod common;
use common::*;

use hivemind_controller::{
    Command, Config, Controller, DeviceId, DeviceMsg, Effect, Event, Executor, InstanceId, Micros,
    Phase,
};
use hivemind_ir::{FleetId, PointMm, TaskGraph};
use hivemind_sim::{simple_plan, WorldConfig};

fn mission(drones: u32, gather: bool) -> TaskGraph {
    fired_mission(drones, "10 s", "1 s", gather)
}

fn messages<'a>(effects: impl Iterator<Item = &'a Effect>) -> (usize, usize) {
    let (mut runs, mut fires) = (0, 0);
    for e in effects {
        match e {
            Effect::Device {
                msg: DeviceMsg::RunTask { task, .. },
                ..
            } if task.0 == 0 => runs += 1,
            Effect::Device {
                msg: DeviceMsg::Fire { .. },
                ..
            } => fires += 1,
            _ => {}
        }
    }
    (runs, fires)
}

#[test]
fn a_phased_source_is_fired_by_its_devices_with_no_start_command() {
    let cfg = WorldConfig::default();
    let mut w = world(mission(4, false), cfg.clone());
    w.run_to_end(Micros::from_secs(60));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished);
    assert_exactly_once(&w, 0);
    let capture = &r.tasks[0];
    assert_eq!(
        (capture.created, capture.completed),
        (40, 40),
        "{capture:?}"
    );
    let (runs, fires) = messages(w.effects.iter().map(|(_, e)| e));
    assert_eq!(runs, 0, "no start command for a fired capture");
    assert_eq!(fires, 40);
    assert_eq!(r.counters.grants, 40);
    assert_eq!(r.counters.fired_by_devices, 40);
    // Each firing's local successor ran on its drone too.
    assert_eq!(r.counters.delegated, 40, "{:?}", r.counters);
    assert_eq!(r.counters.unknown_results, 0, "{:?}", r.counters);
    assert_eq!(r.tasks[2].completed, 40);

    // A `gather all` waiting for its rounds: every drone fires at the
    // period's start, by itself too, and each round is gathered once.
    let mut w = world(mission(4, true), cfg);
    w.run_to_end(Micros::from_secs(60));
    let r = w.ctl.report();
    assert_exactly_once(&w, 0);
    let (runs, fires) = messages(w.effects.iter().map(|(_, e)| e));
    assert_eq!((runs, fires), (0, 40));
    assert_eq!(r.counters.fired_by_devices, 40);
    let start = w.ctl.state().started_at.unwrap_or(Micros::ZERO).0;
    for (_, e) in &w.effects {
        if let Effect::Device {
            msg: DeviceMsg::Fire { at_us, .. },
            ..
        } = e
        {
            assert_eq!((at_us - start) % 1_000_000, 0, "synchronized firings");
        }
    }
    let all = r.tasks.iter().find(|t| t.task == "all").expect("gather");
    assert_eq!(all.completed, 10, "one gather per round: {all:?}");
}

/// The core alone, two drones registered, the mission started at 1 ms.
struct Core(Driven);

impl std::ops::Deref for Core {
    type Target = Driven;
    fn deref(&self) -> &Driven {
        &self.0
    }
}

impl std::ops::DerefMut for Core {
    fn deref_mut(&mut self) -> &mut Driven {
        &mut self.0
    }
}

impl Core {
    fn new(graph: TaskGraph) -> Core {
        let plan = simple_plan(&graph);
        let ctl = Controller::new(Config::default(), graph, plan, 1).expect("plan");
        let mut c = Core(Driven::new(ctl));
        for d in 0..2 {
            c.join(Micros::ZERO, d);
        }
        c.handle(
            Micros::from_millis(1),
            Event::Operator {
                command: Command::Start,
            },
        );
        c
    }
    /// Drone `device` registers (again).
    fn join(&mut self, now: Micros, device: u32) {
        self.handle(
            now,
            Event::DeviceJoined {
                device: DeviceId(device),
                fleet: FleetId(0),
                battery_uj: 360_000_000_000,
                position: PointMm { x_mm: 0, y_mm: 0 },
            },
        );
    }
    /// The grants sent to `device`: (instance, instant).
    fn grants(&self, device: u32) -> Vec<(InstanceId, u64)> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Device {
                    device: d,
                    msg:
                        DeviceMsg::Fire {
                            instance, at_us, ..
                        },
                    ..
                } if d.0 == device => Some((*instance, *at_us)),
                _ => None,
            })
            .collect()
    }
    fn result(&mut self, now: Micros, device: u32, instance: InstanceId) {
        let epoch = self.epochs[&DeviceId(device)];
        self.handle(
            now,
            Event::TaskResult {
                instance,
                executor: Executor::Device {
                    device: DeviceId(device),
                    epoch,
                },
                items: 1,
                bytes: 10_000,
                model_version: 0,
            },
        );
    }
    fn created(&self, task: u32) -> u64 {
        self.ctl.report().tasks[task as usize].created
    }
}

#[test]
fn a_result_before_its_timer_creates_the_firing_at_its_instant_once() {
    let mut c = Core::new(mission(2, false));
    // Two firings ahead each: drone 1 at its phase (501 ms) and a second later.
    let granted = c.grants(1);
    assert_eq!(
        granted.iter().map(|g| g.1).collect::<Vec<_>>(),
        [501_000, 1_501_000]
    );
    // Drone 0 fired at the start; drone 1's clock runs ahead: its result
    // comes at 450 ms, before the timer.
    assert_eq!(c.created(0), 1);
    let (id, _) = granted[0];
    c.result(Micros::from_millis(450), 1, id);
    let r = c.ctl.report();
    assert_eq!((r.tasks[0].created, r.tasks[0].completed), (2, 1));
    assert_eq!(r.counters.fired_early, 1);
    assert_eq!(r.counters.unknown_results, 0);
    // Its local successor is the device's as usual.
    assert_eq!(r.counters.delegated, 1);
    // The timer does not create it a second time.
    c.timeout(Micros::from_millis(501));
    assert_eq!(c.created(0), 2);
    // It grants the next period instead; a duplicate result is a duplicate.
    assert_eq!(c.grants(1).len(), 3);
    c.result(Micros::from_millis(600), 1, id);
    assert_eq!(c.ctl.report().counters.duplicate_results, 1);
    // A result for an id nobody granted creates nothing.
    c.result(Micros::from_millis(700), 1, InstanceId(999_999));
    let r = c.ctl.report();
    assert_eq!(r.counters.unknown_results, 1);
    assert_eq!(r.tasks[0].created, 2);
}

/// A report frees a firing: the grant the next timer would send leaves
/// with the report's acknowledgement (one frame to the device instead of
/// two at different instants), and that timer then sends none.
#[test]
fn a_report_is_acknowledged_with_the_next_grant() {
    let mut c = Core::new(mission(2, false));
    // Drone 0 fires at the start (1 ms) and holds periods 1 and 2.
    let granted = c.grants(0);
    assert_eq!(
        granted.iter().map(|g| g.1).collect::<Vec<_>>(),
        [1_000, 1_001_000, 2_001_000]
    );
    let before = c.effects.len();
    c.result(Micros::from_millis(300), 0, granted[0].0);
    let to_drone_0: Vec<&DeviceMsg> = c.effects[before..]
        .iter()
        .filter_map(|e| match e {
            Effect::Device { device, msg, .. } if device.0 == 0 => Some(msg),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            to_drone_0.as_slice(),
            [DeviceMsg::Ack { instance }, DeviceMsg::Fire { at_us: 3_001_000, .. }]
                if *instance == granted[0].0
        ),
        "{to_drone_0:?}"
    );
    // The timer of period 1 fires it and grants nothing: period 3 is held.
    c.timeout(Micros::from_millis(1_001));
    assert_eq!(c.created(0), 3);
    assert_eq!(c.grants(0).len(), 4);
    // Period 1's report brings period 4's grant.
    c.result(Micros::from_millis(1_200), 0, granted[1].0);
    assert_eq!(c.grants(0).last().map(|g| g.1), Some(4_001_000));
    let r = c.ctl.report();
    assert_eq!((r.tasks[0].completed, r.counters.unknown_results), (2, 0));
}

/// A synchronized source (a `gather all` waits for its rounds): a result
/// before the period's timer fires the whole round then, so the round is
/// still one firing of every drone.
#[test]
fn an_early_result_of_a_synchronized_source_fires_its_whole_round() {
    let mut c = Core::new(mission(2, true));
    let granted = c.grants(1);
    assert_eq!(
        granted.iter().map(|g| g.1).collect::<Vec<_>>(),
        [1_000, 1_001_000, 2_001_000],
        "period 0, fired at the start, and two ahead"
    );
    assert_eq!(c.created(0), 2, "period 0: both drones");
    c.result(Micros::from_millis(990), 1, granted[1].0);
    let r = c.ctl.report();
    assert_eq!(r.tasks[0].created, 4, "period 1: both drones, now");
    assert_eq!(r.counters.fired_early, 1);
    assert_eq!(r.counters.unknown_results, 0);
    c.timeout(Micros::from_millis(1_001));
    assert_eq!(c.created(0), 4, "the timer finds the round fired");
    c.timeout(Micros::from_millis(2_001));
    assert_eq!(c.created(0), 6);
}

#[test]
fn a_device_out_of_service_loses_its_grants_and_its_firings_go_elsewhere() {
    let mut c = Core::new(mission(2, false));
    let granted = c.grants(1);
    let epoch = c.epochs[&DeviceId(1)];
    c.handle(
        Micros::from_millis(100),
        Event::DeviceLeft {
            device: DeviceId(1),
            epoch,
        },
    );
    assert!(c
        .ctl
        .state()
        .devices
        .get(&DeviceId(1))
        .is_some_and(|d| d.grants.is_empty()));
    // Its old registration's result for a grant is stale, not a firing.
    c.result(Micros::from_millis(200), 1, granted[0].0);
    assert_eq!(c.created(0), 1);
    // It rejoins: granted afresh under its new registration, from the
    // period whose instant is still ahead.
    c.join(Micros::from_millis(1_600), 1);
    let fresh: Vec<u64> = c.grants(1)[granted.len()..].iter().map(|g| g.1).collect();
    assert_eq!(fresh, [2_501_000, 3_501_000]);
}

/// A firing delegated to a device that then goes out of service is lost
/// with it (not re-placed: no other drone can take its reading); if the
/// device reports it later after all, it counts.
#[test]
fn a_firing_is_lost_with_its_device_and_recovered_if_it_reports_later() {
    let mut c = Core::new(mission(2, false));
    let (id, _) = c.grants(1)[0];
    let epoch = c.epochs[&DeviceId(1)];
    c.timeout(Micros::from_millis(501));
    assert_eq!(c.created(0), 2);
    c.handle(
        Micros::from_millis(600),
        Event::DeviceLeft {
            device: DeviceId(1),
            epoch,
        },
    );
    let r = c.ctl.report();
    assert_eq!((r.tasks[0].completed, r.tasks[0].lost), (0, 1));
    let runs_elsewhere = c.effects.iter().any(|e| {
        matches!(e, Effect::Device { msg: DeviceMsg::RunTask { instance, .. }, .. } if *instance == id)
    });
    assert!(!runs_elsewhere, "a lost firing is not re-placed");
    // The old registration's result, late: counted after all, once.
    c.result(Micros::from_millis(700), 1, id);
    let r = c.ctl.report();
    assert_eq!((r.tasks[0].completed, r.tasks[0].lost), (1, 0));
    assert_eq!(r.counters.recovered, 1);
    // Its value goes on: the thumb (its device gone) is placed by the
    // controller, on drone 0.
    assert_eq!(r.tasks[1].created, 1);
    c.result(Micros::from_millis(800), 1, id);
    assert_eq!(c.ctl.report().counters.duplicate_results, 1);
}

/// Through `simulate` (what `hivemind sim` runs): a phased source's every
/// firing within the mission is made, the last slot's last one included
/// (the world used to stop the mission at its duration from the world's
/// zero, a millisecond before its end, and lost that slot's firing).
#[test]
fn every_firing_within_the_mission_is_made() {
    let graph = fired_mission(10, "1 s", "10 ms", false);
    let opts = hivemind_sim::SimOptions::new(&graph, 1);
    let r = hivemind_sim::simulate(&graph, &simple_plan(&graph), &opts, &mut |_| {})
        .expect("simulates");
    let capture = &r.tasks[0];
    assert_eq!(
        (capture.created, capture.completed),
        (1_000, 1_000),
        "{capture:?}"
    );
}
