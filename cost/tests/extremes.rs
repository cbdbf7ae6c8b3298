//! Issue #16: arithmetic that cannot lie. Missions with values at the
//! extremes of every input range (and, written straight into the IR, beyond
//! what the checker accepts: u64::MAX, 2⁶³) go through the cost model, and
//! its verdicts ("met", "within capacity", "feasible") are compared with an
//! independent computation in checked `u128` arithmetic here: no wrap, no
//! panic (the tests run in debug, where overflow panics), and "met" only
//! when the exact value is within the bound.

use hivemind_cost::{CostModel, Profile, Total};
use hivemind_ir::activation::max_items;
use hivemind_ir::plan::Modality;
use hivemind_ir::{Sat, TaskGraph, Trigger, Work};
use proptest::prelude::*;

const HOUR_US: u128 = 3_600_000_000;
const TOO_LARGE: u128 = u64::MAX as u128;

/// One fleet of cars, no cloud: every task on the edge, every transfer
/// device-local, so the path latency is the sum of the three runs.
fn mission(items: u32) -> TaskGraph {
    let src = format!(
        "mission extremes {{
  duration 10 min
  fleet cars: car x 1 {{
    cpu 1 GHz x 1
    battery 5000 mAh @ 7.4 V
    radio 40 Mbit/s
    power 4 W
    sensors lidar
  }}

  task scan on cars -> pts: list<point 1 B> x {items} {{ every 1 s; needs lidar; work 1 op }}
  task crunch(pts) -> out: list<point 1 B> x {items} {{ work 1 op per item }}
  task report(out) {{ work 1 op per item }}

  require latency(scan -> report) < 1 s
  require latency(scan -> crunch) p99 < 1 s
  require battery(cars) >= 30%
}}"
    );
    let compiled = hivemind_dsl::compile(&src, "extremes.hm");
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    compiled.graph.expect("graph")
}

/// The inputs a case sets in the IR.
#[derive(Debug, Clone)]
struct Case {
    items: u32,
    work: [(u64, bool); 3],
    count: u32,
    cores: u32,
    cpu_hz: u64,
    power_mw: u64,
    battery_uj: u64,
    period_us: u64,
    duration_us: u64,
    latency_bound_us: [u64; 2],
}

fn build(case: &Case) -> TaskGraph {
    let mut g = mission(case.items);
    for (t, &(ops, per_item)) in g.tasks.iter_mut().zip(&case.work) {
        t.work = Some(Work { ops, per_item });
    }
    g.tasks[0].trigger = Trigger::Periodic {
        period_us: case.period_us,
    };
    let f = &mut g.fleets[0];
    f.count = case.count;
    f.cores = case.cores;
    f.cpu_hz = case.cpu_hz;
    f.cpu_power_mw = Some(case.power_mw);
    f.battery_uj = case.battery_uj;
    g.duration_us = case.duration_us;
    for (r, &bound) in g.requirements.iter_mut().zip(&case.latency_bound_us) {
        if let hivemind_ir::RequirementKind::Latency { bound_us, .. } = &mut r.kind {
            *bound_us = bound;
        }
    }
    g
}

/// The verdicts, computed independently in checked u128 (`None`: beyond
/// u128, certainly too large).
#[derive(Debug, PartialEq, Eq)]
struct Verdicts {
    latency_met: bool,
    p99_met: bool,
    battery_met: bool,
    within_capacity: bool,
    energy_fits: bool,
    latency_fits: bool,
}

fn exact(model: &CostModel, case: &Case) -> Verdicts {
    let g = model.graph;
    let profile = Profile::default();
    let class = profile.class(g.fleets[0].class);
    let ops_per_s =
        (u128::from(case.cpu_hz) * u128::from(class.ops_per_cycle_milli) / 1_000).max(1);
    // Run time of one instance of each task.
    let us: Vec<Option<u128>> = g
        .tasks
        .iter()
        .map(|t| {
            let w = t.work.expect("work");
            let items =
                u128::from(max_items(t)).checked_mul(model.rates[t.id.index()].batch.max(1))?;
            let ops = if w.per_item {
                u128::from(w.ops).checked_mul(items)?
            } else {
                u128::from(w.ops)
            };
            Some(ops.checked_mul(1_000_000)? / ops_per_s)
        })
        .collect();
    // A source the controller starts: its start command reaches the car
    // after the timer's journal commit and the link's latency. The car
    // fires this one by itself, on grants sent ahead: no command.
    let fired = hivemind_ir::activation::fired_on_device(model.graph)[0];
    let start = if fired {
        0
    } else {
        u128::from(profile.runtime.journal_commit_us)
            + u128::from(
                model
                    .device_figures(hivemind_ir::FleetId(0))
                    .link_latency_us,
            )
    };
    let sum = |xs: &[Option<u128>]| xs.iter().try_fold(start, |a, x| a.checked_add((*x)?));
    let mean_report = sum(&us);
    let mean_crunch = sum(&us[..2]);
    let tail = |mean: Option<u128>, factor: u64| {
        mean?
            .checked_mul(u128::from(factor))
            .map(|v| v.div_ceil(1_000))
    };
    // A requirement's value is an i64 of its unit (signed for reserves):
    // beyond 2⁶³ − 1 it is too large, whatever the bound.
    let below = |v: Option<u128>, bound: u64| {
        v.is_some_and(|v| v <= i64::MAX as u128 && v < u128::from(bound))
    };
    let factor = |r: usize| match g.requirements[r].kind {
        hivemind_ir::RequirementKind::Latency { percentile_bp, .. } => {
            profile.tail.factor(percentile_bp)
        }
        _ => unreachable!("latency requirement"),
    };
    let latency_met = below(tail(mean_report, factor(0)), case.latency_bound_us[0]);
    let p99_met = below(tail(mean_crunch, factor(1)), case.latency_bound_us[1]);
    // CPU: busy time per hour against every core of every device.
    let busy = g.tasks.iter().zip(&us).try_fold(0u128, |a, (t, us)| {
        a.checked_add((*us)?.checked_mul(model.rates[t.id.index()].instances_per_hour())?)
    });
    let cap = u128::from(case.count) * u128::from(case.cores) * HOUR_US;
    let within_capacity = busy.is_some_and(|b| b < TOO_LARGE && b * 1_000 / cap <= 1_000);
    // Energy: every run at the CPU's power. No behaviour moves the cars,
    // so they are parked: no motion energy (`coverage::moving_us`).
    let motion = 0u128;
    let energy = g.tasks.iter().zip(&us).try_fold(motion, |a, (t, us)| {
        let per_mission = (*us)?
            .checked_mul(model.rates[t.id.index()].instances_per_mission())?
            .checked_mul(u128::from(case.power_mw))?
            / 1_000;
        a.checked_add(per_mission)
    });
    let energy_fits = energy.is_some_and(|e| e < TOO_LARGE);
    let battery = u128::from(case.battery_uj) * u128::from(case.count);
    let battery_met = match energy {
        Some(e) if energy_fits && battery > 0 => {
            let reserve = (battery as i128 - e as i128) * 10_000 / battery as i128;
            reserve >= 3_000
        }
        _ => false,
    };
    let latency_fits = mean_report
        .zip(mean_crunch)
        .and_then(|(a, b)| a.checked_add(b))
        .is_some_and(|l| l < TOO_LARGE);
    Verdicts {
        latency_met,
        p99_met,
        battery_met,
        within_capacity,
        energy_fits,
        latency_fits,
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let g = build(case);
    let model = CostModel::new(&g, Profile::default()).expect("model");
    let e = model.evaluate(&[Modality::Edge; 3]);
    let want = exact(&model, case);
    let overflow = e.overflow();
    let got = Verdicts {
        latency_met: e.requirements[0].met,
        p99_met: e.requirements[1].met,
        battery_met: e.requirements[2].met,
        within_capacity: e.within_capacity(),
        energy_fits: !overflow.contains(&Total::Energy)
            && !overflow.contains(&Total::FleetEnergy(0)),
        latency_fits: !overflow.contains(&Total::Latency),
    };
    prop_assert_eq!(&got, &want, "{:?}\n{:?}", case, e);
    let feasible = want.latency_met
        && want.p99_met
        && want.battery_met
        && want.within_capacity
        && want.energy_fits
        && want.latency_fits;
    prop_assert_eq!(e.feasible(), feasible);
    // A met requirement's value is a real number within its bound.
    for r in &e.requirements {
        prop_assert!(!r.met || r.predicted.is_some(), "{:?}", r);
    }
    // The plan's predictions agree with the evaluation (no other path wraps).
    let plan = hivemind_cost::plan_for(
        &model,
        &[Modality::Edge; 3],
        hivemind_ir::plan::Strategy::Manual,
    );
    for (o, r) in plan.predicted.requirements.iter().zip(&e.requirements) {
        prop_assert_eq!(o.met, r.met);
        prop_assert_eq!(o.too_large, r.predicted.is_none());
    }
    prop_assert_eq!(plan.predicted.energy_uj, e.energy_uj);
    Ok(())
}

/// Values at both ends of a range and in between.
fn extreme(lo: u64, hi: u64, special: Vec<u64>) -> impl Strategy<Value = u64> + Clone {
    let mut picks: Vec<BoxedStrategy<u64>> =
        vec![Just(lo).boxed(), Just(hi).boxed(), (lo..=hi).boxed()];
    picks.extend(special.into_iter().map(|v| Just(v).boxed()));
    proptest::strategy::Union::new(picks)
}

const WORK: [u64; 5] = [
    1 << 41,
    1 << 44,
    1 << 63,
    u64::MAX,
    1_000_000_000_000_000_000,
];

fn case() -> impl Strategy<Value = Case> {
    let work = || (extreme(1, u64::MAX, WORK.to_vec()), any::<bool>());
    (
        (
            extreme(1, 1_000_000, vec![524_288]),
            [work(), work(), work()],
            extreme(1, 100_000, vec![u64::from(u32::MAX)]),
            extreme(1, 1_024, vec![u64::from(u32::MAX)]),
            extreme(1_000_000, 10_000_000_000, vec![u64::MAX]),
        ),
        (
            extreme(1, 10_000_000, vec![u64::MAX]),
            extreme(1, 3_600_000_000_000_000, vec![u64::MAX]),
            extreme(1_000, 86_400_000_000, vec![1]),
            extreme(1_000_000, 604_800_000_000, vec![1 << 63, u64::MAX]),
            [
                extreme(1, 604_800_000_000, vec![u64::MAX]),
                extreme(1, 604_800_000_000, vec![1 << 63]),
            ],
        ),
    )
        .prop_map(
            |(
                (items, work, count, cores, cpu_hz),
                (power_mw, battery_uj, period_us, duration_us, latency_bound_us),
            )| Case {
                items: u32::try_from(items).unwrap_or(u32::MAX),
                work,
                count: u32::try_from(count).unwrap_or(u32::MAX),
                cores: u32::try_from(cores).unwrap_or(u32::MAX),
                cpu_hz,
                power_mw,
                battery_uj,
                period_us,
                duration_us,
                latency_bound_us,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn verdicts_match_exact_arithmetic_at_the_extremes(case in case()) {
        check(&case)?;
    }
}

/// The first example: a car at 1 MHz, 2⁴¹ op per item on 524,288
/// items per second: 225·2⁶⁴ µs of CPU per hour, once wrapped to 0.
#[test]
fn busy_time_beyond_64_bits_is_over_capacity() {
    let case = Case {
        items: 524_288,
        work: [(1, false), (1 << 41, true), (1, false)],
        count: 1,
        cores: 1,
        cpu_hz: 1_000_000,
        power_mw: 4_000,
        battery_uj: 133_200_000_000,
        period_us: 1_000_000,
        duration_us: 600_000_000,
        latency_bound_us: [604_800_000_000; 2],
    };
    let g = build(&case);
    let model = CostModel::new(&g, Profile::default()).expect("model");
    let e = model.evaluate(&[Modality::Edge; 3]);
    assert!(e.fleet_busy_permille[0].is_too_large() && !e.within_capacity());
    assert!(!e.feasible());
    check(&case).expect("exact");
}

/// The second example: two runs of 2⁶³ µs make a 2⁶⁴ µs path that
/// once wrapped to "0 µs", and its p99 tail to a negative latency.
#[test]
fn path_beyond_64_bits_is_never_met() {
    let case = Case {
        items: 524_288,
        work: [(1, false), (1 << 44, true), (1 << 44, true)],
        count: 1,
        cores: 1,
        cpu_hz: 1_000_000,
        power_mw: 4_000,
        battery_uj: 133_200_000_000,
        period_us: 1_800_000_000,
        duration_us: 600_000_000,
        latency_bound_us: [1_000_000; 2],
    };
    let g = build(&case);
    let model = CostModel::new(&g, Profile::default()).expect("model");
    let e = model.evaluate(&[Modality::Edge; 3]);
    for r in &e.requirements[..2] {
        assert_eq!(r.predicted, None, "{r:?}");
        assert!(!r.met);
    }
    assert!(e.latency_us.is_too_large() && e.overflow().contains(&Total::Latency));
    check(&case).expect("exact");
}

#[test]
fn sat_never_claims_an_exact_value_it_lost() {
    assert_eq!(hivemind_cost::tail(Sat::new(1 << 63), 1_500).to_i64(), None);
    assert_eq!(
        hivemind_cost::tail(Sat::new(1 << 62), 1_000).to_i64(),
        Some(1 << 62)
    );
    assert_eq!(hivemind_cost::reserve_bp(1, Sat::new(1 << 63)), None);
    assert_eq!(hivemind_cost::reserve_bp(10, Sat::new(5)), Some(5_000));
    assert_eq!(hivemind_cost::reserve_bp(1, Sat::TOO_LARGE), None);
    assert!(hivemind_cost::permille(Sat::new(1), 0).is_too_large());
    assert_eq!(
        hivemind_cost::permille(Sat::new(u64::MAX - 1), u128::MAX),
        Sat::ZERO
    );
}
