//! `hivemind`: the command-line front end of HiveMind-rs.

mod bench;
mod bench_net;
mod bench_sim;
mod bench_synth;
mod certs;
mod input;
mod placed;
mod sim;
mod sim_text;
mod summary;
mod synth;
mod up;
mod validate;

use anyhow::Result;
use clap::{Parser, Subcommand};
use hivemind_dsl::diagnostic::{render, Style};
use hivemind_dsl::{compile, format, Diagnostic};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ABOUT: &str = "HiveMind-rs: write a swarm mission, check it, compile it to a task graph.";

const LONG_ABOUT: &str = "\
HiveMind-rs coordinates swarms of drones and robot cars with a cloud back end.
You describe a mission in the HiveMind language (.hm files); this tool checks it,
compiles it to the task-graph IR that the placement synthesizer, the controller
and the simulator read, and formats it.

Examples:
  hivemind check examples/missions/s02_tree_recognition.hm
  hivemind compile examples/missions/s02_tree_recognition.hm -o graph.json
  hivemind fmt --check examples/missions/*.hm
  hivemind synth examples/missions/s02_tree_recognition.hm -o plan.json
  hivemind sim examples/missions/s02_tree_recognition.hm --baseline all
  hivemind bench dsl

Coming with later stages: up (controller), agent.";

#[derive(Parser)]
#[command(name = "hivemind", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Log filter for diagnostics of the tool itself (e.g. `debug`); also RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check missions for errors and print diagnostics.
    #[command(long_about = "\
Check one or more missions: syntax, names, units, types, pins, cycles and
requirements. Every error is reported (not just the first), with the source
line, a label and usually a suggestion. Warnings do not fail the check.

Exit status: 0 when no mission has errors, 1 when one has, 2 on a usage or
file error.

Examples:
  hivemind check examples/missions/s01_face_recognition.hm
  hivemind check --json mission.hm | jq '.diagnostics[].code'")]
    Check {
        /// Mission files (.hm).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print diagnostics as JSON (one object per file) instead of text.
        #[arg(long)]
        json: bool,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Compile a mission to its task-graph IR (JSON).
    #[command(long_about = "\
Compile a mission to the task-graph IR: every quantity in integer SI-scaled
units (µs, mm, bytes, bit/s, µJ, ...), dense task ids, data and ordering edges,
requirements, objectives and effective policies, with source spans. The IR
carries `schema_version`; it is the only input later stages read.

Examples:
  hivemind compile examples/missions/s02_tree_recognition.hm
  hivemind compile mission.hm -o graph.json --summary")]
    Compile {
        /// Mission file (.hm).
        file: PathBuf,
        /// Write the IR here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print diagnostics as JSON.
        #[arg(long)]
        json: bool,
        /// Also print a human summary of the graph (tasks, placements, triggers, requirements).
        #[arg(long)]
        summary: bool,
    },
    /// Choose where every task runs (edge, cloud, cloud+FPGA) with z3.
    #[command(long_about = "\
Choose an execution modality for every task (on its fleet's devices, as a
serverless cloud function, or as a cloud function with FPGA remote memory)
so that every requirement holds, optimising the mission's objectives in
order (default: latency, then energy). Prints the plan beside the fully
centralized and fully decentralized baselines, with the predicted value and
margin of every requirement, energy per device, uplink traffic, cloud cost
and the functions to prewarm. When no placement fits, says which
requirements (and pins) conflict, pointing at them in the source.

The cost model's parameters have documented defaults (dsl/src/cost/profile.rs);
--profile replaces them with measured values (TOML).

Exit status: 0 with a plan, 1 when infeasible or the mission has errors,
2 on a usage, file or profile error.

Examples:
  hivemind synth examples/missions/s02_tree_recognition.hm
  hivemind synth mission.hm --profile measured.toml -o plan.json
  hivemind synth mission.hm --pareto
  hivemind synth mission.hm --evaluate plan.json   # predictions for an existing plan")]
    Synth(synth::Args),
    /// Simulate a mission: the real controller core in a modelled world.
    #[command(
        visible_alias = "run",
        long_about = "\
Simulate a mission end to end: compile it, synthesize its placement plan with
z3, and execute the plan with the real controller core (scheduler, liveness,
repartition, stragglers, function pool, journal) in the simulated world:
vehicles that move as their behaviours command and pay for it from their
battery, processors whose cores queue attempts, radio links that queue
transfers (one shared channel per fleet with `radio ... shared`), serverless
workers with cold starts whose invocations share a core when they must.
Every parameter comes from the cost model, so the report sets each
prediction of the plan beside what the simulation measured, with the error
and, where they differ, why.

--baseline runs the same mission fully centralized and fully decentralized
beside the synthesized plan (latency and its spread per required path,
energy per device, bytes, cloud cost). --out DIR writes report.json and SVG
plots. A progress bar shows on a terminal, never in a pipe. Same seed, same
run.

Examples:
  hivemind sim examples/missions/s02_tree_recognition.hm
  hivemind sim examples/missions/s02_tree_recognition.hm --baseline all --out sim-out
  hivemind sim mission.hm --devices 2000 --duration 10min --kill 400 --seed 7
  hivemind sim mission.hm --json > report.json"
    )]
    Sim(sim::Args),
    /// Run a mission for real: the controller on the network, agents connect.
    #[command(long_about = "\
Run a mission with the real controller on the network: agents (`hive-agent`,
one per vehicle) connect over QUIC with mutual TLS (certificates from
`hivemind certs`), register, heartbeat, run the tasks the plan places on
their device and report results; the cloud's tasks run in the function pool
(in-process; a task without registered code runs a synthetic function with
the cost model's service time and output size). Every state change is
journaled (fsync before it is acknowledged): after a crash, the same
command with the same --state-dir continues the mission where it stopped.
Telemetry goes to an embedded MQTT broker (or --mqtt URL) on
hivemind/<mission>/<device>/{telemetry,status,result} and
hivemind/<mission>/controller/{progress,events}; see docs/telemetry.md.

--local N starts N agents with simulated vehicles as processes on loopback
(fleets scaled to N in proportion, a fresh PKI), runs the mission to its end
(or --duration) and prints the report: the one-machine demo. Ctrl-C stops
the mission gracefully (drain, journal, tell agents); twice aborts.

Examples:
  hivemind up examples/missions/s02_tree_recognition.hm --local 20 --duration 60s
  hivemind certs init --dir pki && hivemind certs issue 0 --dir pki
  hivemind up mission.hm --pki pki --listen 0.0.0.0:7000 --mqtt mqtt://127.0.0.1:1883")]
    Up(up::Args),
    /// Check the simulator against a real run of the same mission.
    #[command(long_about = "\
Run the mission twice with the same plan, seed and duration: as real
processes on loopback (the controller, one hive-agent per device, each
agent's radio link emulated by a user-space proxy at the mission's rate and
latency: FIFO at the radio rate plus the link latency, one channel per fleet
with `radio ... shared`) and in the simulator. Prints the simulator's error
against the real run: completions per task (exact), uplink bytes (exact),
median (within 5%) and p99 (within 10%) latency of every required path, and
battery spent per device (within 5%). Exit status 1 when a figure misses its
target.

Examples:
  hivemind validate examples/missions/s01_face_recognition.hm --devices 10 --duration 60s
  hivemind validate mission.hm --json --keep validate-run")]
    Validate(validate::Args),
    /// Manage the deployment's certificates (CA, controller, devices).
    #[command(subcommand)]
    Certs(certs::Certs),
    /// Print missions in canonical form, or check that they are.
    #[command(long_about = "\
Format missions in the canonical layout: two-space indentation, one property
per line, short task bodies on one line, `1 s` spacing for quantities, pins
before outputs. Comments and single blank lines between declarations are kept.

Without flags the formatted text goes to standard output. With --write files
are rewritten in place. With --check nothing is written and the exit status is
1 if any file is not formatted.

Examples:
  hivemind fmt mission.hm
  hivemind fmt --write examples/missions/*.hm
  hivemind fmt --check examples/missions/*.hm")]
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Exit 1 if a file is not in canonical form; write nothing.
        #[arg(long, conflicts_with = "write")]
        check: bool,
        /// Rewrite the files in place.
        #[arg(long)]
        write: bool,
    },
    /// Run a built-in benchmark and print its figures.
    #[command(long_about = "\
Run a benchmark on this machine and print the figures with ratios measured in
the same run.

  dsl   compile generated missions of 1,000 and 10,000 tasks (parse + check +
        IR): tasks/s, peak heap, and the 10k/1k time ratio (linear = 10x).
  synth placement synthesis on generated missions of 10, 50, 200 and 1,000
        tasks (3 modalities each): time to the proven optimum, the exhaustive
        oracle at 10 and 12 tasks, and the greedy heuristic's quality gap;
        then families whose constraints bind (a budget at 70-90% of the
        all-cloud cost, a battery reserve, latency bounds on long chains,
        edge CPU for half the work, other objective orders) at 50, 200 and
        1,000 tasks: status, gap, time and peak RSS per row, beside greedy
        and the naive one-shot z3 encoding under the same limits
        (--timeout, --memory; --seeds per size).
  sim   the simulator driving the real controller core with 100 to 100,000
        devices (S2's survey workload), with and without 1% failures:
        simulated seconds per wall second, events/s, peak RSS and KiB per
        device, beside ARGoS (10,000 robots at 0.35x real time, 72 KiB each).

Examples:
  hivemind bench dsl
  hivemind bench synth
  cargo run --release -- bench sim --sizes 1000,10000
  hivemind bench dsl --json")]
    Bench {
        #[arg(value_enum)]
        what: bench::Suite,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// More mission sizes to measure after 1k and 10k (e.g. `--sizes 40000`).
        #[arg(long, value_delimiter = ',', value_name = "TASKS")]
        sizes: Vec<usize>,
        /// `synth`: the deadline of every synthesis, seconds.
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
        timeout: f64,
        /// `synth`: seeds per family and size.
        #[arg(long, default_value_t = 3, value_name = "N")]
        seeds: u64,
        /// `synth`: resident-memory cap of the search, MiB (0: none).
        #[arg(long, default_value_t = hivemind_synth::DEFAULT_MEMORY_MIB, value_name = "MIB")]
        memory: u64,
    },
}

fn main() -> ExitCode {
    // A synthesis runs its z3 stages in this executable re-invoked as a
    // worker (killed at the deadline): serve that first.
    hivemind_synth::worker::main_if_worker();
    restore_sigpipe();
    let cli = Cli::parse();
    // Only the controller exports spans (`up --otlp`, or the standard
    // environment variable while running `up`).
    let otlp = match &cli.command {
        Command::Up(a) => hivemind_otel::endpoint(a.otlp.as_deref()),
        _ => None,
    };
    // Kept to the end of `main`: dropping it flushes the last spans.
    let _otel = match init_tracing(cli.log.as_deref(), otlp.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: tracing: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed stdout (`hivemind synth m.hm | head -c 10`) ends the command
/// quietly with the conventional status 141, as for any Unix tool, instead of
/// a panic in `println!` (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any thread exists; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_tracing(
    filter: Option<&str>,
    otlp: Option<&str>,
) -> Result<hivemind_otel::OtelGuard, hivemind_otel::OtelError> {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,rumqttd=off,quinn=off,rustls=off")),
    };
    hivemind_otel::init("hivemind", otlp, filter)
}

fn style() -> Style {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Color
    } else {
        Style::Plain
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn print_diagnostics(diags: &[Diagnostic], file: &str, src: &str) {
    if !diags.is_empty() {
        eprint!("{}", render(diags, file, src, style()));
    }
}

fn status_line(file: &str, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => format!("{file}: ok"),
        (0, w) => format!("{file}: ok with {}", plural(w, "warning")),
        (e, 0) => format!("{file}: {}", plural(e, "error")),
        (e, w) => format!(
            "{file}: {} and {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn diagnostics_json(diags: &[Diagnostic], file: &str, src: &str) -> Vec<serde_json::Value> {
    hivemind_dsl::diagnostic::to_json_all(diags, file, src)
}

/// Read a mission, or print its one-line error (for commands over many files).
fn read_or_report(path: &Path) -> Option<String> {
    input::read_mission(path)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check {
            files,
            json,
            deny_warnings,
        } => {
            let mut failed = false;
            let mut unreadable = false;
            let mut reports = Vec::new();
            for path in &files {
                let name = display(path);
                let Some(src) = read_or_report(path) else {
                    unreadable = true;
                    continue;
                };
                let out = compile(&src, &name);
                let bad = out.has_errors() || (deny_warnings && !out.diagnostics.is_empty());
                failed |= bad;
                if json {
                    let diags = diagnostics_json(&out.diagnostics, &name, &src);
                    reports.push(
                        serde_json::json!({ "file": name, "ok": !bad, "diagnostics": diags }),
                    );
                } else {
                    print_diagnostics(&out.diagnostics, &name, &src);
                    eprintln!("{}", status_line(&name, &out.diagnostics));
                }
            }
            if json {
                let doc = if reports.len() == 1 {
                    reports.remove(0)
                } else {
                    serde_json::Value::Array(reports)
                };
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            Ok(if unreadable {
                ExitCode::from(2)
            } else if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Compile {
            file,
            output,
            json,
            summary,
        } => {
            let name = display(&file);
            let src = input::read_mission(&file)?;
            let out = compile(&src, &name);
            if json {
                let diags = diagnostics_json(&out.diagnostics, &name, &src);
                eprintln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "file": name, "diagnostics": diags })
                    )?
                );
            } else {
                print_diagnostics(&out.diagnostics, &name, &src);
            }
            let Some(graph) = out.graph else {
                if !json {
                    eprintln!("{}", status_line(&name, &out.diagnostics));
                }
                return Ok(ExitCode::from(1));
            };
            if summary {
                eprint!("{}", summary::render(&graph));
            }
            let text = graph.to_json_pretty() + "\n";
            match output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    let n = |k: usize, w: &str| {
                        if k == 1 {
                            format!("1 {w}")
                        } else {
                            format!("{k} {w}s")
                        }
                    };
                    eprintln!(
                        "{name}: {}, {}, {} -> {}",
                        n(graph.tasks.len(), "task"),
                        n(graph.edges.len(), "edge"),
                        n(graph.requirements.len(), "requirement"),
                        path.display()
                    );
                }
                None => std::io::stdout().write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Fmt {
            files,
            check,
            write,
        } => {
            let mut status = ExitCode::SUCCESS;
            for path in &files {
                let name = display(path);
                let Some(src) = read_or_report(path) else {
                    status = ExitCode::from(2);
                    continue;
                };
                let formatted = match format::format_source(&src) {
                    Ok(f) => f,
                    Err(d) => {
                        print_diagnostics(std::slice::from_ref(&d), &name, &src);
                        status = ExitCode::from(1);
                        continue;
                    }
                };
                if check {
                    if formatted != src {
                        eprintln!(
                            "{name}: not in canonical form (run `hivemind fmt --write {name}`)"
                        );
                        status = ExitCode::from(1);
                    }
                } else if write {
                    if formatted != src {
                        std::fs::write(path, &formatted)
                            .map_err(|e| anyhow::anyhow!("cannot write {name}: {e}"))?;
                        eprintln!("{name}: formatted");
                    }
                } else {
                    print!("{formatted}");
                }
            }
            Ok(status)
        }
        Command::Bench {
            what,
            json,
            sizes,
            timeout,
            seeds,
            memory,
        } => {
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86_400.0) {
                return Err(anyhow::anyhow!(
                    "--timeout must be above 0 and at most 86400 seconds"
                ));
            }
            let synth = bench::SynthBench {
                timeout: std::time::Duration::from_secs_f64(timeout),
                seeds,
                memory_mib: (memory > 0).then_some(memory),
            };
            bench::run(what, json, &sizes, &synth)
        }
        Command::Sim(args) => sim::run(args),
        Command::Up(args) => up::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Certs(cmd) => certs::run(cmd),
        Command::Synth(args) => synth::run(args),
    }
}
