//! Crash tests. The journal of a run is cut at every record boundary and at
//! random byte offsets (torn writes): recovery from what survives restores
//! exactly the journaled state the run had when it wrote those records
//! (heartbeats, the timer table and liveness are soft and not journaled;
//! everything the report is made of is). Then whole runs crash and restart
//! from their journal at chosen instants: nothing is lost or done twice and
//! the final report is the uncrashed run's.

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::journal::Journal;
use hivemind_controller::record::{decode_all, encode_into, DecodeError};
use hivemind_controller::rng::Rng;
use hivemind_controller::{
    Config, Controller, DeviceId, Effect, Event, Micros, Phase, Publication, Record,
};
use hivemind_ir::TaskGraph;
use hivemind_sim::{Input, World, WorldConfig};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The journaled state: the snapshot (the whole durable state) and the
/// report made from it.
fn fingerprint(c: &Controller) -> (String, String) {
    (
        serde_json::to_string(&c.report()).unwrap_or_default(),
        serde_json::to_string(&c.snapshot()).unwrap_or_default(),
    )
}

fn hashed(c: &Controller) -> u64 {
    let mut h = DefaultHasher::new();
    fingerprint(c).hash(&mut h);
    h.finish()
}

struct Run {
    records: Vec<Record>,
    report: String,
    state: String,
    /// Journal length after each step of the world that wrote records,
    /// and the hash of the state the core had then.
    boundaries: BTreeMap<usize, u64>,
    /// The world's calls into the core.
    log: Vec<(Micros, Input)>,
    publications: Vec<(Micros, Publication)>,
}

const SEED: u64 = 9;

fn reference_world() -> World {
    reference_world_of(survey(3))
}

/// The same faults on `graph`'s mission.
fn reference_world_of(graph: TaskGraph) -> World {
    let cfg = WorldConfig {
        seed: SEED,
        keep_journal: true,
        error_permille: 30,
        slow: vec![(DeviceId(2), 8)],
        ..WorldConfig::default()
    };
    let mut w = world(graph, cfg);
    w.kill(Micros::from_millis(1_500), DeviceId(1));
    w.disconnect(
        Micros::from_millis(500),
        Micros::from_millis(4_200),
        DeviceId(0),
    );
    w.stop_at(Micros::from_secs(5));
    w
}

/// A short run with a failure, a straggler, errors and a flapping device.
fn reference() -> Run {
    reference_of(reference_world())
}

fn reference_of(mut w: World) -> Run {
    let mut boundaries = BTreeMap::new();
    let limit = Micros::from_secs(100);
    while !matches!(w.ctl.state().phase, Phase::Finished | Phase::Aborted { .. }) && w.now <= limit
    {
        let before = w.journal.len();
        if !w.step() {
            break;
        }
        if w.journal.len() != before {
            boundaries.insert(w.journal.len(), hashed(&w.ctl));
        }
    }
    assert_eq!(w.ctl.state().phase, Phase::Finished, "seed {SEED}");
    let (report, state) = fingerprint(&w.ctl);
    Run {
        records: w.journal.clone(),
        report,
        state,
        boundaries,
        log: w.log.clone(),
        publications: w.publications.clone(),
    }
}

fn recover(records: &[Record]) -> Controller {
    let now = records.iter().rev().find_map(|r| match r {
        Record::Event { at, .. } | Record::Timeout { at, .. } | Record::DeviceSilent { at, .. } => {
            Some(*at)
        }
        _ => None,
    });
    let mut c =
        Controller::recover(now.unwrap_or(Micros::ZERO), records.to_vec()).expect("recoverable");
    c.drain_effects().for_each(drop);
    c
}

#[test]
fn recovery_at_every_record_boundary_restores_the_journaled_state() {
    let run = reference();
    let n = run.records.len();
    assert!(n > 100, "{n} records");
    assert!(
        run.boundaries.len() > 50,
        "{} boundaries",
        run.boundaries.len()
    );
    for k in 1..=n {
        let c = recover(&run.records[..k]);
        // A prefix that ends inside one step (a group commit torn between
        // two of its records) recovers too; at a step's end it is exactly
        // the state the run had.
        if let Some(&h) = run.boundaries.get(&k) {
            assert_eq!(hashed(&c), h, "seed {SEED}: crash after record {k} of {n}");
        }
    }
    let c = recover(&run.records);
    assert_eq!(fingerprint(&c), (run.report.clone(), run.state.clone()));
}

fn fired(drones: u32) -> TaskGraph {
    fired_mission(drones, "10 min", "250 ms", false)
}

/// Grants are journaled state: recovery at every record boundary of a run
/// whose captures its drones fire by themselves restores it exactly, and
/// a controller crash at any point loses and duplicates nothing.
#[test]
fn grants_are_recovered_exactly_and_a_crash_loses_no_firing() {
    let run = reference_of(reference_world_of(fired(3)));
    let n = run.records.len();
    for k in 1..=n {
        let c = recover(&run.records[..k]);
        if let Some(&h) = run.boundaries.get(&k) {
            assert_eq!(hashed(&c), h, "crash after record {k} of {n}");
        }
    }
    let r: serde_json::Value = serde_json::from_str(&run.report).unwrap_or_default();
    let fired_by_devices = r["fired_by_devices"].as_u64().unwrap_or(0);
    assert!(fired_by_devices > 20, "{r:#}");
    for ms in [3, 300, 1_234, 2_000, 3_500, 4_650, 4_990] {
        let mut w = reference_world_of(fired(3));
        w.crash(Micros::from_millis(ms));
        w.run_to_end(Micros::from_secs(100));
        assert_eq!(w.restarts, 1, "crash at {ms} ms");
        assert_eq!(w.ctl.report().phase, Phase::Finished, "crash at {ms} ms");
        assert_exactly_once(&w, ms);
    }
}

#[test]
fn torn_writes_at_random_byte_offsets() {
    let run = reference();
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for r in &run.records {
        encode_into(r, &mut bytes);
        ends.push(bytes.len());
    }
    let mut rng = Rng::new(42);
    for _ in 0..60 {
        let cut = 1 + rng.below(bytes.len() as u64 - 1) as usize;
        let d = decode_all(&bytes[..cut]);
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(d.records.len(), whole, "cut at {cut}");
        assert_eq!(d.valid_len, if whole == 0 { 0 } else { ends[whole - 1] });
        assert_eq!(d.tail_error.is_some(), d.valid_len != cut);
        if whole == 0 {
            assert!(
                Controller::recover(Micros::ZERO, d.records).is_err(),
                "nothing to recover from"
            );
            continue;
        }
        // The torn tail is gone without a trace: the state is the one of
        // the whole records before it.
        let c = recover(&d.records);
        assert_eq!(
            hashed(&c),
            hashed(&recover(&run.records[..whole])),
            "cut at {cut}"
        );
        if let Some(&h) = run.boundaries.get(&whole) {
            assert_eq!(hashed(&c), h, "cut at {cut}");
        }
    }
    // A flipped byte in the middle: everything before it survives.
    let mut bad = bytes.clone();
    let mid = ends[ends.len() / 2] + 10;
    bad[mid] ^= 0x40;
    let d = decode_all(&bad);
    assert_eq!(d.records.len(), ends.len() / 2 + 1);
    assert!(matches!(
        d.tail_error,
        Some(
            DecodeError::Checksum { .. }
                | DecodeError::TooLarge { .. }
                | DecodeError::Truncated { .. }
        )
    ));
}

#[test]
fn snapshot_then_compaction_recovers_the_same_state() {
    let run = reference();
    let n = run.records.len();
    for k in [1, 2, n / 3, n / 2, n - 1] {
        let at_k = recover(&run.records[..k]);
        // A journal compacted to one snapshot, then the rest of the run.
        let mut compacted = vec![at_k.snapshot()];
        compacted.extend(run.records[k..].iter().cloned());
        let c = recover(&compacted);
        assert_eq!(
            fingerprint(&c),
            (run.report.clone(), run.state.clone()),
            "snapshot at {k}"
        );
    }
}

/// When some device had gone silent and was not yet declared failed: from
/// its last heartbeat to the declaration.
fn silent_spells(run: &Run) -> Vec<(Micros, Micros)> {
    run.publications
        .iter()
        .filter_map(|(t, p)| match p {
            Publication::DeviceFailed { device, reason, .. } if reason.contains("heartbeat") => {
                let last = run
                    .log
                    .iter()
                    .filter(|(at, i)| {
                        at < t
                            && matches!(i, Input::Event(Event::Heartbeat { device: d, .. }) if d == device)
                    })
                    .map(|(at, _)| *at)
                    .next_back()
                    .unwrap_or(Micros::ZERO);
                Some((last, *t))
            }
            _ => None,
        })
        .collect()
}

/// The controller crashes and restarts from its journal at chosen instants
/// (while devices are cut off, dead, straggling, during the drain) while
/// the devices and workers carry on. Nothing is lost or done twice. The
/// recovered core re-arms its timers where they were and re-sends live
/// attempts (the receivers ignore what they already run), so the final
/// report is the uncrashed run's — unless a device was already silent at
/// the crash: the grace period then postpones its failure declaration (and
/// the re-placement of its work), which changes latencies but not the
/// outcome (the declaration itself may come after the mission's end).
#[test]
fn crash_and_restart_mid_run_loses_nothing() {
    let run = reference();
    let spells = silent_spells(&run);
    assert_eq!(spells.len(), 2, "{spells:?}");
    let mut exact = 0;
    for ms in [
        3, 300, 1_234, 2_000, 3_500, 4_300, 4_500, 4_650, 4_800, 4_990,
    ] {
        let t = Micros::from_millis(ms);
        let mut w = reference_world();
        w.crash(t);
        w.run_to_end(Micros::from_secs(100));
        assert_eq!(w.restarts, 1, "crash at {ms} ms");
        let r = w.ctl.report();
        assert_eq!(r.phase, Phase::Finished, "crash at {ms} ms");
        assert_exactly_once(&w, ms);
        let report = serde_json::to_string(&r).unwrap_or_default();
        if spells.iter().all(|&(from, to)| t < from || t >= to) {
            assert_eq!(report, run.report, "crash at {ms} ms");
            exact += 1;
        } else {
            let base: serde_json::Value = serde_json::from_str(&run.report).unwrap_or_default();
            let now: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
            // The postponed declaration may come after the mission has
            // ended (nothing left for the silent device to hold up).
            let failed = |v: &serde_json::Value| v["devices_failed"].as_u64().unwrap_or(0);
            assert!(
                failed(&now) <= failed(&base),
                "crash at {ms} ms: devices_failed"
            );
            for field in ["rejoins", "failures"] {
                assert_eq!(now[field], base[field], "crash at {ms} ms: {field}");
            }
            for (a, b) in r
                .tasks
                .iter()
                .zip(base["tasks"].as_array().into_iter().flatten())
            {
                assert_eq!(a.failed, b["failed"], "crash at {ms} ms: {}", a.task);
                assert_eq!(
                    a.created,
                    a.completed + a.lost,
                    "crash at {ms} ms: {}",
                    a.task
                );
            }
        }
    }
    assert!(
        exact >= 4,
        "{exact} crashes outside the silent spells {spells:?}"
    );
}

/// Recovery rebuilds the timer table from the state, re-sends live
/// attempts, journals nothing, and gives every device a grace period:
/// after a minute of controller downtime nobody is declared failed until
/// it stays silent for the full 3 s after the restart.
#[test]
fn recovery_rebuilds_timers_resends_and_grants_a_grace_period() {
    let run = reference();
    let k = *run
        .boundaries
        .keys()
        .find(|&&k| k >= run.records.len() / 3)
        .expect("a boundary");
    let last = recover(&run.records[..k]).state().now;
    let down = last.plus(60_000_000);
    let mut c = Controller::recover(down, run.records[..k].to_vec()).expect("recoverable");
    let effects: Vec<Effect> = c.drain_effects().collect();
    let live: usize = c
        .state()
        .instances
        .values()
        .map(|i| i.attempts.iter().filter(|a| a.live).count())
        .sum();
    let resent = effects
        .iter()
        .filter(|e| {
            matches!(
                e,
                Effect::Device {
                    msg: hivemind_controller::DeviceMsg::RunTask { .. },
                    ..
                } | Effect::Pool(hivemind_controller::PoolAction::Invoke { .. })
            )
        })
        .count();
    assert!(live > 0);
    assert_eq!(live, resent);
    assert!(effects.iter().all(|e| !matches!(e, Effect::Journal(_))));
    // Overdue timers (ticks, periodic activations, retries) fire at once.
    let due = c.poll_timeout().expect("timers rebuilt");
    assert!(due <= down, "{due} vs {down}");
    let in_service = c
        .state()
        .devices
        .values()
        .filter(|d| d.status == hivemind_controller::core::DeviceStatus::Alive)
        .count();
    assert!(in_service > 0);
    let failed = |c: &mut Controller| {
        c.drain_effects()
            .filter(|e| matches!(e, Effect::Publish(Publication::DeviceFailed { .. })))
            .count()
    };
    c.handle_timeout(down.plus(2_900_000));
    assert_eq!(failed(&mut c), 0, "grace period");
    c.handle_timeout(down.plus(3_100_000));
    assert_eq!(failed(&mut c), in_service, "silent since the restart");
}

/// Replaying the world's calls into a fresh core gives the same journal
/// (the seam is deterministic), and in every call the journal record comes
/// before any other effect; heartbeats write no record.
#[test]
fn journal_record_precedes_every_effect() {
    let run = reference();
    let graph = survey(3);
    let plan = hivemind_sim::simple_plan(&graph);
    let mut c = Controller::new(Config::default(), graph, plan, SEED).expect("plan");
    // The genesis goes out at construction, before the first call.
    let mut journal: Vec<Record> = c
        .drain_effects()
        .filter_map(|e| match e {
            Effect::Journal(r) => Some(r),
            _ => None,
        })
        .collect();
    assert!(matches!(journal.as_slice(), [Record::Genesis(_)]));
    let mut heartbeats = 0;
    for (at, input) in &run.log {
        match input {
            Input::Event(e) => c.handle(*at, e.clone()),
            Input::Timeout => c.handle_timeout(*at),
        }
        let batch: Vec<Effect> = c.drain_effects().collect();
        let records: Vec<Record> = batch
            .iter()
            .filter_map(|e| match e {
                Effect::Journal(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        match input {
            Input::Event(Event::Heartbeat { .. }) => {
                heartbeats += 1;
                assert!(records.is_empty(), "heartbeat journaled at {at}");
            }
            Input::Event(e) => assert!(
                matches!(batch.first(), Some(Effect::Journal(Record::Event { event, .. })) if event == e),
                "{at}: {:?}",
                batch.first()
            ),
            Input::Timeout => {
                if let Some(first) = batch.first() {
                    assert!(matches!(first, Effect::Journal(_)), "{at}: {first:?}");
                }
            }
        }
        journal.extend(records);
    }
    assert!(heartbeats >= 8, "{heartbeats} heartbeats");
    assert_eq!(journal, run.records);
}

#[test]
fn journal_file_truncates_torn_tail_and_compacts() {
    let run = reference();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("controller.journal");
    let half = *run
        .boundaries
        .keys()
        .find(|&&k| k >= run.records.len() / 2)
        .expect("a boundary");
    {
        let mut j = Journal::create(&path, [1; 32]).expect("create");
        for r in &run.records[..half] {
            j.append(r);
        }
        assert_eq!(j.commit().expect("commit"), half as u64);
    }
    let good_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let good_bytes = std::fs::read(&path).expect("read");
    // A torn write: half of the next frame.
    let mut torn = Vec::new();
    encode_into(&run.records[half], &mut torn);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("reopen");
    std::io::Write::write_all(&mut f, &torn[..torn.len() / 2]).expect("write");
    drop(f);
    let opened = Journal::open(&path).expect("open torn");
    let t = opened.torn.expect("torn tail reported");
    assert_eq!(t.offset, good_len);
    assert_eq!(opened.records.len(), half);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        good_bytes,
        "exactly the torn frame is cut"
    );
    // The recovered state is the run's at that record; then the rest of
    // the run's records are appended, the journal is compacted to a
    // snapshot, and the file alone recovers the final state.
    let mut j = opened.journal;
    let c = recover(&opened.records);
    assert_eq!(Some(&hashed(&c)), run.boundaries.get(&half));
    for r in &run.records[half..] {
        j.append(r);
    }
    j.commit().expect("commit");
    let c = recover(&run.records);
    let before = j.len();
    j.compact(&c.snapshot()).expect("compact");
    assert!(j.len() < before, "compaction shrinks the journal");
    drop(j);
    let opened = Journal::open(&path).expect("open compacted");
    assert!(opened.torn.is_none());
    assert_eq!(opened.records.len(), 1);
    let c2 = recover(&opened.records);
    assert_eq!(fingerprint(&c2), (run.report.clone(), run.state.clone()));
}

#[test]
fn garbage_journal_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.journal");
    let garbage = b"\xff\xff\xff\xffthis is not a journal at all";
    std::fs::write(&path, garbage).expect("write");
    assert!(matches!(
        Journal::open(&path),
        Err(hivemind_controller::journal::JournalError::Foreign { .. })
    ));
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "left untouched"
    );
    // Records without a genesis are refused too.
    let run = reference();
    assert!(Controller::recover(Micros::ZERO, run.records[1..3].to_vec()).is_err());
}

/// One flipped bit in the genesis record of a real run's journal: refused,
/// nothing deleted (it used to truncate all records to 0 bytes).
#[test]
fn a_flipped_bit_in_the_genesis_deletes_nothing() {
    let run = reference();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("controller.journal");
    {
        let mut j = Journal::create(&path, [1; 32]).expect("create");
        for r in &run.records {
            j.append(r);
        }
        j.commit().expect("commit");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    let at = hivemind_controller::journal::FILE_HEADER_BYTES + 100;
    bytes[at] ^= 0x08;
    std::fs::write(&path, &bytes).expect("write");
    let e = Journal::open(&path).err().expect("refused");
    assert!(e.to_string().contains("left untouched"), "{e}");
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
    let copy = Journal::repair(&path).expect("repair");
    assert_eq!(std::fs::read(copy).expect("copy"), bytes);
}

/// Recovery refuses start records that do not hold together instead of
/// panicking later: a graph of an unknown schema version, a plan missing a
/// task, a snapshot whose state names tasks or areas the graph lacks.
#[test]
fn recovery_validates_what_it_starts_from() {
    let run = reference();
    let Record::Genesis(g) = &run.records[0] else {
        panic!("genesis first");
    };
    let mut newer = g.clone();
    newer.graph.schema_version = 999;
    assert!(Controller::recover(Micros::ZERO, vec![Record::Genesis(newer)]).is_err());
    let mut short = g.clone();
    short.plan.tasks.pop();
    assert!(Controller::recover(Micros::ZERO, vec![Record::Genesis(short)]).is_err());

    let c = recover(&run.records);
    let Record::Snapshot(s) = c.snapshot() else {
        panic!("snapshot");
    };
    let mut lacking = s.clone();
    lacking.state.plan.tasks.pop();
    assert!(Controller::recover(Micros::ZERO, vec![Record::Snapshot(lacking)]).is_err());
    let mut no_kinds = s.clone();
    no_kinds.state.kinds.pop();
    assert!(Controller::recover(Micros::ZERO, vec![Record::Snapshot(no_kinds)]).is_err());
    let mut no_areas = s.clone();
    no_areas.state.graph.areas.clear();
    assert!(Controller::recover(Micros::ZERO, vec![Record::Snapshot(no_areas)]).is_err());
    // The untouched snapshot recovers.
    assert!(Controller::recover(Micros::ZERO, vec![Record::Snapshot(s)]).is_ok());
}
