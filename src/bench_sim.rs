//! `hivemind bench sim`: the simulator's speed and memory from 100 to
//! 100,000 devices, with and without 1% device failures, beside ARGoS.
//!
//! Workload: S2's survey (16 drones per 400 m × 300 m orchard, scaled to N
//! drones) — every drone sweeps its strip, heartbeats, reports telemetry,
//! takes a 120 KB frame every second and runs a light detector on board;
//! the cloud tallies the detections in batches of 1,000. S2's own cloud
//! pipeline (60 classify invocations per frame) is not used: at 100,000
//! drones it is 6 million invocations per second, far beyond the mission's
//! 480 cores, and the synthesizer refuses it.
//!
//! Each size runs in a child process, so its peak RSS is its own.

use anyhow::{anyhow, bail, Context, Result};
use hivemind_cost::{plan_for, CostModel, Profile};
use hivemind_ir::plan::Strategy;
use hivemind_sim::{simple_assignment, simulate, SimOptions};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::time::Instant;

/// ARGoS, measured on this machine: 10,000 robots at 0.35× real time on 2
/// threads in 719 MB (~72 KiB per robot).
const ARGOS_REALTIME: f64 = 0.35;
const ARGOS_KIB_PER_DEVICE: f64 = 72.0;

const ENV: &str = "HIVEMIND_BENCH_SIM_ONE";

fn mission(devices: u32) -> String {
    format!(
        "mission survey_at_scale {{
  duration 10 min
  area orchard = rect(0 m, 0 m, 400 m, 300 m)
  fleet drones: drone x {devices} {{
    cpu 1.0 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s range 550 m
    speed 5 m/s; sensors camera(1280x720), gps; home (0 m, 0 m)
  }}
  cloud {{ servers 12; cores 40 each }}
  task survey on drones {{ cover orchard; lane 10 m }}
  task capture on drones -> frame: jpeg_720p 120 KB {{ every 1 s; needs camera(1280x720), gps }}
  task detect(frame) on drones -> crowns: list<crown 64 B> x 4 {{ work 20 Mop; fn tiny_detect }}
  task tally(crowns) at cloud {{ work 1 Mop; gather 1000; fn tally }}
}}
"
    )
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    pub devices: u32,
    pub failures: bool,
    pub simulated_s: f64,
    pub wall_s: f64,
    pub realtime: f64,
    pub events: u64,
    pub events_per_s: f64,
    pub peak_rss_kib: u64,
    pub completed: u64,
    pub devices_failed: u64,
}

/// Run one size in this process (the child).
fn one(devices: u32, failures: bool, seconds: u64) -> Result<Figure> {
    let src = mission(devices);
    let graph = hivemind_dsl::compile(&src, "survey_at_scale.hm")
        .graph
        .ok_or_else(|| anyhow!("the benchmark mission does not compile"))?;
    let model = CostModel::new(&graph, Profile::default())?;
    let plan = plan_for(&model, &simple_assignment(&graph), Strategy::Manual);
    let mut opts = SimOptions::new(&graph, 1);
    opts.duration_us = seconds * 1_000_000;
    // A run of this length ends with its drain; the figures count it.
    opts.config.drain_timeout_us = 5_000_000;
    if failures {
        // 1% of the devices fail over the run.
        let per = format!("random failures 1% of all per {seconds} s\n");
        opts.faults = hivemind_sim::faults::injections(&per, &graph, opts.duration_us, 1)?;
    }
    let started = Instant::now();
    let run = simulate(&graph, &plan, &opts, &mut |_| {})?;
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    let events = run.events + run.timeouts;
    Ok(Figure {
        devices,
        failures,
        simulated_s: run.ended_us as f64 / 1e6,
        wall_s: wall,
        realtime: run.ended_us as f64 / 1e6 / wall,
        events,
        events_per_s: events as f64 / wall,
        peak_rss_kib: peak_rss_kib(),
        completed: run.tasks.iter().map(|t| t.completed).sum(),
        devices_failed: run.faults.devices_failed,
    })
}

/// VmHWM of this process (0 where /proc is not available).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn child(devices: u32, failures: bool, seconds: u64) -> Result<Figure> {
    let exe = std::env::current_exe().context("locating the hivemind binary")?;
    let out = std::process::Command::new(exe)
        .args(["bench", "sim"])
        .env(ENV, format!("{devices},{},{seconds}", u8::from(failures)))
        .output()
        .context("running a benchmark child")?;
    if !out.status.success() {
        bail!(
            "the {devices}-device run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub fn run(json: bool, sizes: &[usize]) -> Result<ExitCode> {
    if let Ok(spec) = std::env::var(ENV) {
        let parts: Vec<u64> = spec.split(',').filter_map(|p| p.parse().ok()).collect();
        let [n, f, s] = parts[..] else {
            bail!("{ENV}={spec:?}: expected DEVICES,FAILURES,SECONDS");
        };
        let fig = one(u32::try_from(n)?, f == 1, s)?;
        println!("{}", serde_json::to_string(&fig)?);
        return Ok(ExitCode::SUCCESS);
    }
    let sizes: Vec<u32> = if sizes.is_empty() {
        vec![100, 1_000, 10_000, 100_000]
    } else {
        sizes
            .iter()
            .map(|&n| u32::try_from(n))
            .collect::<Result<_, _>>()?
    };
    let mut figures = Vec::new();
    for &n in &sizes {
        // Enough simulated time to be steady, short enough for the big runs.
        let seconds = if n >= 50_000 { 30 } else { 60 };
        for failures in [false, true] {
            eprintln!(
                "bench sim: {n} devices{}…",
                if failures { ", 1% failures" } else { "" }
            );
            figures.push(child(n, failures, seconds)?);
        }
    }
    let base = figures.first().map_or(0, |f| f.peak_rss_kib);
    let base_n = figures.first().map_or(0, |f| f.devices);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "suite": "sim", "figures": figures,
                "argos": {"devices": 10_000, "realtime": ARGOS_REALTIME, "kib_per_device": ARGOS_KIB_PER_DEVICE},
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Simulator benchmark: S2 survey workload, real controller core ({})",
        if cfg!(debug_assertions) {
            "debug build — use --release for real figures"
        } else {
            "release build"
        }
    );
    println!(
        "{:>8} {:>9} {:>10} {:>9} {:>11} {:>12} {:>10} {:>9}",
        "devices", "failures", "sim s", "wall s", "x realtime", "events/s", "peak MiB", "KiB/dev"
    );
    for f in &figures {
        let per = if f.devices > base_n {
            (f.peak_rss_kib.saturating_sub(base)) as f64 / f64::from(f.devices - base_n)
        } else {
            f64::NAN
        };
        println!(
            "{:>8} {:>9} {:>10.0} {:>9.2} {:>11.1} {:>12.0} {:>10.1} {:>9.2}",
            f.devices,
            if f.failures { "1%" } else { "none" },
            f.simulated_s,
            f.wall_s,
            f.realtime,
            f.events_per_s,
            f.peak_rss_kib as f64 / 1024.0,
            per
        );
    }
    if let Some(f) = figures.iter().find(|f| f.devices == 10_000 && !f.failures) {
        println!(
            "10,000 devices: {:.1}x real time = {:.0}x ARGoS ({ARGOS_REALTIME}x, {ARGOS_KIB_PER_DEVICE} KiB per robot, measured here)",
            f.realtime,
            f.realtime / ARGOS_REALTIME
        );
    }
    let cost = |n: u32| {
        figures
            .iter()
            .find(|f| f.devices == n && !f.failures)
            .map(|f| f.wall_s / f.simulated_s)
    };
    if let (Some(a), Some(b)) = (cost(10_000), cost(100_000)) {
        println!(
            "wall time per simulated second, 100k vs 10k: {:.1}x (10.0 = linear)",
            b / a
        );
    }
    let series: Vec<(String, Vec<(f64, f64)>)> = [false, true]
        .iter()
        .map(|&failing| {
            (
                if failing {
                    "1% failures"
                } else {
                    "no failures"
                }
                .to_string(),
                figures
                    .iter()
                    .filter(|f| f.failures == failing)
                    .map(|f| (f64::from(f.devices), f.wall_s / f.simulated_s.max(1e-9)))
                    .collect(),
            )
        })
        .collect();
    let plot = "bench-sim-scaling.svg";
    std::fs::write(plot, hivemind_sim::plot::scaling(&series))
        .with_context(|| format!("writing {plot}"))?;
    println!("cost growth plotted in {plot}");
    Ok(ExitCode::SUCCESS)
}
