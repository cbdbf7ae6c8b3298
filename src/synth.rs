//! `hivemind synth`: placement synthesis from the command line.

use crate::{input, print_diagnostics, status_line};
use anyhow::{anyhow, Context as _, Result};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::Plan;
use hivemind_synth::{report, synthesize, Options, Status, Synthesis};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Mission file (.hm).
    pub file: PathBuf,
    /// Cost-model profile (TOML) with measured values.
    #[arg(long, value_name = "TOML")]
    pub profile: Option<PathBuf>,
    /// Also enumerate the Pareto front of the objectives.
    #[arg(long)]
    pub pareto: bool,
    /// A hard deadline: after this many seconds the search is interrupted
    /// and the best plan found (the greedy plan at least) is returned.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Stop the search (keeping the best plan so far) once the process's
    /// resident memory exceeds this many MiB; 0: no cap.
    #[arg(long, default_value_t = hivemind_synth::DEFAULT_MEMORY_MIB, value_name = "MIB")]
    pub memory: u64,
    /// Write the chosen plan (JSON) here.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not optimise: check an existing plan against this mission and
    /// profile and print its predictions.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["pareto", "output"])]
    pub evaluate: Option<PathBuf>,
    /// Print the whole result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Profiles are small; anything larger is not a profile.
const MAX_PROFILE_BYTES: u64 = 1 << 20;

fn read_small(path: &std::path::Path, what: &str) -> Result<String> {
    crate::input::read_text(path, what, MAX_PROFILE_BYTES)
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        return Err(anyhow!(
            "--timeout must be above 0 and at most 86400 seconds"
        ));
    }
    let name = args.file.display().to_string();
    let src = input::read_mission(&args.file)?;
    let compiled = hivemind_dsl::compile(&src, &name);
    let Some(graph) = compiled.graph else {
        print_diagnostics(&compiled.diagnostics, &name, &src);
        eprintln!("{}", status_line(&name, &compiled.diagnostics));
        return Ok(ExitCode::from(1));
    };
    let profile = match &args.profile {
        Some(p) => Profile::from_toml(&read_small(p, "profile")?)
            .map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => Profile::default(),
    };
    if let Some(plan_path) = &args.evaluate {
        return evaluate(&graph, profile, plan_path, args.json);
    }
    let options = Options {
        timeout: Duration::from_secs_f64(args.timeout),
        pareto: args.pareto,
        memory_mib: (args.memory > 0).then_some(args.memory),
        ..Options::default()
    };
    let result = synthesize(&graph, profile, &options).map_err(|e| anyhow!("{name}: {e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", report::render(&graph, &result));
        println!("synthesized in {} ms", result.elapsed_ms);
    }
    finish(
        &graph,
        &result,
        &name,
        &src,
        args.output.as_ref(),
        args.json,
    )
}

fn finish(
    graph: &hivemind_dsl::TaskGraph,
    result: &Synthesis,
    name: &str,
    src: &str,
    output: Option<&PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    if result.status == Status::Infeasible {
        if !json {
            print_diagnostics(&report::diagnostics(graph, result), name, src);
        }
        return Ok(ExitCode::from(1));
    }
    if let (Some(path), Some(plan)) = (output, &result.plan) {
        std::fs::write(path, plan.to_json_pretty() + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("plan written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Check a plan file against this mission, then print what it is predicted
/// to do under this profile (predictions are recomputed: a plan made with
/// another profile is re-predicted, not refused).
fn evaluate(
    graph: &hivemind_dsl::TaskGraph,
    profile: Profile,
    plan_path: &std::path::Path,
    json: bool,
) -> Result<ExitCode> {
    let text = read_small(plan_path, "plan")?;
    let plan =
        Plan::from_json(&text, graph).map_err(|e| anyhow!("{}: {e}", plan_path.display()))?;
    let model = CostModel::new(graph, profile)?;
    let assignment: Vec<_> = plan.tasks.iter().map(|t| t.modality).collect();
    let evaluated = hivemind_cost::plan_for(&model, &assignment, plan.strategy.clone());
    if evaluated.profile_sha256 != plan.profile_sha256 {
        tracing::info!("the plan was predicted with another cost profile; predictions recomputed with this one");
    }
    let met = model.evaluate(&assignment).feasible()
        && hivemind_cost::coverage(graph).iter().all(|c| c.fits());
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluated)?);
    } else {
        let shown = Synthesis {
            status: Status::Evaluated { met },
            graph_sha256: evaluated.graph_sha256.clone(),
            profile_sha256: evaluated.profile_sha256.clone(),
            plan: Some(evaluated),
            centralized: None,
            decentralized: None,
            greedy: None,
            pareto: Vec::new(),
            conflicts: Vec::new(),
            elapsed_ms: 0,
            proven_ms: None,
            proven_by_bound: 0,
            gap: None,
            tie_break_cut: None,
            stopped: None,
            peak_rss_mib: 0,
            worker_peak_rss_mib: 0,
            z3_runs: Vec::new(),
        };
        print!("{}", report::render(graph, &shown));
    }
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
