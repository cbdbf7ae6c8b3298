//! `hivemind validate`: the same mission run twice — as real processes on
//! loopback (the controller, one `hive-agent` per device, each agent's
//! radio link emulated by a user-space proxy at the mission's rate and
//! latency) and in the simulator with the same plan, seed and duration —
//! and the simulator's error against the real run.
//!
//! What makes the two comparable, and nothing else: the links (FIFO at the
//! cost model's radio rate plus its latency, `hivemind_runtime::linkem`),
//! the devices' cores and service times (synthetic functions hold a core
//! for the cost model's time), and the cloud's cold starts and hand-off
//! fetches (the runtime's validation mode waits the simulator's time).
//! Scheduling, liveness, the journal and every byte on the wire are real.

use crate::sim::parse_duration;
use crate::up::{local_pki, spawn_agents, stop_agents};
use anyhow::{anyhow, bail, Context, Result};
use hivemind_controller::{Config, MissionReport};
use hivemind_cost::CostModel;
use hivemind_runtime::linkem::{proxy, Proxy, Wire};
use hivemind_runtime::pool_exec::Emulate;
use hivemind_runtime::{run_controller, ControllerSetup, DriverConfig, Mqtt};
use hivemind_sim::world::Timing;
use hivemind_sim::{simulate, Physics, SimOptions};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Mission file (.hm).
    pub file: PathBuf,
    /// Devices in all (fleets scaled in proportion); each is a process.
    #[arg(long, default_value_t = 10)]
    pub devices: u32,
    /// How long to run (mission time, real time for the processes).
    #[arg(long, default_value = "60 s", value_name = "TIME")]
    pub duration: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the run's files (journal, agent logs, PKI) in this directory.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// The `hive-agent` binary (default: beside this one).
    #[arg(long, value_name = "FILE")]
    pub agent_bin: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// One figure, real against simulated.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub what: String,
    pub real: u64,
    pub simulated: u64,
    /// (simulated − real) ÷ real, in per mille; `None` when real is 0.
    pub error_permille: Option<i64>,
    /// The target this figure is held to (per mille; 0: exact).
    pub target_permille: Option<i64>,
    pub within_target: bool,
}

#[derive(Debug, Serialize)]
pub struct Validation {
    pub mission: String,
    pub devices: u32,
    pub duration_us: u64,
    pub seed: u64,
    pub figures: Vec<Compared>,
    pub all_within_target: bool,
    pub real: MissionReport,
    pub simulated: MissionReport,
}

fn compare(what: String, real: u64, simulated: u64, target_permille: Option<i64>) -> Compared {
    let error_permille = (real > 0).then(|| {
        let e = (i128::from(simulated) - i128::from(real)) * 1000 / i128::from(real);
        i64::try_from(e).unwrap_or(i64::MAX)
    });
    let within_target = match target_permille {
        Some(0) => real == simulated,
        Some(t) => error_permille.is_some_and(|e| e.abs() <= t),
        None => true,
    };
    Compared {
        what,
        real,
        simulated,
        error_permille,
        target_permille,
        within_target,
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.devices == 0 || args.devices > 200 {
        bail!(
            "--devices {}: validation runs one process per device; give 1 to 200",
            args.devices
        );
    }
    let duration_us = parse_duration(&args.duration)?;
    let placed = match crate::placed::place(&args.file, Some(args.devices), None)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let crate::placed::Placed {
        graph,
        mut profile,
        plan,
        ..
    } = placed;
    let agent_bin = match &args.agent_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("hive-agent"))
            .ok_or_else(|| anyhow!("cannot locate hive-agent"))?,
    };
    if !agent_bin.exists() {
        bail!(
            "validate needs {} (cargo build -p hivemind-edge-agent, or --agent-bin)",
            agent_bin.display()
        );
    }

    // The real run.
    let temp;
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => {
            temp = std::env::temp_dir().join(format!("hivemind-validate-{}", std::process::id()));
            temp
        }
    };
    std::fs::create_dir_all(&dir)?;
    let pki = local_pki(&dir.join("pki"), args.devices)?;
    let model = CostModel::new(&graph, profile.clone()).map_err(|e| anyhow!("{e}"))?;
    let physics = Physics::new(&model, &plan);
    let timing = Timing::predicted(&model, &plan);
    let emulate = Emulate {
        cold_start_us: timing.cold_start_us,
        cloud: physics.cloud,
        split: physics
            .tasks
            .iter()
            .map(|t| u64::from(t.split.max(1)))
            .collect(),
    };
    let mut driver = DriverConfig::new(dir.join("state"));
    driver.expect_devices = args.devices;
    driver.start_timeout = Duration::from_secs(60);
    driver.stop_at_us = Some(duration_us);
    let setup = ControllerSetup {
        graph: graph.clone(),
        plan: plan.clone(),
        profile: profile.clone(),
        config: Config::default(),
        seed: args.seed,
        listen: "127.0.0.1:0".parse()?,
        pki: pki.clone(),
        driver,
        mqtt: Mqtt::Off,
        backend: None,
        emulate: Some(emulate),
    };
    let proxies_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("tokio runtime for the link proxies")?;
    let proxies: Arc<Mutex<Vec<Proxy>>> = Arc::default();
    let children: Arc<Mutex<Vec<Child>>> = Arc::default();
    let started = {
        let (proxies, children, graph, dir) = (
            proxies.clone(),
            children.clone(),
            graph.clone(),
            dir.clone(),
        );
        let handle = proxies_rt.handle().clone();
        let physics = physics.clone();
        move |l: &hivemind_runtime::Listening| {
            let quic = l.quic;
            let made: Result<Vec<Proxy>> = handle.block_on(async {
                let mut out = Vec::new();
                for (f, fp) in graph.fleets.iter().zip(&physics.fleets) {
                    let lat = Duration::from_micros(fp.figures.link_latency_us);
                    let bps = fp.figures.radio_bps;
                    // One channel for the fleet (both directions) when shared.
                    let cell = fp
                        .shared_radio
                        .then(|| Wire::new(bps, lat, 0, u64::from(f.id.0) + 1));
                    for d in 0..f.count {
                        let seed = (u64::from(f.id.0) << 32) | u64::from(d);
                        let (up, down) = match &cell {
                            Some(c) => (c.clone(), c.clone()),
                            None => (
                                Wire::new(bps, lat, 0, seed * 2 + 1),
                                Wire::new(bps, lat, 0, seed * 2 + 2),
                            ),
                        };
                        out.push(proxy(quic, up, down).await?);
                    }
                }
                Ok(out)
            });
            match made {
                Ok(p) => {
                    let addrs: Vec<_> = p.iter().map(|p| p.addr).collect();
                    *proxies.lock().unwrap_or_else(|e| e.into_inner()) = p;
                    let bin = agent_bin.clone();
                    match spawn_agents(&bin, &graph, &|d| addrs[d as usize], &pki, &dir, None, None)
                    {
                        Ok(c) => *children.lock().unwrap_or_else(|e| e.into_inner()) = c,
                        Err(e) => eprintln!("cannot start the agents: {e:#}"),
                    }
                }
                Err(e) => eprintln!("cannot start the link proxies: {e:#}"),
            }
        }
    };
    eprintln!(
        "running {} agent processes through emulated links...",
        args.devices
    );
    let outcome = run_controller(setup, started, None).map_err(|e| anyhow!("{e}"))?;
    stop_agents(&children, Duration::from_secs(10));
    drop(proxies);
    proxies_rt.shutdown_timeout(Duration::from_secs(1));
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }

    // The simulated run, charging each journal commit what the real
    // controller's took (its median) on this machine, in this run.
    let commit = outcome.stats.commit_us.quantile_bp(5_000);
    if let Some(us) = commit {
        profile.runtime.journal_commit_us = us;
    }
    eprintln!(
        "journal commits of the real controller: {} (median {}); the simulator charges the median",
        outcome.stats.journal_commits,
        commit.map_or("none".to_string(), |us| format!(
            "{:.2} ms",
            us as f64 / 1e3
        ))
    );
    // The simulated run.
    eprintln!(
        "simulating {} devices for {} s...",
        args.devices,
        duration_us / 1_000_000
    );
    let mut opts = SimOptions::new(&graph, args.seed);
    opts.duration_us = duration_us;
    opts.profile = profile.clone();
    let sim =
        simulate(&graph, &plan, &opts, &mut |_| {}).map_err(|e| anyhow!("simulation: {e}"))?;

    let real = outcome.report;
    let simulated = sim.controller;
    let mut figures = Vec::new();
    for (r, s) in real.tasks.iter().zip(&simulated.tasks) {
        figures.push(compare(
            format!("{} completed", r.task),
            r.completed,
            s.completed,
            Some(0),
        ));
    }
    for (r, s) in real.paths.iter().zip(&simulated.paths) {
        let p = format!("{} -> {}", r.from, r.to);
        figures.push(compare(
            format!("{p} median µs"),
            r.latency.p50_us,
            s.latency.p50_us,
            Some(50),
        ));
        figures.push(compare(
            format!("{p} p99 µs"),
            r.latency.p99_us,
            s.latency.p99_us,
            Some(100),
        ));
    }
    figures.push(compare(
        "uplink bytes".into(),
        real.counters.uplink_bytes,
        simulated.counters.uplink_bytes,
        Some(0),
    ));
    // Battery: the real side from the agents' telemetry (the controller's
    // per-device energy: what each reported spending, to within its last
    // second), the simulated side from the world's own accounting.
    for fr in &sim.fleets {
        let real_uj: Vec<u64> = real
            .devices
            .iter()
            .filter(|d| d.fleet == fr.fleet)
            .map(|d| d.energy_uj)
            .collect();
        let mean = real_uj.iter().sum::<u64>() / (real_uj.len().max(1) as u64);
        figures.push(compare(
            format!("{} battery spent per device µJ", fr.fleet),
            mean,
            fr.energy_mean_uj,
            Some(50),
        ));
    }
    let all_within_target = figures.iter().all(|f| f.within_target);
    let v = Validation {
        mission: graph.mission.clone(),
        devices: args.devices,
        duration_us,
        seed: args.seed,
        figures,
        all_within_target,
        real,
        simulated,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&v));
    }
    Ok(if v.all_within_target {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render(v: &Validation) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "validation of {}: {} devices, {} s, seed {} (real processes vs simulator)\n",
        v.mission,
        v.devices,
        v.duration_us / 1_000_000,
        v.seed
    );
    let _ = writeln!(
        s,
        "{:<44} {:>14} {:>14} {:>9} {:>8}",
        "figure", "real", "simulated", "error", "target"
    );
    for f in &v.figures {
        let err = f
            .error_permille
            .map_or("-".into(), |e| format!("{:+.1}%", e as f64 / 10.0));
        let target = match f.target_permille {
            Some(0) => "exact".to_string(),
            Some(t) => format!("{}%", t / 10),
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "{:<44} {:>14} {:>14} {:>9} {:>8}{}",
            f.what,
            f.real,
            f.simulated,
            err,
            target,
            if f.within_target { "" } else { "  MISSED" }
        );
    }
    let _ = writeln!(
        s,
        "\n{}",
        if v.all_within_target {
            "all figures within target"
        } else {
            "some figures missed their target"
        }
    );
    s
}
