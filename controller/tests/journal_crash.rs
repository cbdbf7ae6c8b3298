//! Crash tests: the journal of a run is cut at every record boundary and at
//! random byte offsets (torn writes); the controller is recovered from what
//! survives and fed the rest of the run's inputs (their senders retry what
//! was not acknowledged). The final report and state must equal the
//! uncrashed run's.

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::journal::Journal;
use hivemind_controller::record::{decode_all, encode_into, DecodeError};
use hivemind_controller::rng::Rng;
use hivemind_controller::testkit::WorldConfig;
use hivemind_controller::{Controller, DeviceId, Effect, Micros, Record, Timer};

struct Run {
    records: Vec<Record>,
    report: String,
    state: String,
}

fn fingerprint(c: &Controller) -> (String, String) {
    (
        serde_json::to_string(&c.report()).unwrap_or_default(),
        serde_json::to_string(&c.snapshot()).unwrap_or_default(),
    )
}

/// A short run with a failure, a straggler, errors and a flapping device.
fn reference() -> Run {
    let cfg = WorldConfig {
        seed: 9,
        keep_journal: true,
        error_permille: 30,
        slow: vec![(DeviceId(2), 8)],
        ..WorldConfig::default()
    };
    let mut w = world(survey(3), cfg);
    w.kill(Micros::from_millis(1_500), DeviceId(1));
    w.disconnect(
        Micros::from_millis(500),
        Micros::from_millis(4_200),
        DeviceId(0),
    );
    w.stop_at(Micros::from_secs(5));
    w.run_to_end(Micros::from_secs(100));
    assert_eq!(w.ctl.state().phase, hivemind_controller::Phase::Finished);
    let (report, state) = fingerprint(&w.ctl);
    Run {
        records: w.journal.clone(),
        report,
        state,
    }
}

/// Recover from `durable`, then handle the inputs of `rest`.
fn resume(durable: Vec<Record>, rest: &[Record]) -> Controller {
    let mut c = Controller::recover(durable).expect("recoverable");
    c.drain_effects().for_each(drop);
    for r in rest {
        if let Record::Event { at, event } = r {
            c.handle(*at, event.clone());
            c.drain_effects().for_each(drop);
        }
    }
    c
}

#[test]
fn crash_at_every_record_boundary() {
    let run = reference();
    let n = run.records.len();
    assert!(n > 100, "{n} records");
    for k in 1..=n {
        let c = resume(run.records[..k].to_vec(), &run.records[k..]);
        let (report, state) = fingerprint(&c);
        assert_eq!(report, run.report, "crash after record {k} of {n}");
        assert_eq!(state, run.state, "crash after record {k} of {n}");
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
                Controller::recover(d.records).is_err(),
                "nothing to recover from"
            );
            continue;
        }
        let c = resume(d.records, &run.records[whole..]);
        assert_eq!(
            fingerprint(&c),
            (run.report.clone(), run.state.clone()),
            "cut at {cut}"
        );
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
        let at_k = resume(run.records[..k].to_vec(), &[]);
        // A journal compacted to one snapshot, then the rest of the run.
        let mut compacted = vec![at_k.snapshot()];
        compacted.extend(run.records[k..].iter().cloned());
        let c = resume(compacted, &[]);
        assert_eq!(
            fingerprint(&c),
            (run.report.clone(), run.state.clone()),
            "snapshot at {k}"
        );
    }
}

/// The recovered controller re-arms its timers and re-sends live attempts.
#[test]
fn recovery_resyncs_timers_and_live_attempts() {
    let run = reference();
    let k = run.records.len() / 3;
    let mut c = Controller::recover(run.records[..k].to_vec()).expect("recoverable");
    let effects: Vec<Effect> = c.drain_effects().collect();
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            timer: Timer::Tick,
            ..
        }
    )));
    let live: usize = c
        .state()
        .instances
        .values()
        .map(|i| i.attempts.iter().filter(|a| a.live).count())
        .sum();
    let resent = effects
        .iter()
        .filter(|e| matches!(e, Effect::SendTask { .. } | Effect::Invoke { .. }))
        .count();
    assert_eq!(live, resent);
    assert!(effects
        .iter()
        .all(|e| !matches!(e, Effect::WriteJournal(_))));
}

/// Every `handle` emits the event's journal record before anything else, so
/// no acknowledgement can leave before the record is durable.
#[test]
fn journal_record_precedes_every_effect() {
    let run = reference();
    let mut c = Controller::recover(run.records[..1].to_vec()).expect("genesis");
    c.drain_effects().for_each(drop);
    for r in &run.records[1..] {
        let Record::Event { at, event } = r else {
            continue;
        };
        c.handle(*at, event.clone());
        let first = c.poll_effect();
        assert!(
            matches!(&first, Some(Effect::WriteJournal(Record::Event { event: e, .. })) if e == event),
            "{first:?}"
        );
        assert!(c
            .drain_effects()
            .all(|e| !matches!(e, Effect::WriteJournal(_))));
    }
}

#[test]
fn journal_file_truncates_torn_tail_and_compacts() {
    let run = reference();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("controller.journal");
    let half = run.records.len() / 2;
    {
        let mut j = Journal::open(&path).expect("open").journal;
        for r in &run.records[..half] {
            j.append(r);
        }
        assert_eq!(j.commit().expect("commit"), half as u64);
    }
    let good_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
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
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        good_len,
        "truncated"
    );
    // Continue, then compact to a snapshot and recover from the file alone.
    let mut j = opened.journal;
    let mut c = Controller::recover(opened.records).expect("recover");
    c.drain_effects().for_each(drop);
    for r in &run.records[half..] {
        let Record::Event { at, event } = r else {
            continue;
        };
        c.handle(*at, event.clone());
        for e in c.drain_effects() {
            if let Effect::WriteJournal(r) = e {
                j.append(&r);
            }
        }
        j.commit().expect("commit");
    }
    let before = j.len();
    j.compact(&c.snapshot()).expect("compact");
    assert!(j.len() < before, "compaction shrinks the journal");
    drop(j);
    let opened = Journal::open(&path).expect("open compacted");
    assert!(opened.torn.is_none());
    assert_eq!(opened.records.len(), 1);
    let c2 = Controller::recover(opened.records).expect("recover compacted");
    assert_eq!(fingerprint(&c2), (run.report.clone(), run.state.clone()));
}

#[test]
fn garbage_journal_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.journal");
    std::fs::write(&path, b"\xff\xff\xff\xffthis is not a journal at all").expect("write");
    let opened = Journal::open(&path).expect("open");
    assert!(opened.records.is_empty());
    assert!(matches!(
        opened.torn.map(|t| t.error),
        Some(DecodeError::TooLarge { .. })
    ));
    assert!(Controller::recover(opened.records).is_err());
    // Events without a genesis are refused too.
    let run = reference();
    assert!(Controller::recover(run.records[1..3].to_vec()).is_err());
}
