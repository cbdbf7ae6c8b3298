//! `hivemind bench synth`: the placement synthesizer on generated missions.

use anyhow::{anyhow, Result};
use hivemind_dsl::cost::{CostModel, Profile};
use hivemind_dsl::synthetic::placement_mission;
use hivemind_synth::{objective_values, search, synthesize, Options, Status};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(serde::Serialize)]
struct Row {
    tasks: usize,
    /// None: no plan within the time limit.
    status: Option<Status>,
    /// Until the stated objectives were proven optimal (None if they were not).
    proven_seconds: Option<f64>,
    /// Including tie-breaking, baselines and reporting.
    seconds: f64,
    greedy_seconds: f64,
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

pub fn run(json: bool, extra: &[usize]) -> Result<ExitCode> {
    let mut sizes = vec![10, 12, 50, 200, 1_000];
    sizes.extend_from_slice(extra);
    let mut rows = Vec::new();
    for &n in &sizes {
        let src = placement_mission(n, 7);
        if let Ok(dir) = std::env::var("HIVEMIND_BENCH_DUMP") {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("placement_{n}.hm")),
                &src,
            )?;
        }
        let graph = hivemind_dsl::compile(&src, "bench.hm")
            .graph
            .ok_or_else(|| anyhow!("generated mission does not compile"))?;
        let model = CostModel::new(&graph, Profile::default())?;
        let t = Instant::now();
        let greedy =
            search::greedy_within(&model, Some(Instant::now() + Duration::from_millis(2_500)));
        let greedy_seconds = t.elapsed().as_secs_f64();
        let oracle_seconds = (n <= 12).then(|| {
            let t = Instant::now();
            let _ = search::exhaustive(&model, 10_000_000);
            t.elapsed().as_secs_f64()
        });
        eprintln!("synthesizing {n} tasks ...");
        let t = Instant::now();
        let out = synthesize(
            &graph,
            Profile::default(),
            &Options {
                timeout: Duration::from_secs(10),
                ..Options::default()
            },
        )
        .ok();
        let seconds = t.elapsed().as_secs_f64();
        let plan = out.as_ref().and_then(|o| o.plan.as_ref());
        let proven = out.as_ref().is_some_and(|o| o.status == Status::Optimal);
        let gap = match (plan, &greedy) {
            (Some(p), Some((_, ge))) if ge.feasible() && proven => {
                let opt = objective_values(&model, p)[0] as f64;
                let g = model.objective_vector(ge)[0] as f64;
                Some(if opt > 0.0 {
                    (g - opt) / opt * 100.0
                } else {
                    0.0
                })
            }
            _ => None,
        };
        let proven_seconds = out
            .as_ref()
            .and_then(|o| o.proven_ms)
            .map(|ms| ms as f64 / 1e3);
        rows.push(Row {
            tasks: graph.tasks.len(),
            status: out.map(|o| o.status),
            proven_seconds,
            seconds,
            greedy_seconds,
            greedy_gap_percent: gap,
            oracle_seconds,
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Placement synthesis (z3 lexicographic optimum: energy, then latency; timeout 10 s; {} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    println!(
        "{:>6} {:>16} {:>10} {:>10} {:>12} {:>14} {:>12}",
        "tasks", "status", "proven s", "total s", "greedy s", "greedy gap", "oracle s"
    );
    for r in &rows {
        println!(
            "{:>6} {:>16} {:>10} {:>10.3} {:>12.4} {:>14} {:>12}",
            r.tasks,
            r.status
                .map_or("no plan in time".to_string(), |s| format!("{s:?}")),
            r.proven_seconds.map_or("-".into(), |s| format!("{s:.3}")),
            r.seconds,
            r.greedy_seconds,
            r.greedy_gap_percent.map_or_else(
                || if r.status == Some(Status::Optimal) {
                    "infeasible".into()
                } else {
                    "n/a".into()
                },
                |g| format!("{g:+.2}%")
            ),
            r.oracle_seconds.map_or("-".into(), |s| format!("{s:.3}")),
        );
    }
    for (n, limit, what) in TARGETS {
        if let Some(r) = rows.iter().find(|r| r.tasks == n) {
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
    if let (Some(a), Some(b)) = (
        rows.iter().find(|r| r.tasks == 10),
        rows.iter().find(|r| r.tasks == 12),
    ) {
        if let (Some(oa), Some(ob)) = (a.oracle_seconds, b.oracle_seconds) {
            println!("oracle 12 vs 10 tasks: {:.1}x (3^2 = 9x expected); z3 vs oracle at 12 tasks: {:.1}x faster", ob / oa.max(1e-9), ob / b.seconds.max(1e-9));
        }
    }
    Ok(ExitCode::SUCCESS)
}
