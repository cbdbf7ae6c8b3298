//! `hivemind sim` (alias `run`): a mission executed by the real controller
//! core in the simulated world, with its synthesized plan and, on request,
//! the fully centralized and fully decentralized baselines side by side.

use crate::input;
use anyhow::{anyhow, bail, Context, Result};
use hivemind_ir::plan::Plan;
use hivemind_ir::TaskGraph;
use hivemind_sim::{simulate, Injected, SimOptions, StrategyRun};
use hivemind_synth::Status;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Mission file (.hm).
    pub file: PathBuf,
    /// Simulate this many devices in all (each fleet scaled in proportion).
    #[arg(long, value_name = "N")]
    pub devices: Option<u32>,
    /// Stop the mission after this much simulated time (e.g. `90 s`,
    /// `10 min`) instead of at the end of its `duration` (the plan is still
    /// made for the whole mission; predicted totals are compared pro rata).
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// Seed of the simulated world (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Devices to kill at a third of the mission (spread over the fleets).
    #[arg(long, default_value_t = 0)]
    pub kill: u32,
    /// Fault script: one fault per line, e.g. `at 30 s kill 10% of drones`,
    /// `at 10 s for 20 s partition cars`, `random failures 1% of all per
    /// min`, `at 45 s crash controller` (format: `hivemind_sim::faults`).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Also run the baselines: `all`, `centralized` or `decentralized`.
    #[arg(long, value_name = "WHICH")]
    pub baseline: Option<Baseline>,
    /// Cost-model profile (TOML) with measured values.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write report.json (and the plots) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Baseline {
    All,
    Centralized,
    Decentralized,
}

/// Everything `hivemind sim` measured, as `report.json` holds it.
#[derive(Serialize)]
pub struct Report {
    pub mission: String,
    pub seed: u64,
    pub devices: u32,
    pub duration_us: u64,
    /// Wall-clock figures (not in report.json: a report is a pure function
    /// of the mission, the options and the seed).
    #[serde(skip)]
    pub speed: Vec<Speed>,
    pub runs: Vec<StrategyRun>,
}

#[derive(Serialize)]
pub struct Speed {
    pub strategy: String,
    pub wall_ms: u64,
    pub realtime_factor: f64,
    pub events_per_s: f64,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let stop_us = args.duration.as_deref().map(parse_duration).transpose()?;
    let placed = match crate::placed::place(&args.file, args.devices, args.profile.as_deref())? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let crate::placed::Placed {
        name,
        graph,
        profile,
        synthesis,
        plan,
    } = placed;
    if synthesis.status != Status::Optimal {
        eprintln!("{name}: simulating a plan that is feasible but not proven optimal");
    }
    let mut plans: Vec<Plan> = vec![plan];
    let want = |b: Baseline| args.baseline == Some(Baseline::All) || args.baseline == Some(b);
    for (b, p) in [
        (Baseline::Centralized, &synthesis.centralized),
        (Baseline::Decentralized, &synthesis.decentralized),
    ] {
        if want(b) {
            match p {
                Some(p) => plans.push(p.clone()),
                None => eprintln!(
                    "{name}: no {} baseline exists for this mission (pins forbid it)",
                    if b == Baseline::Centralized {
                        "centralized"
                    } else {
                        "decentralized"
                    }
                ),
            }
        }
    }
    let mut opts = SimOptions::new(&graph, args.seed);
    if let Some(us) = stop_us {
        opts.duration_us = us;
    }
    opts.profile = profile;
    opts.faults = kills(&graph, args.kill, opts.duration_us)?;
    if let Some(path) = &args.faults {
        let limit = hivemind_sim::faults::MAX_BYTES as u64;
        let text = input::read_text(path, "fault script", limit)?;
        let injected = hivemind_sim::faults::injections(&text, &graph, opts.duration_us, args.seed)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        opts.faults.extend(injected);
    }

    let mut report = Report {
        mission: graph.mission.clone(),
        seed: args.seed,
        devices: graph.fleets.iter().map(|f| f.count).sum(),
        duration_us: opts.duration_us,
        speed: Vec::new(),
        runs: Vec::new(),
    };
    for plan in &plans {
        let (run, speed) = run_one(&graph, plan, &opts)?;
        report.speed.push(speed);
        report.runs.push(run);
    }
    if let Some(dir) = &args.out {
        let areas: Vec<_> = graph.areas.iter().map(|a| a.shape.clone()).collect();
        write_out(dir, &report, &areas)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::sim_text::render(&report));
        if let Some(dir) = &args.out {
            println!("\nreport and plots written to {}", dir.display());
        }
    }
    let first = &report.runs[0];
    Ok(if first.phase == "finished" && first.failure_count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One strategy, with a progress bar on a terminal (none when piped).
fn run_one(graph: &TaskGraph, plan: &Plan, opts: &SimOptions) -> Result<(StrategyRun, Speed)> {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(
            Some(opts.duration_us / 1_000_000),
            ProgressDrawTarget::stderr(),
        );
        b.set_style(
            ProgressStyle::with_template("{prefix:>13} [{bar:30}] {pos}/{len} s simulated  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let strategy = hivemind_sim::mission::strategy_name(&plan.strategy);
    bar.set_prefix(strategy.clone());
    let started = Instant::now();
    let run = simulate(graph, plan, opts, &mut |p| {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_position((p.now.0 / 1_000_000).min(opts.duration_us / 1_000_000));
        bar.set_message(format!("{:.0} events/s", p.events as f64 / secs));
    })?;
    bar.finish_and_clear();
    let wall = started.elapsed();
    let secs = wall.as_secs_f64().max(1e-9);
    let speed = Speed {
        strategy,
        wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
        realtime_factor: run.ended_us as f64 / 1e6 / secs,
        events_per_s: (run.events + run.timeouts) as f64 / secs,
    };
    Ok((run, speed))
}

/// `--kill N`: every k-th device dies at a third of the mission.
fn kills(graph: &TaskGraph, kill: u32, stop_us: u64) -> Result<Vec<Injected>> {
    let devices: u32 = graph.fleets.iter().map(|f| f.count).sum();
    if kill > devices {
        bail!("--kill {kill}: the mission has only {devices} devices");
    }
    let step = (devices / kill.max(1)).max(1);
    let at = hivemind_controller::Micros(stop_us / 3);
    Ok((0..devices)
        .step_by(step as usize)
        .take(kill as usize)
        .map(|d| Injected::Kill(at, hivemind_controller::DeviceId(d)))
        .collect())
}

fn write_out(dir: &Path, report: &Report, areas: &[hivemind_ir::AreaShape]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write("report.json", &serde_json::to_string_pretty(report)?)?;
    let tracks = &report.runs[0].tracks;
    for p in hivemind_sim::plot::all(&report.runs, areas, tracks) {
        write(p.file, &p.svg)?;
    }
    Ok(())
}

/// `--duration`: a time as the fault script writes it (`90 s`, `10min`,
/// `1.5 h`), at least one second.
pub fn parse_duration(text: &str) -> Result<u64> {
    let us = hivemind_sim::faults::parse_time(text).map_err(|e| {
        anyhow!(
            "--duration {text:?}: {}",
            e.to_string().trim_start_matches("line 1, ")
        )
    })?;
    if us < 1_000_000 {
        bail!("--duration {text:?}: must be at least 1 s");
    }
    Ok(us)
}
