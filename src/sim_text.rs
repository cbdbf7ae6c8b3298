//! The text form of `hivemind sim`'s report: strategies side by side, then
//! the synthesized plan's predictions against what the simulator measured.

use crate::sim::Report;
use hivemind_sim::StrategyRun;
use std::fmt::Write;

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1e3)
}

fn pct(permille: Option<i64>) -> String {
    permille.map_or("-".into(), |e| format!("{:+.1}%", e as f64 / 10.0))
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let first = &r.runs[0];
    let speed = &r.speed[0];
    let _ = writeln!(
        out,
        "mission {}: {} after {:.0} s of simulated time, {} devices, seed {} ({:.0}x real time, {:.0} events/s)",
        r.mission,
        first.phase,
        r.duration_us as f64 / 1e6,
        r.devices,
        r.seed,
        speed.realtime_factor,
        speed.events_per_s
    );
    let c = &first.controller.counters;
    let _ = writeln!(
        out,
        "faults: {} injected ({} kills), {} devices declared failed, {} ran out of battery, {} repartitions, {} re-placed, {} relaunches ({} losers cancelled), {} retries",
        first.faults.injected,
        first.faults.kills,
        c.devices_failed, first.faults.battery_deaths, c.repartitions, c.replaced, c.relaunches, c.cancelled_losers, c.retries
    );
    if c.rejected_events + c.unknown_results > 0 {
        let _ = writeln!(
            out,
            "refused: {} events rejected, {} results for unknown instances",
            c.rejected_events, c.unknown_results
        );
    }
    tasks(&mut out, first);
    if r.runs.len() > 1 {
        strategies(&mut out, r);
    }
    predictions(&mut out, first);
    extras(&mut out, first);
    out
}

fn tasks(out: &mut String, run: &StrategyRun) {
    let _ = writeln!(
        out,
        "\n{:<16} {:<10} {:>9} {:>9} {:>7} {:>11} {:>11}",
        "task", "runs on", "instances", "completed", "failed", "p50", "p99"
    );
    for t in &run.tasks {
        let _ = writeln!(
            out,
            "{:<16} {:<10} {:>9} {:>9} {:>7} {:>11} {:>11}",
            clip(&t.task),
            t.modality,
            t.created,
            t.completed,
            t.failed,
            ms(t.p50_us),
            ms(t.p99_us)
        );
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 32 {
        let head: String = s.chars().take(31).collect();
        format!("{head}…")
    } else {
        s.to_string()
    }
}

fn strategies(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "\n{:<14} {:>11} {:>11} {:>11} {:>13} {:>11} {:>11} {:>10}",
        "strategy",
        "path p50",
        "path p99",
        "p99 spread",
        "energy/dev",
        "uplink",
        "cloud $",
        "completed"
    );
    for run in &r.runs {
        // Worst path: the one with the slowest p99.
        let worst = run.paths.iter().max_by_key(|p| p.p99_us);
        let energy: u128 = run
            .fleets
            .iter()
            .map(|f| u128::from(f.energy_mean_uj) * u128::from(f.devices))
            .sum();
        let devices: u64 = run.fleets.iter().map(|f| u64::from(f.devices)).sum();
        let completed: u64 = run.tasks.iter().map(|t| t.completed).sum();
        let created: u64 = run.tasks.iter().map(|t| t.created).sum();
        let _ = writeln!(
            out,
            "{:<14} {:>11} {:>11} {:>11} {:>10.1} kJ {:>11} {:>11.4} {:>10}",
            run.strategy,
            worst.map_or("-".into(), |p| ms(p.p50_us)),
            worst.map_or("-".into(), |p| ms(p.p99_us)),
            worst.map_or("-".into(), |p| ms(p.p99_us.saturating_sub(p.p50_us))),
            energy as f64 / devices.max(1) as f64 / 1e9,
            mb(run.bytes.radio_up),
            run.cloud.cost_nusd as f64 / 1e9,
            format!("{completed}/{created}")
        );
    }
}

fn predictions(out: &mut String, run: &StrategyRun) {
    let _ = writeln!(out, "\npredicted vs measured ({} plan)", run.strategy);
    if !run.paths.is_empty() {
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>8}",
            "required path", "at", "bound", "predicted", "measured", "pred. p50", "median", "error"
        );
    }
    for p in &run.paths {
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>8}{}",
            clip(&format!("{} -> {}", p.from, p.to)),
            format!("p{}", f64::from(p.percentile_bp) / 100.0),
            ms(p.bound_us),
            p.predicted_us.map_or("too large".into(), ms),
            if p.samples == 0 {
                "-".into()
            } else {
                ms(p.measured_us)
            },
            p.predicted_median_us.map_or("too large".into(), ms),
            if p.samples == 0 {
                "-".into()
            } else {
                ms(p.p50_us)
            },
            pct(p.median_error_permille),
            if p.met { "" } else { "  ✗ not met" }
        );
    }
    for f in &run.fleets {
        let _ = writeln!(
            out,
            "fleet {}: energy per device {:.2} kJ (motion {:.2}, compute {:.2}, radio {:.2}), busiest {:.2} kJ, predicted {}, error {}; {} of {} devices ran out",
            clip(&f.fleet),
            f.energy_mean_uj as f64 / 1e9,
            f.motion_mean_uj as f64 / 1e9,
            f.cpu_mean_uj as f64 / 1e9,
            f.radio_mean_uj as f64 / 1e9,
            f.energy_max_uj as f64 / 1e9,
            f.predicted_energy_per_device_uj
                .map_or("too large".into(), |e| format!("{:.2} kJ", e as f64 / 1e9)),
            pct(f.energy_error_permille),
            f.depleted,
            f.devices
        );
    }
    let b = &run.bytes;
    let _ = writeln!(
        out,
        "uplink: {} counted by the core (predicted {}, error {}); links carried {} up, {} down",
        mb(b.uplink),
        b.predicted_uplink.map_or("too large".into(), mb),
        pct(b.uplink_error_permille),
        mb(b.radio_up),
        mb(b.radio_down)
    );
    let cl = &run.cloud;
    let _ = writeln!(
        out,
        "cloud: ${:.4} billed (predicted {}, error {}); {} cold starts, {} warm invocations, {} slowed by invocations sharing their core",
        cl.cost_nusd as f64 / 1e9,
        cl.predicted_cost_nusd
            .map_or("too large".into(), |c| format!("${:.4}", c as f64 / 1e9)),
        pct(cl.cost_error_permille),
        cl.cold_starts,
        cl.warm_invocations,
        cl.interfered
    );
    for n in &run.notes {
        let _ = writeln!(out, "note: {n}");
    }
}

fn extras(out: &mut String, run: &StrategyRun) {
    let r = &run.controller;
    let c = &r.counters;
    if c.shed_activations > 0 {
        let _ = writeln!(
            out,
            "overload: {} activations shed (the devices and functions fell behind the plan's capacity figures)",
            c.shed_activations
        );
    }
    if c.firings_skipped > 0 {
        let _ = writeln!(
            out,
            "overload: {} firings not made (their devices' earlier readings stayed unreported longer than core.grant_lead_us: the radio or CPU cannot keep up, or the device went silent)",
            c.firings_skipped
        );
    }
    let lost: u64 = r.tasks.iter().map(|t| t.lost).sum();
    if lost > 0 || c.recovered > 0 {
        let _ = writeln!(
            out,
            "readings: {lost} lost with their devices (fired, never reported), {} reported late and counted",
            c.recovered
        );
    }
    if c.unjoined_values > 0 {
        let _ = writeln!(
            out,
            "joins: {} values never joined (another producer of the join never delivered)",
            c.unjoined_values
        );
    }
    if c.behaviour_commands > 0 || c.fleets_lost > 0 {
        let _ = writeln!(
            out,
            "behaviours: {} commands sent to devices (sweeps, routes, gotos, returns); {} fleets lost every device",
            c.behaviour_commands, c.fleets_lost
        );
    }
    for l in &r.learning {
        let by_version: Vec<String> = l
            .results_by_version
            .iter()
            .map(|v| format!("v{} {}", v.version, v.results))
            .collect();
        let predicted = run.learning_predicted.iter().find(|p| p.task == l.task);
        let _ = writeln!(
            out,
            "learning {}: {} rounds ({} skipped), {} training jobs{} on {} samples, model v{}; {} pushes, {} pushed{}, {} devices on v{}; results by model version: {}",
            l.task,
            l.rounds,
            l.skipped_rounds,
            l.training_jobs,
            predicted.map_or(String::new(), |p| format!(" (predicted {})", p.training_jobs)),
            l.samples_trained,
            l.model_version,
            l.model_pushes,
            mb(l.model_bytes_pushed),
            predicted.map_or(String::new(), |p| format!(
                " (predicted {})",
                hivemind_ir::Sat::new(p.model_bytes_pushed)
                    .get()
                    .map_or("too large".into(), mb)
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
    for f in &run.failures {
        let _ = writeln!(out, "failed: {f}");
    }
    if run.failure_count > run.failures.len() as u64 {
        let _ = writeln!(
            out,
            "failed: … and {} more",
            run.failure_count - run.failures.len() as u64
        );
    }
}
