//! Continuous learning executed by the core: retrain rounds start training
//! jobs in the function pool, each completed job is a new model version
//! pushed to the devices that run the task, devices report what they loaded
//! and tag their results with it; late joiners get the current model; a
//! controller crash loses no version, no loaded model and no result.

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::{
    DeviceId, DeviceMsg, Effect, Micros, MissionReport, Phase, PoolAction, Publication,
};
use hivemind_ir::TaskGraph;
use hivemind_sim::{World, WorldConfig};

/// Four drones; `detect` runs on them (pinned) and is retrained every
/// minute from its own outputs; `tag` runs in the cloud and is retrained
/// every two minutes.
fn learning_mission(minutes: u32) -> TaskGraph {
    let src = format!(
        "mission learn {{
  duration {minutes} min
  fleet drones: drone x 4 {{ cpu 1 GHz x 4; battery 100 Wh; radio 20 Mbit/s; sensors camera }}
  cloud {{ servers 2; cores 8 each }}
  task capture on drones -> frame: image 320x240 {{ every 2 s; needs camera }}
  task detect(frame) on drones -> boxes: list<box 16 B> x 8 {{ work 0.1 Gop; fn det }}
  task tag(boxes) at cloud -> tags: tags 64 B {{ work 1 Mop; fn tagger }}
  learning on {{
    retrain detect every 1 min from detect model 5 MB work 2 Mop per sample
    retrain tag every 2 min from tag model 1 MB
  }}
}}
"
    );
    let c = hivemind_dsl::compile(&src, "learn.hm");
    let errors: Vec<String> = c.errors().map(|d| d.message.clone()).collect();
    c.graph
        .unwrap_or_else(|| panic!("test mission does not compile: {errors:?}"))
}

const SEED: u64 = 5;

fn cfg() -> WorldConfig {
    WorldConfig {
        seed: SEED,
        keep_journal: true,
        ..WorldConfig::default()
    }
}

fn finish(w: &mut World) -> MissionReport {
    w.run_to_end(Micros::from_secs(3_600));
    let r = w.ctl.report();
    assert_eq!(r.phase, Phase::Finished, "seed {SEED}");
    r
}

#[test]
fn models_are_trained_pushed_loaded_and_results_carry_their_version() {
    let mut w = world(learning_mission(5), cfg());
    let r = finish(&mut w);
    assert_exactly_once(&w, SEED);
    let detect = &r.learning[0];
    assert_eq!(detect.task, "detect");
    // Rounds at 1, 2, 3, 4 min: each with samples.
    assert_eq!((detect.rounds, detect.training_jobs), (4, 4));
    assert_eq!(detect.model_version, 4);
    assert_eq!(detect.model_pushes, 4 * 4, "every job to every drone");
    assert_eq!(detect.model_bytes_pushed, 16 * 5_000_000);
    assert_eq!(r.counters.model_bytes_pushed, 16 * 5_000_000);
    assert_eq!(detect.devices_on_latest, 4, "every drone loaded v4");
    // Results before the first model arrived are v0, later ones newer;
    // every completed result is counted once.
    let versions: Vec<u32> = detect
        .results_by_version
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [0, 1, 2, 3, 4]);
    let total: u64 = detect.results_by_version.iter().map(|v| v.results).sum();
    assert_eq!(total, r.tasks[1].completed);
    // In the cloud: rounds at 2 and 4 min, no push, invocations carry the version.
    let tag = &r.learning[1];
    assert_eq!(
        (tag.rounds, tag.training_jobs, tag.model_version),
        (2, 2, 2)
    );
    assert_eq!((tag.model_pushes, tag.devices_on_latest), (0, 0));
    assert!(tag.results_by_version.iter().any(|v| v.version == 2));
    // Training jobs ran in the pool as the training function.
    let trains = w
        .effects
        .iter()
        .filter(|(_, e)| matches!(e, Effect::Pool(PoolAction::Train { function, .. }) if function == "det.train"))
        .count();
    assert_eq!(trains, 4);
    let pushes: Vec<(DeviceId, u32)> = w
        .effects
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Device {
                device,
                msg: DeviceMsg::Model { version, bytes, .. },
                ..
            } => {
                assert_eq!(*bytes, 5_000_000);
                Some((*device, *version))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pushes.len(), 16);
    let trained = w
        .publications
        .iter()
        .filter(|(_, p)| matches!(p, Publication::ModelTrained { .. }))
        .count();
    assert_eq!(trained, 6);
}

#[test]
fn a_device_that_joins_later_gets_the_current_model() {
    let mut w = world(learning_mission(5), cfg());
    // Drone 3 is dead from 30 s to 150 s: it misses v1 and rejoins with
    // the controller at v2.
    w.kill(Micros::from_secs(30), DeviceId(3));
    w.revive(Micros::from_secs(150), DeviceId(3));
    let r = finish(&mut w);
    let detect = &r.learning[0];
    assert_eq!(detect.model_version, 4);
    assert_eq!(detect.devices_on_latest, 4, "the rejoined drone caught up");
    let to_3: Vec<u32> = w
        .effects
        .iter()
        .filter_map(|(t, e)| match e {
            Effect::Device {
                device: DeviceId(3),
                msg: DeviceMsg::Model { version, .. },
                ..
            } => Some((*t, *version)),
            _ => None,
        })
        .filter(|&(t, _)| t >= Micros::from_secs(150))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(to_3.first(), Some(&2), "pushed at registration: {to_3:?}");
    assert_eq!(to_3, [2, 3, 4]);
}

#[test]
fn recovery_restores_versions_and_loaded_models_at_every_boundary() {
    let mut w = world(learning_mission(3), cfg());
    let mut boundaries = Vec::new();
    while !w.over && w.step() {
        boundaries.push((w.journal.len(), w.ctl.snapshot()));
    }
    assert_eq!(w.ctl.state().phase, Phase::Finished);
    let mut checked = 0;
    for (k, snap) in boundaries.iter().step_by(37) {
        let at = w.journal[..*k]
            .iter()
            .rev()
            .find_map(|r| match r {
                hivemind_controller::Record::Event { at, .. }
                | hivemind_controller::Record::Timeout { at, .. }
                | hivemind_controller::Record::DeviceSilent { at, .. } => Some(*at),
                _ => None,
            })
            .unwrap_or(Micros::ZERO);
        let c = hivemind_controller::Controller::recover(at, w.journal[..*k].to_vec())
            .expect("recoverable");
        assert_eq!(
            serde_json::to_string(&c.snapshot()).unwrap_or_default(),
            serde_json::to_string(snap).unwrap_or_default(),
            "crash after record {k}"
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
    let c = hivemind_controller::Controller::recover(w.now, w.journal.clone()).expect("recover");
    assert_eq!(c.report(), w.ctl.report());
    assert_eq!(c.report().learning[0].model_version, 2);
}

#[test]
fn a_controller_crash_loses_no_version_no_loaded_model_and_no_result() {
    let reference = {
        let mut w = world(learning_mission(5), cfg());
        finish(&mut w)
    };
    // Crashes before the first round, while the first job waits for its
    // worker's cold start (60.001 s + 250 ms), while it trains (10 ms),
    // while the drones download v1 (5 MB at 20 Mbit/s: 2 s), and late.
    for ms in [
        30_000, 60_002, 60_200, 60_255, 60_258, 61_500, 125_000, 290_000,
    ] {
        let mut w = world(learning_mission(5), cfg());
        w.crash(Micros::from_millis(ms));
        w.run_until(Micros::from_millis(ms - 1));
        let jobs = &w.ctl.state().learning.jobs;
        match ms {
            60_002 | 60_200 => {
                assert!(jobs.values().all(|j| j.worker.is_none()) && !jobs.is_empty())
            }
            60_255 => assert!(jobs.values().all(|j| j.worker.is_some()) && !jobs.is_empty()),
            _ => {}
        }
        let r = finish(&mut w);
        assert_eq!(w.restarts, 1, "crash at {ms} ms");
        assert_exactly_once(&w, ms);
        for (a, b) in r.learning.iter().zip(&reference.learning) {
            assert_eq!(
                (
                    a.rounds,
                    a.training_jobs,
                    a.model_version,
                    a.devices_on_latest
                ),
                (
                    b.rounds,
                    b.training_jobs,
                    b.model_version,
                    b.devices_on_latest
                ),
                "crash at {ms} ms: {}",
                a.task
            );
            assert_eq!(
                a.model_bytes_pushed, b.model_bytes_pushed,
                "crash at {ms} ms"
            );
            let total = |x: &hivemind_controller::report::LearningReport| -> u64 {
                x.results_by_version.iter().map(|v| v.results).sum()
            };
            assert_eq!(total(a), total(b), "crash at {ms} ms: {}", a.task);
        }
        assert_eq!(
            serde_json::to_string(&r).unwrap_or_default(),
            serde_json::to_string(&reference).unwrap_or_default(),
            "crash at {ms} ms: the report is the uncrashed run's"
        );
    }
}
