//! Property tests over random fault scripts and event interleavings: seeds,
//! kills, revivals, disconnections, controller crashes (restarted from the
//! journal), slow devices and errors are generated;
//! the seed of every case is in its failure message (proptest also prints
//! the minimal failing input).

#[path = "support/common.rs"]
mod common;

use common::*;
use hivemind_controller::{DeviceId, Micros, Phase};
use hivemind_sim::WorldConfig;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Fault {
    Kill(u32, u64),
    Revive(u32, u64),
    Cut(u32, u64, u64),
    Crash(u64),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0u32..6, 500u64..8_000).prop_map(|(d, t)| Fault::Kill(d, t)),
        (0u32..6, 500u64..9_000).prop_map(|(d, t)| Fault::Revive(d, t)),
        (0u32..6, 500u64..8_000, 500u64..6_000).prop_map(|(d, t, l)| Fault::Cut(d, t, l)),
        (500u64..9_000).prop_map(Fault::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// No instance lost or completed twice; every accepted instance is
    /// completed or failed with a reason; cover strips always partition the
    /// area (checked after every simulated second).
    #[test]
    fn faults_never_lose_or_duplicate_work(
        seed in any::<u64>(),
        faults in proptest::collection::vec(fault(), 0..8),
        slow in proptest::option::of((0u32..6, 2u64..30)),
        error_permille in 0u32..150,
    ) {
        let cfg = WorldConfig {
            seed,
            error_permille,
            keep_journal: true,
            slow: slow.map(|(d, f)| vec![(DeviceId(d), f)]).unwrap_or_default(),
            ..WorldConfig::default()
        };
        let mut w = world(survey(6), cfg);
        for f in &faults {
            match *f {
                Fault::Kill(d, t) => w.kill(Micros::from_millis(t), DeviceId(d)),
                Fault::Revive(d, t) => w.revive(Micros::from_millis(t), DeviceId(d)),
                Fault::Cut(d, t, l) => w.disconnect(Micros::from_millis(t), Micros::from_millis(t + l), DeviceId(d)),
                Fault::Crash(t) => w.crash(Micros::from_millis(t)),
            }
        }
        w.stop_at(Micros::from_secs(9));
        for s in 1..=9 {
            w.run_until(Micros::from_secs(s));
            assert_cover_partition(w.ctl.state(), seed);
        }
        // Enough time for the drain timeout to resolve anything stuck.
        w.run_to_end(Micros::from_secs(200));
        let phase = w.ctl.state().phase.clone();
        prop_assert_eq!(phase, Phase::Finished, "seed {} faults {:?}", seed, faults);
        assert_exactly_once(&w, seed);
        assert_cover_partition(w.ctl.state(), seed);
    }
}
