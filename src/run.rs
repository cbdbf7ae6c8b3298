//! `hivemind run`: a mission executed by the controller core on a
//! simulated fleet.

use crate::{input, print_diagnostics, status_line};
use anyhow::{anyhow, Result};
use hivemind_controller::{Config, Controller, Micros, Phase};
use hivemind_cost::{CostModel, Profile};
use hivemind_ir::plan::Predicted;
use hivemind_sim::Timing;
use hivemind_sim::{World, WorldConfig};
use hivemind_synth::{synthesize, Options, Status};
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, seed: u64, kill: u32, json: bool) -> Result<ExitCode> {
    let name = file.display().to_string();
    let src = input::read_mission(file)?;
    let compiled = hivemind_dsl::compile(&src, &name);
    let Some(graph) = compiled.graph else {
        print_diagnostics(&compiled.diagnostics, &name, &src);
        eprintln!("{}", status_line(&name, &compiled.diagnostics));
        return Ok(ExitCode::from(1));
    };
    let synthesis = synthesize(&graph, Profile::default(), &Options::default())
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let Some(plan) = synthesis.plan.clone() else {
        print_diagnostics(
            &hivemind_synth::report::diagnostics(&graph, &synthesis),
            &name,
            &src,
        );
        eprintln!("{name}: no plan meets the requirements; see `hivemind synth {name}`");
        return Ok(ExitCode::from(1));
    };
    if synthesis.status != Status::Optimal {
        eprintln!("{name}: running a plan that is feasible but not proven optimal");
    }
    let duration = Micros(graph.duration_us);
    // The simulated fleet takes the times the cost model predicts for the plan.
    let timing = Timing::predicted(&CostModel::new(&graph, Profile::default())?, &plan);
    let predicted = plan.predicted.clone();
    let controller = Controller::new(Config::default(), graph.clone(), plan, seed)
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let mut world = World::new(
        controller,
        WorldConfig {
            seed,
            timing: Some(timing),
            ..WorldConfig::default()
        },
    );
    // The report is built from the core's state: nothing the world could
    // record is read, so none of it grows with the mission.
    world.keep_effects = false;
    world.keep_log = false;
    world.keep_publications = false;
    let devices = world.device_ids();
    if kill as usize > devices.len() {
        return Err(anyhow!(
            "--kill {kill}: the mission has only {} devices",
            devices.len()
        ));
    }
    // Spread the victims over the fleet: every k-th device.
    let step = (devices.len() / (kill.max(1) as usize)).max(1);
    for d in devices.iter().step_by(step).take(kill as usize) {
        world.kill(Micros(duration.0 / 3), *d);
    }
    world.stop_at(duration);
    // Long enough for the drain to resolve every instance (completed, or
    // failed with a reason at its timeout) even in a mission shorter than
    // the drain; the world stops earlier once the core says it finished.
    let drain = Config::default().drain_timeout_us;
    world.run_to_end(Micros(
        duration
            .0
            .saturating_mul(2)
            .max(duration.0.saturating_add(drain).saturating_add(10_000_000)),
    ));
    let report = world.ctl.report();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            render(
                &report,
                &predicted,
                duration,
                kill,
                (world.events_handled, world.timeouts_handled)
            )
        );
    }
    Ok(
        if report.phase == Phase::Finished && report.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1e3)
}

fn render(
    r: &hivemind_controller::MissionReport,
    plan: &Predicted,
    duration: Micros,
    killed: u32,
    (events, timeouts): (u64, u64),
) -> String {
    let predicted = &plan.requirements;
    // Cost-model figures too large to compute print as such, never as numbers.
    let mb = |bytes: Option<u128>| {
        bytes.map_or("too large".into(), |b| format!("{:.2} MB", b as f64 / 1e6))
    };
    let predicted_uplink_bytes = plan
        .uplink_bytes_per_s
        .wide()
        .map(|b| b * u128::from(duration.0) / 1_000_000);
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mission {}: {} after {:.0} s of virtual time ({events} events, {timeouts} timeouts, seed {})",
        r.mission,
        r.phase,
        duration.0 as f64 / 1e6,
        r.seed
    );
    let _ = writeln!(
        out,
        "faults: {killed} devices killed, {} declared failed, {} repartitions, {} re-placed, {} relaunches ({} losers cancelled), {} retries",
        r.counters.devices_failed, r.counters.repartitions, r.counters.replaced, r.counters.relaunches, r.counters.cancelled_losers, r.counters.retries
    );
    if r.counters.rejected_events + r.counters.unknown_results > 0 {
        let _ = writeln!(
            out,
            "refused: {} events rejected, {} results for unknown instances",
            r.counters.rejected_events, r.counters.unknown_results
        );
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:>11} {:>9} {:>9} {:>7} {:>11} {:>11} {:>11}",
        "task", "activations", "instances", "completed", "failed", "p50", "p95", "p99"
    );
    for t in &r.tasks {
        let _ = writeln!(
            out,
            "{:<16} {:>11} {:>9} {:>9} {:>7} {:>11} {:>11} {:>11}",
            t.task,
            t.activations,
            t.created,
            t.completed,
            t.failed,
            ms(t.latency.p50_us),
            ms(t.latency.p95_us),
            ms(t.latency.p99_us)
        );
    }
    if !r.paths.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<28} {:>7} {:>11} {:>11} {:>11} {:>8}",
            "required path", "at", "bound", "predicted", "measured", "samples"
        );
    }
    for p in &r.paths {
        let pred = predicted
            .iter()
            .find(|o| o.requirement == p.requirement)
            .map_or("-".into(), |o| match u64::try_from(o.predicted) {
                _ if o.too_large => "too large".into(),
                Ok(us) => ms(us),
                Err(_) => ms(0),
            });
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>11} {:>11} {:>11} {:>8}{}",
            format!("{} -> {}", p.from, p.to),
            format!("p{}", f64::from(p.percentile_bp) / 100.0),
            ms(p.bound_us),
            pred,
            if p.latency.count == 0 {
                "-".into()
            } else {
                ms(p.measured_us)
            },
            p.latency.count,
            if p.met { "" } else { "  ✗ not met" }
        );
    }
    let energy: u64 = r.devices.iter().map(|d| d.energy_uj).sum();
    let _ = writeln!(
        out,
        "\ndevices: {} ({} rejoins); energy {:.1} kJ in all (predicted {}; this test world charges a flat drain per device, not flight or compute); uplink {:.2} MB (predicted {}); duplicates discarded {}",
        r.devices.len(),
        r.counters.rejoins,
        energy as f64 / 1e9,
        plan.energy_uj
            .get()
            .map_or("too large".into(), |e| format!("{:.1} kJ", e as f64 / 1e9)),
        r.counters.uplink_bytes as f64 / 1e6,
        mb(predicted_uplink_bytes),
        r.counters.duplicate_results
    );
    if r.counters.shed_activations > 0 {
        let _ = writeln!(
            out,
            "overload: {} activations shed (the devices and functions fell {} instances behind; the plan's capacity figures were exceeded)",
            r.counters.shed_activations,
            Config::default().max_unresolved_instances
        );
    }
    if r.counters.unjoined_values > 0 {
        let _ = writeln!(
            out,
            "joins: {} values never joined (another producer of the join never delivered; see the log)",
            r.counters.unjoined_values
        );
    }
    if r.counters.behaviour_commands > 0 || r.counters.fleets_lost > 0 {
        let _ = writeln!(
            out,
            "behaviours: {} commands sent to devices (sweeps, routes, gotos, returns); {} fleets lost every device",
            r.counters.behaviour_commands, r.counters.fleets_lost
        );
    }
    let _ = writeln!(
        out,
        "function pool: {} cold starts, {} warm invocations",
        r.pool.cold_starts, r.pool.warm_invocations
    );
    for l in &r.learning {
        let predicted = plan.learning.iter().find(|p| {
            r.tasks
                .get(p.task.index())
                .is_some_and(|t| t.task == l.task)
        });
        let by_version: Vec<String> = l
            .results_by_version
            .iter()
            .map(|v| format!("v{} {}", v.version, v.results))
            .collect();
        let _ = writeln!(
            out,
            "learning {}: {} rounds ({} skipped), {} training jobs{} on {} samples, model v{}; {} pushes, {:.2} MB pushed{}, {} devices on v{}; results by model version: {}",
            l.task,
            l.rounds,
            l.skipped_rounds,
            l.training_jobs,
            predicted.map_or(String::new(), |p| format!(" (predicted {})", p.training_jobs)),
            l.samples_trained,
            l.model_version,
            l.model_pushes,
            l.model_bytes_pushed as f64 / 1e6,
            predicted.map_or(String::new(), |p| format!(
                " (predicted {})",
                mb(hivemind_ir::Sat::new(p.model_bytes_pushed).wide())
            )),
            l.devices_on_latest,
            l.model_version,
            if by_version.is_empty() {
                "none".to_string()
            } else {
                by_version.join(", ")
            }
        );
        if l.failed_jobs > 0 {
            let _ = writeln!(
                out,
                "learning {}: {} training jobs failed",
                l.task, l.failed_jobs
            );
        }
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "failed: instance {} of task `{}`: {}",
            f.instance, f.task, f.reason
        );
    }
    out
}
