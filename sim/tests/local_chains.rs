//! Device-local chains (`ir::local`): which edges a device runs by itself,
//! the ids those runs take, and that the controller keeps exactly-once
//! accounting when devices start work it never sent — through failures,
//! results nobody asked for, and controller restarts.

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::{
    Config, Controller, DeviceId, DeviceMsg, Effect, Event, Executor, InstanceId, Micros, Phase,
};
use hivemind_ir::local::{local_chains, runs_on_device};
use hivemind_ir::{TaskGraph, TaskId};
use hivemind_sim::{simple_plan, WorldConfig};

/// Every kind of edge between tasks of one fleet, and some that leave it.
fn rules_source() -> String {
    "mission rules {
  duration 1 min
  fleet drones: drone x 3 {
    cpu 1.0 GHz x 2
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    sensors camera(1280x720)
    home (0 m, 0 m)
  }
  cloud { servers 1; cores 4 each }
  task capture on drones -> frame: jpeg 120 KB { every 1 s; needs camera(1280x720) }
  task detect(frame) on drones -> boxes: list<box 32 B> x 4 { work 0.1 Gop }
  task track(boxes) on drones -> tracks: track 64 B { work 10 Mop }
  task split(frame) on drones -> parts: list<part 1 KB> x 4 { work 10 Mop }
  task each(parts) on drones -> bits: bit 8 B { work 1 Mop; fanout per item }
  task both(boxes, parts) on drones -> pairs: pair 8 B { work 1 Mop }
  task window(tracks) on drones -> sums: sum 8 B { every 5 s }
  task report(tracks) at cloud { work 1 Mop }
}
"
    .to_string()
}

fn rules() -> TaskGraph {
    let src = rules_source();
    let c = hivemind_dsl::compile(&src, "rules.hm");
    let errors: Vec<String> = c.errors().map(|d| d.message.clone()).collect();
    c.graph
        .unwrap_or_else(|| panic!("test mission does not compile: {errors:?}"))
}

fn id(g: &TaskGraph, name: &str) -> TaskId {
    g.tasks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name}"))
        .id
}

#[test]
fn only_single_producer_single_instance_edges_on_one_device_are_local() {
    let g = rules();
    let plan = simple_plan(&g);
    let local = |a: &str, b: &str| runs_on_device(&g, &plan, id(&g, a), id(&g, b));
    assert!(local("capture", "detect"));
    assert!(local("detect", "track"));
    assert!(local("capture", "split"));
    assert!(
        !local("split", "each"),
        "a fan-out is placed by the controller"
    );
    // A join per device with device-local inputs: the edge from its pacer
    // (the first producer on a tie of rates) is local, and the device
    // needs the other producer's value under the same registration.
    assert!(
        local("detect", "both"),
        "a join of local inputs runs on the device"
    );
    assert!(!local("split", "both"), "only the pacer's edge starts it");
    let chains = local_chains(&g, &plan);
    assert_eq!(chains.needs(id(&g, "both")), &[id(&g, "split")]);
    assert!(chains.needs(id(&g, "detect")).is_empty());
    assert!(!local("track", "window"), "a window is the controller's");
    assert!(!local("track", "report"), "the cloud is not the device");
    assert!(!local("detect", "capture"), "no such edge");
}

#[test]
fn an_instance_reserves_ids_for_its_local_subtree_in_preorder() {
    let g = rules();
    let chains = local_chains(&g, &simple_plan(&g));
    let (capture, detect, track, split, both) = (
        id(&g, "capture"),
        id(&g, "detect"),
        id(&g, "track"),
        id(&g, "split"),
        id(&g, "both"),
    );
    // capture [detect [track] [both]] [split]
    assert_eq!(chains.span(capture), 5);
    assert_eq!(chains.span(detect), 3);
    assert_eq!(chains.span(track), 1);
    assert_eq!(chains.successors(capture), &[(detect, 1), (split, 4)]);
    assert_eq!(chains.successors(detect), &[(track, 1), (both, 2)]);
    assert_eq!(chains.offset(capture, split), Some(4));
    assert_eq!(chains.offset(split, id(&g, "each")), None);
    // A plan of another graph has no chains rather than wrong ones.
    let other = survey(2);
    assert!(!local_chains(&other, &simple_plan(&g)).any());
}

/// The controller never sends the chain's later tasks: the device starts
/// them, each completes once under the id its parent reserved.
#[test]
fn a_chain_runs_on_the_device_and_is_counted_once() {
    let g = rules();
    let g2 = g.clone();
    let (detect, track, split) = (id(&g, "detect"), id(&g, "track"), id(&g, "split"));
    let cfg = WorldConfig {
        seed: 3,
        ..WorldConfig::default()
    };
    let mut w = world(g, cfg);
    w.stop_at(Micros::from_secs(10));
    w.run_to_end(Micros::from_secs(60));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "{r:#?}");
    assert_exactly_once(&w, 3);
    let sent_local = w
        .effects
        .iter()
        .filter(|(_, e)| {
            matches!(e, Effect::Device { msg: DeviceMsg::RunTask { task, .. }, .. }
                if [detect, track, split].contains(task))
        })
        .count();
    assert_eq!(
        sent_local, 0,
        "the controller sent a task the device runs itself"
    );
    let completed = |t: TaskId| r.tasks[t.index()].completed;
    assert!(completed(track) > 0);
    // The join `both` runs on the device once the device holds a value of
    // `split` under its registration: every time but each device's first.
    let both = id(&g2, "both");
    let both_sent = w
        .effects
        .iter()
        .filter(|(_, e)| {
            matches!(e, Effect::Device { msg: DeviceMsg::RunTask { task, .. }, .. } if *task == both)
        })
        .count() as u64;
    assert!(both_sent <= 3, "{both_sent} joins sent for 3 devices");
    assert!(completed(both) > both_sent);
    assert_eq!(
        r.counters.delegated,
        completed(detect) + completed(track) + completed(split) + completed(both) - both_sent,
        "{:?}",
        r.counters
    );
    for t in &r.tasks {
        assert_eq!(t.created, t.completed + t.failed, "{}", t.task);
    }
    assert_eq!(r.counters.unknown_results, 0);
}

/// A device dies while its chains run: the local work it had not reported
/// is placed on another device by the controller (sent, with the parent's
/// value relayed); the captures it fired by itself and had not reported
/// are lost with it (no other drone can take them); nothing is counted
/// twice.
#[test]
fn a_device_dying_mid_chain_loses_nothing() {
    for seed in [1, 2, 3, 4] {
        let g = rules();
        let detect = id(&g, "detect");
        let cfg = WorldConfig {
            seed,
            ..WorldConfig::default()
        };
        let mut w = world(g, cfg);
        // Each second a capture (~20 ms) then, on the device, its detect
        // (~20 ms); device 1 captures a third of a second into each second
        // (its phase, `ir::activation::Phasing`): at 4.363 s it is in the
        // middle of a detect.
        w.kill(Micros::from_millis(4_363), DeviceId(1));
        w.stop_at(Micros::from_secs(10));
        w.run_to_end(Micros::from_secs(60));
        let r = w.ctl.report();
        assert_eq!(r.phase, Phase::Finished, "seed {seed}: {r:#?}");
        assert_exactly_once(&w, seed);
        for t in &r.tasks {
            assert_eq!(
                t.created,
                t.completed + t.failed + t.lost,
                "seed {seed}: {}",
                t.task
            );
        }
        let replaced = w.effects.iter().any(|(_, e)| {
            matches!(e, Effect::Device { device, msg: DeviceMsg::RunTask { task, .. }, .. }
                if *task == detect && *device != DeviceId(1))
        });
        assert!(
            replaced,
            "seed {seed}: the dead device's local work was re-placed"
        );
    }
}

/// A device reports a result for an id nothing gave it (a local successor
/// of a run that lost, or plain garbage): journaled, counted as unknown,
/// acknowledged so the device drops it, and it completes nothing.
#[test]
fn a_result_nobody_asked_for_is_acknowledged_and_not_counted() {
    let g = rules();
    let plan = simple_plan(&g);
    let mut c = Controller::new(Config::default(), g, plan, 1).expect("valid plan");
    let fleet = hivemind_ir::FleetId(0);
    let at = hivemind_ir::PointMm { x_mm: 0, y_mm: 0 };
    c.handle(
        Micros::ZERO,
        Event::DeviceJoined {
            device: DeviceId(0),
            fleet,
            battery_uj: 1_000_000_000,
            position: at,
        },
    );
    let epoch = c.state().devices.get(&DeviceId(0)).map(|d| d.epoch);
    let epoch = epoch.expect("registered");
    c.drain_effects().for_each(drop);
    let bogus = InstanceId(1_000_000);
    c.handle(
        Micros::from_millis(5),
        Event::TaskResult {
            instance: bogus,
            executor: Executor::Device {
                device: DeviceId(0),
                epoch,
            },
            items: 1,
            bytes: 10,
            model_version: 0,
        },
    );
    let effects: Vec<Effect> = c.drain_effects().collect();
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Journal(_))),
        "{effects:?}"
    );
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Device { device: DeviceId(0), epoch: ep, msg: DeviceMsg::Ack { instance } }
                if *instance == bogus && *ep == epoch)),
        "{effects:?}"
    );
    assert_eq!(c.state().counters.unknown_results, 1);
    assert!(c.report().tasks.iter().all(|t| t.completed == 0));
}

/// A straggler whose input the plan keeps on its device is not copied to
/// another device: the copy would carry the value across the radio (the
/// link that is usually why it is slow). Other stragglers still are.
#[test]
fn a_straggler_with_a_device_local_input_is_not_relaunched_elsewhere() {
    let src = rules_source().replace(
        "  task report(tracks) at cloud { work 1 Mop }\n",
        "  task report(tracks) at cloud { work 1 Mop }\n  on straggler(2x median) { relaunch }\n",
    );
    let c = hivemind_dsl::compile(&src, "rules.hm");
    let g = c.graph.expect("compiles");
    let both = id(&g, "both");
    let cfg = WorldConfig {
        seed: 5,
        slow: vec![(DeviceId(2), 6)],
        ..WorldConfig::default()
    };
    let mut w = world(g, cfg);
    w.stop_at(Micros::from_secs(20));
    w.run_to_end(Micros::from_secs(120));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "{r:#?}");
    assert!(r.counters.relaunches_withheld > 0, "{:?}", r.counters);
    let relaunched_both = w.publications.iter().any(|(_, p)| {
        matches!(p, hivemind_controller::Publication::Relaunched { task, .. } if *task == both)
    });
    assert!(
        !relaunched_both,
        "a join fed on its device was copied elsewhere"
    );
    assert_exactly_once(&w, 5);
}
