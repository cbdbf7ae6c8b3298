//! `hivemind bench synth`: the placement synthesizer on generated missions:
//! the project's generator (easy: the bounds prove most of them), then the
//! families whose constraints bind (`hivemind_synth::bench`), each row
//! beside greedy alone and the naive one-shot z3 encoding, measured in the
//! same run. This file only prints; the measuring lives in the synth crate.

use anyhow::{anyhow, Result};
use hivemind_cost::{CostModel, Profile};
use hivemind_dsl::synthetic::{placement_mission, placement_mission_with_budget};
use hivemind_synth::bench::{measure as measure_family, Family, Row as FamilyRow};
use hivemind_synth::{objective_values, search, synthesize, Options, Status};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One generated mission to synthesize.
struct Case {
    group: &'static str,
    tasks: usize,
    seed: u64,
    /// Cloud budget in $/h; `None`: the generator's default, which an
    /// all-cloud placement meets.
    budget: Option<u64>,
}

#[derive(serde::Serialize)]
struct Row {
    group: &'static str,
    tasks: usize,
    seed: u64,
    budget_usd_per_hour: Option<u64>,
    /// None: no plan within the time limit.
    status: Option<Status>,
    /// Until the stated objectives were proven optimal (None if they were not).
    proven_seconds: Option<f64>,
    /// Stated objectives proven by the lower bounds alone, without search.
    proven_by_bound: usize,
    /// When not proven: the optimality gap of the first unproven objective, %.
    gap_percent: Option<f64>,
    /// Including tie-breaking, baselines and reporting.
    seconds: f64,
    greedy_seconds: f64,
    greedy_feasible: bool,
    /// Greedy's first objective above the proven optimum, in percent (None if
    /// greedy is infeasible or nothing was proven).
    greedy_gap_percent: Option<f64>,
    oracle_seconds: Option<f64>,
}

const TARGETS: [(usize, f64, &str); 3] = [
    (50, 1.0, "proven optimal < 1 s"),
    (200, 10.0, "proven optimal < 10 s"),
    (1_000, 10.0, "a feasible plan < 10 s"),
];

fn cases(extra: &[usize]) -> Vec<Case> {
    let main = |tasks| Case {
        group: "main",
        tasks,
        seed: 7,
        budget: None,
    };
    let mut cases: Vec<Case> = [10, 12, 50, 200, 1_000].into_iter().map(main).collect();
    cases.extend(extra.iter().map(|&n| main(n)));
    // The same shape with other seeds: is seed 7 typical?
    cases.extend((1..=5).map(|seed| Case {
        group: "seeds",
        tasks: 200,
        seed,
        budget: None,
    }));
    // Budgets below the all-cloud cost (about $4.5/h at 200 tasks): the
    // bounds are no longer tight and z3 must search.
    cases.extend([4, 3].map(|usd| Case {
        group: "budget",
        tasks: 200,
        seed: 7,
        budget: Some(usd),
    }));
    cases
}

fn measure(c: &Case, options: &Options) -> Result<Row> {
    let n = c.tasks;
    let src = match c.budget {
        Some(usd) => placement_mission_with_budget(n, c.seed, usd),
        None => placement_mission(n, c.seed),
    };
    if let Ok(dir) = std::env::var("HIVEMIND_BENCH_DUMP") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("placement_{}_{n}_{}.hm", c.group, c.seed)),
            &src,
        )?;
    }
    let graph = hivemind_dsl::compile(&src, "bench.hm")
        .graph
        .ok_or_else(|| anyhow!("generated mission does not compile"))?;
    let model = CostModel::new(&graph, Profile::default())?;
    let t = Instant::now();
    let greedy = search::greedy_within(&model, Some(Instant::now() + Duration::from_millis(2_500)));
    let greedy_seconds = t.elapsed().as_secs_f64();
    let oracle_seconds = (n <= 12).then(|| {
        let t = Instant::now();
        let _ = search::exhaustive(&model, 10_000_000);
        t.elapsed().as_secs_f64()
    });
    eprintln!("synthesizing {} {n} tasks, seed {} ...", c.group, c.seed);
    let t = Instant::now();
    let out = synthesize(&graph, Profile::default(), options).ok();
    let seconds = t.elapsed().as_secs_f64();
    let plan = out.as_ref().and_then(|o| o.plan.as_ref());
    let proven = out.as_ref().is_some_and(|o| o.status == Status::Optimal);
    let greedy_feasible = greedy.as_ref().is_some_and(|(_, e)| e.feasible());
    let gap = match (plan, &greedy) {
        (Some(p), Some((_, ge))) if ge.feasible() && proven => {
            // Feasible plans' objectives are exact (never too large).
            let opt = objective_values(&model, p)[0].saturated() as f64;
            let g = model.objective_vector(ge)[0].saturated() as f64;
            Some(if opt > 0.0 {
                (g - opt) / opt * 100.0
            } else {
                0.0
            })
        }
        _ => None,
    };
    Ok(Row {
        group: c.group,
        tasks: graph.tasks.len(),
        seed: c.seed,
        budget_usd_per_hour: c.budget,
        status: out.as_ref().map(|o| o.status),
        proven_seconds: out
            .as_ref()
            .and_then(|o| o.proven_ms)
            .map(|ms| ms as f64 / 1e3),
        proven_by_bound: out.as_ref().map_or(0, |o| o.proven_by_bound),
        gap_percent: out
            .as_ref()
            .and_then(|o| o.gap.as_ref())
            .map(|g| g.percent()),
        seconds,
        greedy_seconds,
        greedy_feasible,
        greedy_gap_percent: gap,
        oracle_seconds,
    })
}

/// Sizes of the binding families.
const FAMILY_SIZES: [usize; 3] = [50, 200, 1_000];

pub fn run(
    json: bool,
    extra: &[usize],
    timeout: Duration,
    seeds: u64,
    memory_mib: Option<u64>,
) -> Result<ExitCode> {
    let options = Options {
        timeout,
        memory_mib,
        ..Options::default()
    };
    let rows = cases(extra)
        .iter()
        .map(|c| measure(c, &options))
        .collect::<Result<Vec<Row>>>()?;
    let mut families: Vec<FamilyRow> = Vec::new();
    for family in Family::ALL {
        for n in FAMILY_SIZES {
            for seed in 1..=seeds {
                eprintln!("synthesizing {} {n} tasks, seed {seed} ...", family.name());
                families.push(measure_family(family, n, seed, &options, true)?);
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "timeout_seconds": timeout.as_secs_f64(),
                "memory_mib": memory_mib,
                "generator": rows,
                "families": families,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Placement synthesis (greedy, bounds, neighbourhood search and z3's lexicographic optimum; timeout {:.1} s, memory cap {}; {} build; wall-clock figures depend on the CPU this process got)",
        timeout.as_secs_f64(),
        memory_mib.map_or("none".into(), |m| format!("{m} MiB")),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "{:>7} {:>6} {:>5} {:>7} {:>16} {:>9} {:>6} {:>8} {:>9} {:>11} {:>9}",
        "group",
        "tasks",
        "seed",
        "budget",
        "status",
        "proven s",
        "bound",
        "total s",
        "greedy s",
        "greedy gap",
        "oracle s"
    );
    for r in &rows {
        println!(
            "{:>7} {:>6} {:>5} {:>7} {:>16} {:>9} {:>6} {:>8.3} {:>9.4} {:>11} {:>9}",
            r.group,
            r.tasks,
            r.seed,
            r.budget_usd_per_hour
                .map_or("-".into(), |b| format!("${b}/h")),
            match (r.status, r.gap_percent) {
                (None, _) => "no plan in time".to_string(),
                (Some(s), None) => format!("{s:?}"),
                (Some(s), Some(g)) => format!("{s:?} ≤{g:.1}%"),
            },
            r.proven_seconds.map_or("-".into(), |s| format!("{s:.3}")),
            r.proven_by_bound,
            r.seconds,
            r.greedy_seconds,
            match (r.greedy_gap_percent, r.greedy_feasible) {
                (Some(g), _) => format!("{g:+.2}%"),
                (None, false) => "infeasible".into(),
                (None, true) => "n/a".into(),
            },
            r.oracle_seconds.map_or("-".into(), |s| format!("{s:.3}")),
        );
    }
    println!("(bound: stated objectives proven by the lower bounds alone, without z3 search; ≤x%: optimality gap of a plan not proven optimal)");
    for (n, limit, what) in TARGETS {
        if let Some(r) = rows.iter().find(|r| r.group == "main" && r.tasks == n) {
            let time = if n >= 1_000 {
                Some(r.seconds)
            } else {
                r.proven_seconds
            };
            let ok = time.is_some_and(|t| t < limit)
                && matches!(r.status, Some(Status::Optimal | Status::Feasible));
            println!(
                "{n} tasks: {what}: {} ({}, {:?})",
                if ok { "meets" } else { "MISSES" },
                time.map_or("-".into(), |t| format!("{t:.2} s")),
                r.status
            );
        }
    }
    let seeds: Vec<&Row> = rows.iter().filter(|r| r.group == "seeds").collect();
    let proven: Vec<f64> = seeds.iter().filter_map(|r| r.proven_seconds).collect();
    println!(
        "200 tasks over {} more seeds: {} proven optimal, slowest proof {}",
        seeds.len(),
        proven.len(),
        proven
            .iter()
            .copied()
            .reduce(f64::max)
            .map_or("-".into(), |s| format!("{s:.2} s"))
    );
    print_families(&families, timeout);
    let main = |n| rows.iter().find(|r| r.group == "main" && r.tasks == n);
    if let (Some(a), Some(b)) = (main(10), main(12)) {
        if let (Some(oa), Some(ob)) = (a.oracle_seconds, b.oracle_seconds) {
            println!(
                "oracle 12 vs 10 tasks: {:.1}x (3^2 = 9x expected); z3 vs oracle at 12 tasks: {:.1}x faster",
                ob / oa.max(1e-9),
                ob / b.seconds.max(1e-9)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(p: Option<f64>) -> String {
    p.map_or("-".into(), |g| format!("{g:+.1}%"))
}

/// The binding families' table and how each size meets the targets.
fn print_families(rows: &[FamilyRow], timeout: Duration) {
    println!();
    println!("Families whose constraints bind (greedy/naive: their first objective against the synthesizer's plan; naive: one z3 Optimize over everything, same limits)");
    println!(
        "{:>8} {:>6} {:>5} {:>22} {:>9} {:>8} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}",
        "family",
        "tasks",
        "seed",
        "status",
        "stopped",
        "total s",
        "RSS MiB",
        "z3 worker",
        "greedy",
        "naive",
        "naive s",
        "naive RSS"
    );
    for r in rows {
        let status = match (r.status, r.gap_percent, r.gap_objective) {
            (None, _, _) => "no plan".to_string(),
            (Some(s), Some(g), Some(o)) => format!("{s:?} ≤{g:.2}% {o:?}").to_lowercase(),
            (Some(s), _, _) => format!("{s:?}").to_lowercase(),
        };
        let naive = r.naive.as_ref();
        println!(
            "{:>8} {:>6} {:>5} {:>22} {:>9} {:>8.2} {:>8} {:>10} {:>11} {:>12} {:>9} {:>9}",
            r.family.name(),
            r.tasks,
            r.seed,
            status,
            r.stopped
                .map_or("-".into(), |s| format!("{s:?}").to_lowercase()),
            r.seconds,
            r.peak_rss_mib,
            r.worker_peak_rss_mib,
            if r.greedy_feasible {
                percent(r.greedy_excess_percent)
            } else {
                "infeasible".into()
            },
            match naive {
                None => "-".to_string(),
                Some(n) => match r.naive_excess_percent {
                    Some(p) => format!("{:?} {p:+.1}%", n.status).to_lowercase(),
                    None => format!("{:?}", n.status).to_lowercase(),
                },
            },
            naive.map_or("-".into(), |n| format!("{:.2}", n.seconds)),
            naive.map_or("-".into(), |n| n.peak_rss_mib.to_string()),
        );
    }
    let limit = timeout.as_secs_f64() + 1.0;
    let late = rows.iter().filter(|r| r.seconds > limit).count();
    let naive_late = rows
        .iter()
        .filter(|r| r.naive.as_ref().is_some_and(|n| n.seconds > limit))
        .count();
    println!(
        "deadline (timeout + 1 s = {limit:.1} s): {} of {} calls late (naive baseline: {naive_late} late)",
        late,
        rows.len()
    );
    let big = rows.iter().filter(|r| r.tasks >= 1_000);
    // The z3 worker's memory counts with the synthesizer's.
    let heaviest = big
        .clone()
        .map(|r| r.peak_rss_mib + r.worker_peak_rss_mib)
        .max();
    println!(
        "1,000 tasks under 1 GiB RSS (synthesizer + z3 worker): {} (largest {})",
        if heaviest.is_some_and(|m| m < 1_024) {
            "meets"
        } else {
            "MISSES"
        },
        heaviest.map_or("-".into(), |m| format!("{m} MiB"))
    );
    let proven_50 = rows.iter().filter(|r| r.tasks == 50);
    let (proven, total) = (
        proven_50
            .clone()
            .filter(|r| r.status == Some(Status::Optimal))
            .count(),
        proven_50.count(),
    );
    println!(
        "50 tasks proven optimal: {proven} of {total}: {}",
        if proven == total { "meets" } else { "MISSES" }
    );
    let within = |r: &&FamilyRow| {
        r.status == Some(Status::Optimal) || r.gap_percent.is_some_and(|g| g <= 1.0)
    };
    let at_200: Vec<&FamilyRow> = rows.iter().filter(|r| r.tasks == 200).collect();
    let ok_200 = at_200.iter().filter(|r| within(r)).count();
    println!(
        "200 tasks within 1% of the bound: {ok_200} of {}: {}",
        at_200.len(),
        if ok_200 == at_200.len() {
            "meets"
        } else {
            "MISSES"
        }
    );
    let at_1000: Vec<&FamilyRow> = rows.iter().filter(|r| r.tasks >= 1_000).collect();
    let planned = at_1000
        .iter()
        .filter(|r| matches!(r.status, Some(Status::Optimal | Status::Feasible)))
        .count();
    println!(
        "1,000 tasks with a feasible plan: {planned} of {}: {}",
        at_1000.len(),
        if planned == at_1000.len() {
            "meets"
        } else {
            "MISSES"
        }
    );
}
