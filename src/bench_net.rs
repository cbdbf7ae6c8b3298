//! `hivemind bench net`: the network runtime on loopback, in one run.
//!
//! * **Dispatch-to-result latency** of a no-op cloud function through the
//!   whole stack with 1, 100 and 1,000 agents. A generated mission has a
//!   `capture` on every drone feeding a trivial cloud task `sink`. Each
//!   agent is a `hivemind_agent::run` task with its own QUIC connection and
//!   certificate (all agents in one child process, so the controller's RSS
//!   is its own). The agent's capture function writes the monotonic clock
//!   into its 16-byte output; the controller's `sink` function reads it
//!   (the *uplink* leg: agent result → QUIC → core → journal → pool →
//!   function), and the sink's `Completed` publication, which the driver
//!   carries out only after the result's record is fsynced, closes the
//!   *end-to-end* sample. The core's own view (`MissionReport`: the sink's
//!   created→completed latency and the `capture -> sink` path from the
//!   capture's dispatch) is reported beside it.
//! * **Invocations/s**: many agents at a high capture rate; the controller's
//!   achieved sink rate, its CPU per invocation, and the group commit
//!   (records per fsync).
//! * **Warm vs cold start** of an in-process and of a subprocess function
//!   (a tiny C program, or `/bin/sh` without a compiler), through
//!   `hivemind-functions`.
//! * **Controller RSS per connected agent**: VmRSS when listening and when
//!   all agents have registered (the mission starts then).
//! * **Broker msg/s**: the embedded broker beside mosquitto in the same
//!   run, measured by `hivemind_telemetry::throughput` (the telemetry
//!   crate's bench code).
//!
//! Journals live in the system temp dir (this machine: ext4, fdatasync
//! ≈ 4 ms) and, for comparison, on tmpfs (`/dev/shm`). The agents'
//! outboxes are on tmpfs: 1,000 vehicles would each have their own disk,
//! not share this one.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use hivemind_agent::{AgentConfig, AgentStats};
use hivemind_controller::{Config, Publication};
use hivemind_cost::Profile;
use hivemind_functions::{
    ActionSpec, Backend, Ctx, InProcess, Mode, Registry, Request, Response, Subprocess,
};
use hivemind_net::pki::{self, Validity};
use hivemind_net::tls::ClientIdentity;
use hivemind_runtime::{run_controller, ControllerSetup, DriverConfig, Listening, Mqtt};
use hivemind_synth::{synthesize, Options};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROLE: &str = "HIVEMIND_BENCH_NET_ROLE";
const SPEC: &str = "HIVEMIND_BENCH_NET_SPEC";
/// Mission seconds of each network run (default 20).
const SECONDS_ENV: &str = "HIVEMIND_BENCH_NET_SECONDS";
/// Which parts to run (comma-separated; default all): latency, tmpfs,
/// saturate, blocking, starts, brokers. For profiling one part.
const PARTS_ENV: &str = "HIVEMIND_BENCH_NET_PARTS";

const MISSION: &str = "net_bench";
const FLEET: &str = "drones";
const CAPTURE_FN: &str = "bench_capture";
const SINK_FN: &str = "bench_noop";
/// A device-local successor of the capture (latency runs only): it
/// records how long after the capture's function returned it started.
const STEP_FN: &str = "bench_step";

/// The agents' process: each local step's start minus its parent
/// capture's return, ns.
static CHAIN_NS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

// Targets of issue #18.
const TARGET_P50_US: f64 = 1_000.0;
const TARGET_P99_US: f64 = 10_000.0;
const TARGET_RATE: f64 = 20_000.0;
const TARGET_WARM_US: f64 = 50.0;
const TARGET_COLD_SUBPROCESS_US: f64 = 20_000.0;
const TARGET_BROKER: f64 = 100_000.0;

/// The latency runs (a capture every 50 ms for one agent, every second
/// for more) carry a device-local chain too; the saturation runs (every
/// 5 ms) do not: their agents' CPU is the controller's competition.
fn chained(period_ms: u64) -> bool {
    period_ms >= 50
}

fn mission(agents: u32, period_ms: u64) -> String {
    let step = if chained(period_ms) {
        format!("  task step(stamp) on {FLEET} {{ work 1 op; fn {STEP_FN} }}\n")
    } else {
        String::new()
    };
    format!(
        "mission {MISSION} {{
  duration 10 min
  fleet {FLEET}: drone x {agents} {{
    cpu 1.0 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s
    sensors camera(640x360), gps
  }}
  cloud {{ servers 12; cores 40 each }}
  task capture on {FLEET} -> stamp: blob 16 B {{ work 1 op; every {period_ms} ms; fn {CAPTURE_FN} }}
  task sink(stamp) at cloud {{ work 1 op; fn {SINK_FN} }}
{step}  require latency(capture -> sink) p99 < 1 s
}}
"
    )
}

/// CLOCK_MONOTONIC in ns: one clock for the controller and agent processes.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// `VmRSS` or `VmHWM` of this process in KiB (0 without /proc).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Quantiles of a sample, in µs.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Quantiles {
    fn of_ns(mut v: Vec<u64>) -> Quantiles {
        if v.is_empty() {
            return Quantiles::default();
        }
        v.sort_unstable();
        let q = |p: f64| {
            let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
            v[i] as f64 / 1e3
        };
        Quantiles {
            count: v.len() as u64,
            p50_us: q(0.50),
            p99_us: q(0.99),
            max_us: q(1.0),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunSpec {
    label: String,
    agents: u32,
    period_ms: u64,
    seconds: u64,
    journal_dir: PathBuf,
    pki: PathBuf,
    agent_dir: PathBuf,
    controller: Option<SocketAddr>,
    /// The no-op functions go through the blocking pool (`Registry::
    /// register`) instead of running inline: what a handler that may
    /// block costs per invocation.
    #[serde(default)]
    blocking: bool,
}

/// What one network run measured (the controller child's figures plus
/// the agents').
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetRun {
    pub label: String,
    pub agents: u32,
    pub period_ms: u64,
    pub journal: String,
    /// Agent result produced → sink's completion published (after its fsync).
    pub end_to_end: Quantiles,
    /// Agent result produced → sink function invoked.
    pub uplink: Quantiles,
    /// The core's sink latency (instance created → result handled), µs.
    pub core_sink_p50_us: u64,
    pub core_sink_p99_us: u64,
    /// The core's `capture -> sink` path (capture dispatched → sink result).
    pub core_path_p50_us: u64,
    pub core_path_p99_us: u64,
    pub sink_completed: u64,
    /// Sink attempts the core's straggler policy relaunched.
    pub sink_relaunches: u64,
    /// Sink completions per second between the first and the last one.
    pub sink_per_s: f64,
    pub offered_per_s: f64,
    pub journal_commits: u64,
    pub journal_records: u64,
    pub records_per_commit: f64,
    pub commits_per_s: f64,
    /// Controller CPU (user + sys) per sink invocation, µs (the capture
    /// instance behind it, telemetry and heartbeats included).
    pub cpu_us_per_invocation: f64,
    pub rss_listening_kib: u64,
    pub rss_registered_kib: u64,
    pub rss_per_agent_kib: f64,
    pub peak_rss_kib: u64,
    pub agent_sessions: u64,
    pub agent_results_sent: u64,
    pub failed: u64,
    /// Why the first failed instance failed (overload sheds work).
    pub first_failure: Option<String>,
    /// Latency runs: a device-local chain's own cost, from the capture
    /// function's return to its local successor's start (same agent).
    #[serde(default)]
    pub chain: Quantiles,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AgentFigures {
    sessions: u64,
    tasks_run: u64,
    results_sent: u64,
    errors: Vec<String>,
    chain_ns: Vec<u64>,
}

fn parse_spec() -> Result<RunSpec> {
    let s = std::env::var(SPEC).with_context(|| format!("{SPEC} not set"))?;
    serde_json::from_str(&s).with_context(|| format!("{SPEC} is not a run spec"))
}

/// The controller child: run the mission, print `listening ADDR` once
/// agents may connect, then the figures as JSON.
fn controller_child() -> Result<ExitCode> {
    let spec = parse_spec()?;
    let src = mission(spec.agents, spec.period_ms);
    let graph = hivemind_dsl::compile(&src, "net_bench.hm")
        .graph
        .ok_or_else(|| anyhow!("the benchmark mission does not compile"))?;
    let plan = synthesize(&graph, Profile::default(), &Options::default())
        .map_err(|e| anyhow!("{e}"))?
        .plan
        .ok_or_else(|| anyhow!("no plan for the benchmark mission"))?;
    let sink = graph
        .tasks
        .iter()
        .find(|t| t.name == "sink")
        .map(|t| t.id)
        .ok_or_else(|| anyhow!("no sink task"))?;

    // instance -> when its input was produced on the agent, and whether
    // its completion was seen.
    let produced: Arc<Mutex<HashMap<u64, (u64, bool)>>> = Arc::default();
    let uplink: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut registry = Registry::new();
    {
        let produced = produced.clone();
        let uplink = uplink.clone();
        // The benchmark's functions never block (a clock read, a short
        // lock): registered inline, they run on the runtime's thread, as a
        // user registers a handler that does not block (the `blocking`
        // runs measure the blocking pool instead).
        let sink = move |_: &Ctx, req: &Request| {
            let now = mono_ns();
            if let Some(t0) = req
                .input
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
            {
                // A relaunched attempt of the same instance is not a new
                // sample (the straggler policy may relaunch a slow one).
                let first = produced.lock().is_ok_and(|mut p| {
                    let fresh = !p.contains_key(&req.instance);
                    p.entry(req.instance).or_insert((t0, false));
                    fresh
                });
                if first {
                    if let Ok(mut u) = uplink.lock() {
                        u.push(now.saturating_sub(t0));
                    }
                }
            }
            Ok(Response::new(Bytes::new(), 1))
        };
        if spec.blocking {
            registry.register(SINK_FN, sink);
        } else {
            registry.register_inline(SINK_FN, sink);
        }
    }
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(registry));

    struct Seen {
        e2e: Vec<u64>,
        first: Option<u64>,
        last: u64,
        completed: u64,
        rss_registered: u64,
        cpu_at_first: Duration,
    }
    let seen = Arc::new(Mutex::new(Seen {
        e2e: Vec::new(),
        first: None,
        last: 0,
        completed: 0,
        rss_registered: 0,
        cpu_at_first: Duration::ZERO,
    }));
    let observer = {
        let seen = seen.clone();
        let produced = produced.clone();
        Box::new(move |p: &Publication| {
            let Publication::Completed { instance, task, .. } = p else {
                return;
            };
            let now = mono_ns();
            let Ok(mut s) = seen.lock() else { return };
            if s.rss_registered == 0 {
                // The mission started once every agent registered.
                s.rss_registered = status_kib("VmRSS:");
            }
            if *task != sink {
                return;
            }
            if s.first.is_none() {
                s.first = Some(now);
                s.cpu_at_first = cpu_time();
            }
            s.last = now;
            s.completed += 1;
            let first = produced.lock().ok().and_then(|mut m| {
                let e = m.get_mut(&instance.0)?;
                (!e.1).then(|| {
                    e.1 = true;
                    e.0
                })
            });
            if let Some(t0) = first {
                s.e2e.push(now.saturating_sub(t0));
            }
        })
    };
    let mut driver = DriverConfig::new(&spec.journal_dir);
    driver.expect_devices = spec.agents;
    driver.start_timeout = Duration::from_secs(180);
    driver.stop_at_us = Some(spec.seconds.saturating_mul(1_000_000));
    let setup = ControllerSetup {
        graph,
        plan,
        profile: Profile::default(),
        config: Config::default(),
        seed: 1,
        listen: "127.0.0.1:0".parse()?,
        pki: spec.pki.clone(),
        driver,
        mqtt: Mqtt::Off,
        backend: Some(backend),
        emulate: None,
    };
    let rss_listening = Arc::new(Mutex::new(0u64));
    let on_listen = {
        let rss = rss_listening.clone();
        move |l: &Listening| {
            if let Ok(mut r) = rss.lock() {
                *r = status_kib("VmRSS:");
            }
            println!("listening {}", l.quic);
            let _ = std::io::stdout().flush();
        }
    };
    let outcome = run_controller(setup, on_listen, Some(observer)).map_err(|e| anyhow!("{e}"))?;
    let cpu_end = cpu_time();
    let s = seen.lock().map_err(|_| anyhow!("observer poisoned"))?;
    let r = &outcome.report;
    let sink_report = r
        .tasks
        .iter()
        .find(|t| t.task == "sink")
        .ok_or_else(|| anyhow!("no sink in the report"))?;
    let path = r.paths.first();
    let span_s = s
        .first
        .map_or(0.0, |f| s.last.saturating_sub(f) as f64 / 1e9)
        .max(1e-9);
    let rss_l = rss_listening.lock().map(|r| *r).unwrap_or(0);
    let commits = outcome.stats.journal_commits.max(1);
    let run = NetRun {
        label: spec.label.clone(),
        agents: spec.agents,
        period_ms: spec.period_ms,
        journal: String::new(),
        end_to_end: Quantiles::of_ns(s.e2e.clone()),
        uplink: Quantiles::of_ns(uplink.lock().map(|u| u.clone()).unwrap_or_default()),
        core_sink_p50_us: sink_report.latency.p50_us,
        core_sink_p99_us: sink_report.latency.p99_us,
        core_path_p50_us: path.map_or(0, |p| p.latency.p50_us),
        core_path_p99_us: path.map_or(0, |p| p.latency.p99_us),
        sink_completed: sink_report.completed,
        sink_relaunches: sink_report.relaunches,
        sink_per_s: s.completed.saturating_sub(1) as f64 / span_s,
        offered_per_s: f64::from(spec.agents) * 1000.0 / spec.period_ms as f64,
        journal_commits: outcome.stats.journal_commits,
        journal_records: outcome.stats.journal_records,
        records_per_commit: outcome.stats.journal_records as f64 / commits as f64,
        commits_per_s: outcome.stats.journal_commits as f64
            / (outcome.ended_at_us as f64 / 1e6).max(1e-9),
        cpu_us_per_invocation: cpu_end.saturating_sub(s.cpu_at_first).as_secs_f64() * 1e6
            / s.completed.max(1) as f64,
        rss_listening_kib: rss_l,
        rss_registered_kib: s.rss_registered,
        rss_per_agent_kib: s.rss_registered.saturating_sub(rss_l) as f64
            / f64::from(spec.agents.max(1)),
        peak_rss_kib: status_kib("VmHWM:"),
        agent_sessions: 0,
        agent_results_sent: 0,
        failed: r.tasks.iter().map(|t| t.failed).sum(),
        first_failure: r
            .failures
            .first()
            .map(|f| format!("{}: {}", f.task, f.reason)),
        chain: Quantiles::default(),
    };
    println!("{}", serde_json::to_string(&run)?);
    Ok(ExitCode::SUCCESS)
}

/// The agents' child: every agent a task on one tokio runtime.
fn agents_child() -> Result<ExitCode> {
    let spec = parse_spec()?;
    let controller = spec
        .controller
        .ok_or_else(|| anyhow!("no controller address"))?;
    let mut registry = Registry::new();
    let capture = |_: &Ctx, _: &Request| {
        let mut out = mono_ns().to_le_bytes().to_vec();
        out.resize(16, 0);
        Ok(Response::new(out, 1))
    };
    if spec.blocking {
        registry.register(CAPTURE_FN, capture);
    } else {
        registry.register_inline(CAPTURE_FN, capture);
    }
    registry.register_inline(STEP_FN, |_: &Ctx, req: &Request| {
        let now = mono_ns();
        if let Some(b) = req.input.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            let gap = now.saturating_sub(u64::from_le_bytes(b));
            CHAIN_NS.lock().unwrap_or_else(|e| e.into_inner()).push(gap);
        }
        Ok(Response::new(Vec::new(), 1))
    });
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(registry));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let figures = rt.block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..spec.agents {
            let identity = ClientIdentity::load(&spec.pki, i)
                .with_context(|| format!("device {i}'s certificate"))?;
            let cfg = AgentConfig {
                controller,
                server_name: "localhost".into(),
                device: hivemind_proto::DeviceId(i),
                fleet: FLEET.into(),
                mission: MISSION.into(),
                state_dir: spec.agent_dir.join(format!("device-{i}")),
                model_dir: None,
                position: None,
                class: hivemind_ir::DeviceClass::Drone,
                max_backoff: Duration::from_secs(2),
                exit_when_done: true,
                // Long enough for 1,000 handshakes at once; an agent that
                // missed the end of the mission stops soon after it.
                give_up_after: Some(Duration::from_secs(30)),
            };
            tasks.push(tokio::spawn(hivemind_agent::run(
                cfg,
                identity,
                backend.clone(),
            )));
        }
        let mut f = AgentFigures {
            sessions: 0,
            tasks_run: 0,
            results_sent: 0,
            errors: Vec::new(),
            chain_ns: Vec::new(),
        };
        for t in tasks {
            match t.await {
                Ok(Ok(AgentStats {
                    sessions,
                    tasks_run,
                    results_sent,
                    ..
                })) => {
                    f.sessions += u64::from(sessions);
                    f.tasks_run += tasks_run;
                    f.results_sent += results_sent;
                }
                Ok(Err(e)) => f.errors.push(format!("{e:#}")),
                Err(e) => f.errors.push(e.to_string()),
            }
        }
        f.chain_ns = std::mem::take(&mut *CHAIN_NS.lock().unwrap_or_else(|e| e.into_inner()));
        anyhow::Ok(f)
    })?;
    println!("{}", serde_json::to_string(&figures)?);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// A child process killed by its PID if it outlives the bench.
struct Kid(std::process::Child);

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_role(role: &str, spec: &RunSpec) -> Result<Kid> {
    let exe = std::env::current_exe().context("locating the hivemind binary")?;
    let child = std::process::Command::new(exe)
        .args(["bench", "net"])
        .env(ROLE, role)
        .env(SPEC, serde_json::to_string(spec)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the {role} child"))?;
    Ok(Kid(child))
}

/// Last line of a child's stdout as JSON, or its stderr as the error.
fn finish<T: for<'a> Deserialize<'a>>(
    kid: &mut Kid,
    out: &mut impl BufRead,
    what: &str,
) -> Result<T> {
    let mut text = String::new();
    out.read_to_string(&mut text)?;
    let status = kid.0.wait()?;
    let mut err = String::new();
    if let Some(e) = kid.0.stderr.as_mut() {
        let _ = e.read_to_string(&mut err);
    }
    let last = text.lines().last().unwrap_or("");
    match serde_json::from_str(last) {
        Ok(v) if status.success() => Ok(v),
        _ => bail!(
            "{what} failed ({status}): {}",
            err.lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn net_run(mut spec: RunSpec, journal: &str) -> Result<NetRun> {
    let _ = std::fs::remove_dir_all(&spec.journal_dir);
    let _ = std::fs::remove_dir_all(&spec.agent_dir);
    let mut ctl = spawn_role("controller", &spec)?;
    let stdout = ctl.0.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let Some(addr) = line.trim().strip_prefix("listening ") else {
        let mut err = String::new();
        if let Some(e) = ctl.0.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        bail!("the controller did not start: {err}");
    };
    spec.controller = Some(addr.parse()?);
    let mut agents = spawn_role("agents", &spec)?;
    let astdout = agents.0.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut run: NetRun = finish(&mut ctl, &mut out, "the controller")?;
    let a: AgentFigures = finish(&mut agents, &mut BufReader::new(astdout), "the agents")?;
    if let Some(e) = a.errors.first() {
        eprintln!(
            "bench net: {} agents ended with an error, e.g. {e}",
            a.errors.len()
        );
    }
    run.journal = journal.into();
    run.agent_sessions = a.sessions;
    run.agent_results_sent = a.results_sent;
    run.chain = Quantiles::of_ns(a.chain_ns);
    let _ = std::fs::remove_dir_all(&spec.journal_dir);
    let _ = std::fs::remove_dir_all(&spec.agent_dir);
    Ok(run)
}

/// Warm and cold starts through `hivemind-functions`.
#[derive(Debug, Clone, Serialize)]
pub struct StartFigures {
    pub what: String,
    pub cold: Quantiles,
    pub warm: Quantiles,
}

const C_ONESHOT: &str = "#include <stdio.h>\nint main(void){char b[4096];while(fread(b,1,sizeof b,stdin)>0){}fputs(\"{\\\"items\\\":1}\\n\",stdout);return 0;}\n";
const C_PERSISTENT: &str = "#include <stdio.h>\nint main(void){int c;while((c=getchar())!=EOF){if(c=='\\n'){fputs(\"{\\\"items\\\":1}\\n\",stdout);fflush(stdout);}}return 0;}\n";
const SH_ONESHOT: &str = "#!/bin/sh\ncat >/dev/null\nprintf '{\"items\":1}\\n'\n";
const SH_PERSISTENT: &str = "#!/bin/sh\nwhile read -r line; do printf '{\"items\":1}\\n'; done\n";

/// A tiny executable: C compiled with `cc` when there is one, else sh.
fn tiny_program(dir: &Path, name: &str, c: &str, sh: &str) -> Result<(PathBuf, &'static str)> {
    use std::os::unix::fs::PermissionsExt;
    let src = dir.join(format!("{name}.c"));
    let bin = dir.join(name);
    std::fs::write(&src, c)?;
    let compiled = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if compiled {
        return Ok((bin, "C"));
    }
    std::fs::write(&bin, sh)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    Ok((bin, "sh"))
}

fn starts(dir: &Path) -> Result<Vec<StartFigures>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (oneshot, lang) = tiny_program(dir, "oneshot", C_ONESHOT, SH_ONESHOT)?;
    let (persistent, _) = tiny_program(dir, "persistent", C_PERSISTENT, SH_PERSISTENT)?;
    rt.block_on(async move {
        let mut registry = Registry::new();
        registry.register("noop", |_: &Ctx, _: &Request| {
            Ok(Response::new(Bytes::new(), 1))
        });
        let inproc: Arc<dyn Backend> = Arc::new(InProcess::new(registry));
        let sub: Arc<dyn Backend> = Arc::new(
            Subprocess::new()
                .with("oneshot", ActionSpec::new(&oneshot))
                .with(
                    "persistent",
                    ActionSpec::new(&persistent).mode(Mode::Persistent),
                ),
        );
        // Cold: start a worker and run its first invocation. Warm: invoke
        // a started worker again.
        async fn measure(
            backend: &Arc<dyn Backend>,
            function: &str,
            colds: usize,
            warms: usize,
        ) -> Result<(Quantiles, Quantiles)> {
            let mut cold = Vec::with_capacity(colds);
            for i in 0..colds {
                let t = Instant::now();
                let w = backend.start(function).await?;
                w.invoke(Request::new(function, 0, i as u64)).await?;
                cold.push(t.elapsed().as_nanos() as u64);
                w.stop().await;
            }
            let mut warm = Vec::with_capacity(warms);
            let w = backend.start(function).await?;
            w.invoke(Request::new(function, 0, 0)).await?;
            for i in 0..warms {
                let t = Instant::now();
                w.invoke(Request::new(function, 0, i as u64)).await?;
                warm.push(t.elapsed().as_nanos() as u64);
            }
            w.stop().await;
            Ok((Quantiles::of_ns(cold), Quantiles::of_ns(warm)))
        }
        let (c, w) = measure(&inproc, "noop", 500, 5_000).await?;
        let mut v = vec![StartFigures {
            what: "in-process (Registry::register, blocking pool)".into(),
            cold: c,
            warm: w,
        }];
        // One-shot: every invocation is a cold start (a process each).
        let (c, w) = measure(&sub, "oneshot", 200, 200).await?;
        v.push(StartFigures {
            what: format!("subprocess one-shot, tiny {lang} program"),
            cold: c,
            warm: w,
        });
        let (c, w) = measure(&sub, "persistent", 100, 2_000).await?;
        v.push(StartFigures {
            what: format!("subprocess persistent, tiny {lang} program"),
            cold: c,
            warm: w,
        });
        Ok(v)
    })
}

/// The embedded broker and mosquitto, alternating, same run.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerFigures {
    pub messages_per_round: u64,
    pub embedded: Vec<f64>,
    pub mosquitto: Vec<f64>,
    pub lost_rounds: u32,
    pub mosquitto_error: Option<String>,
}

fn brokers() -> Result<BrokerFigures> {
    use hivemind_telemetry::throughput::{round, Mosquitto};
    let n = 200_000;
    let embedded = hivemind_telemetry::EmbeddedBroker::start(&Default::default())?;
    let mosq = Mosquitto::start();
    let mut f = BrokerFigures {
        messages_per_round: n,
        embedded: Vec::new(),
        mosquitto: Vec::new(),
        lost_rounds: 0,
        mosquitto_error: mosq.as_ref().err().map(|e| e.to_string()),
    };
    for _ in 0..3 {
        let r = round(&embedded.url(), n)?;
        f.lost_rounds += u32::from(r.received < r.sent);
        f.embedded.push(r.rate);
        if let Ok(m) = &mosq {
            let r = round(&m.url(), n)?;
            f.lost_rounds += u32::from(r.received < r.sent);
            f.mosquitto.push(r.rate);
        }
    }
    Ok(f)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(json: bool, sizes: &[usize]) -> Result<ExitCode> {
    match std::env::var(ROLE).as_deref() {
        Ok("controller") => return controller_child(),
        Ok("agents") => return agents_child(),
        _ => {}
    }
    let seconds: u64 = std::env::var(SECONDS_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let sizes: Vec<u32> = if sizes.is_empty() {
        vec![1, 100, 1_000]
    } else {
        sizes
            .iter()
            .map(|&n| u32::try_from(n))
            .collect::<Result<_, _>>()?
    };
    let parts = std::env::var(PARTS_ENV)
        .unwrap_or_else(|_| "latency,tmpfs,saturate,blocking,starts,brokers".into());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let max = sizes.iter().copied().max().unwrap_or(1).max(200);
    let base = std::env::temp_dir().join(format!("hivemind-bench-net-{}", std::process::id()));
    let shm = Path::new("/dev/shm");
    let fast = if shm.is_dir() {
        shm.join(format!("hivemind-bench-net-{}", std::process::id()))
    } else {
        base.join("fast")
    };
    std::fs::create_dir_all(&base)?;
    std::fs::create_dir_all(&fast)?;
    let result = (|| -> Result<ExitCode> {
        let pki_dir = base.join("pki");
        eprintln!("bench net: issuing {max} device certificates…");
        pki::init(&pki_dir, Validity::days(1), false)?;
        pki::issue_controller(&pki_dir, ["localhost", "127.0.0.1"], Validity::days(1))?;
        for d in 0..max {
            pki::issue_device(&pki_dir, d, Validity::days(1))?;
        }
        let spec = |label: &str, agents: u32, period_ms: u64, journal: &Path| RunSpec {
            label: label.into(),
            agents,
            period_ms,
            seconds,
            journal_dir: journal.join(format!("journal-{label}")),
            pki: pki_dir.clone(),
            agent_dir: fast.join(format!("agents-{label}")),
            controller: None,
            blocking: false,
        };
        let mut runs = Vec::new();
        for &n in &sizes {
            // One agent at 1 Hz gives too few samples: 20 Hz.
            let period = if n == 1 { 50 } else { 1_000 };
            for (journal, dir) in [("disk", &base), ("tmpfs", &fast)] {
                let wanted = match journal {
                    "disk" => part("latency"),
                    _ => part("tmpfs") && n == 100,
                };
                if !wanted {
                    continue;
                }
                eprintln!(
                    "bench net: {n} agents, capture every {period} ms, journal on {journal}…"
                );
                runs.push(net_run(
                    spec(&format!("latency-{n}-{journal}"), n, period, dir),
                    journal,
                )?);
            }
        }
        // Saturation: 200 agents, each capturing every 5 ms (40,000/s offered).
        for (journal, dir) in [("disk", &base), ("tmpfs", &fast)] {
            if !part("saturate") {
                break;
            }
            eprintln!("bench net: saturation, 200 agents every 5 ms, journal on {journal}…");
            runs.push(net_run(
                spec(&format!("saturate-{journal}"), 200, 5, dir),
                journal,
            )?);
        }
        // The same on tmpfs with the no-op functions in the blocking pool.
        if part("blocking") {
            eprintln!("bench net: saturation, functions in the blocking pool…");
            let mut s = spec("saturate-tmpfs-blocking", 200, 5, &fast);
            s.blocking = true;
            runs.push(net_run(s, "tmpfs")?);
        }
        let starts = if part("starts") {
            eprintln!("bench net: function starts…");
            starts(&base)?
        } else {
            Vec::new()
        };
        let brokers = if part("brokers") {
            eprintln!("bench net: brokers…");
            Some(brokers()?)
        } else {
            None
        };
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "suite": "net", "seconds": seconds, "runs": runs,
                    "starts": starts, "brokers": brokers,
                    "targets": {
                        "p50_us_at_100": TARGET_P50_US, "p99_us_at_100": TARGET_P99_US,
                        "invocations_per_s": TARGET_RATE, "warm_inprocess_us": TARGET_WARM_US,
                        "subprocess_cold_us": TARGET_COLD_SUBPROCESS_US, "broker_msg_per_s": TARGET_BROKER,
                    },
                }))?
            );
        } else {
            print!("{}", render(seconds, &runs, &starts, brokers.as_ref()));
        }
        Ok(ExitCode::SUCCESS)
    })();
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&fast);
    result
}

fn ms(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

fn render(
    seconds: u64,
    runs: &[NetRun],
    starts: &[StartFigures],
    brokers: Option<&BrokerFigures>,
) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Network runtime benchmark, loopback, {seconds} s of mission per run ({})",
        if cfg!(debug_assertions) {
            "debug build — use --release for real figures"
        } else {
            "release build"
        }
    );
    let _ = writeln!(
        o,
        "\ndispatch-to-result, no-op cloud function (agent result -> QUIC -> core -> journal -> pool -> fn -> journal):"
    );
    let _ = writeln!(
        o,
        "{:<20} {:>6} {:>7} {:>8} {:>19} {:>19} {:>19} {:>19} {:>9} {:>8} {:>8} {:>9}",
        "run",
        "agents",
        "journal",
        "offered/s",
        "end-to-end p50/p99",
        "uplink p50/p99",
        "core sink p50/p99",
        "core path p50/p99",
        "sink/s",
        "rec/fsync",
        "CPU µs",
        "KiB/agent"
    );
    for r in runs {
        let _ = writeln!(
            o,
            "{:<20} {:>6} {:>7} {:>8.0} {:>19} {:>19} {:>19} {:>19} {:>9.0} {:>8.1} {:>8.0} {:>9.1}",
            r.label,
            r.agents,
            r.journal,
            r.offered_per_s,
            format!("{} / {}", ms(r.end_to_end.p50_us), ms(r.end_to_end.p99_us)),
            format!("{} / {}", ms(r.uplink.p50_us), ms(r.uplink.p99_us)),
            format!("{} / {}", ms(r.core_sink_p50_us as f64), ms(r.core_sink_p99_us as f64)),
            format!("{} / {}", ms(r.core_path_p50_us as f64), ms(r.core_path_p99_us as f64)),
            r.sink_per_s,
            r.records_per_commit,
            r.cpu_us_per_invocation,
            r.rss_per_agent_kib,
        );
    }
    let _ = writeln!(
        o,
        "\ndevice-local chain (the capture's function returns -> its local successor starts, same agent):"
    );
    for r in runs.iter().filter(|r| r.chain.count > 0) {
        let _ = writeln!(
            o,
            "  {:<20} {:>8} samples   p50 {:>9}   p99 {:>9}   max {:>9}",
            r.label,
            r.chain.count,
            ms(r.chain.p50_us),
            ms(r.chain.p99_us),
            ms(r.chain.max_us)
        );
    }
    let _ = writeln!(o, "\nfunction starts (hivemind-functions):");
    for s in starts {
        let _ = writeln!(
            o,
            "  {:<48} cold p50 {:>9} p99 {:>9}   warm p50 {:>9} p99 {:>9}",
            s.what,
            ms(s.cold.p50_us),
            ms(s.cold.p99_us),
            ms(s.warm.p50_us),
            ms(s.warm.p99_us)
        );
    }
    if let Some(brokers) = brokers {
        let _ = writeln!(
        o,
        "\nbrokers, QoS 0, 163 B, {} messages a round, alternating: embedded {} msg/s (median {:.0}), mosquitto {} msg/s (median {:.0}){}",
        brokers.messages_per_round,
        brokers.embedded.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" · "),
        median(&brokers.embedded),
        brokers.mosquitto.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" · "),
        median(&brokers.mosquitto),
        brokers
            .mosquitto_error
            .as_ref()
            .map(|e| format!(" (mosquitto: {e})"))
            .unwrap_or_default()
    );
        if brokers.lost_rounds > 0 {
            let _ = writeln!(o, "  {} rounds lost messages", brokers.lost_rounds);
        }
    }
    let _ = writeln!(o, "\ntargets (issue #18), measured / target:");
    let at100 = |j: &str| runs.iter().find(|r| r.agents == 100 && r.journal == j);
    for j in ["disk", "tmpfs"] {
        if let Some(r) = at100(j) {
            let _ = writeln!(
                o,
                "  100 agents, journal on {j}: end-to-end p50 {} ({:.2}x of < 1 ms), p99 {} ({:.2}x of < 10 ms)",
                ms(r.end_to_end.p50_us),
                r.end_to_end.p50_us / TARGET_P50_US,
                ms(r.end_to_end.p99_us),
                r.end_to_end.p99_us / TARGET_P99_US
            );
        }
    }
    for r in runs.iter().filter(|r| r.label.starts_with("saturate")) {
        let pool = if r.label.ends_with("blocking") {
            ", functions in the blocking pool"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  invocations/s, journal on {}{pool}: {:.0} ({:.2}x of >= 20,000); {:.1} records per fsync, {:.0} fsyncs/s",
            r.journal,
            r.sink_per_s,
            r.sink_per_s / TARGET_RATE,
            r.records_per_commit,
            r.commits_per_s
        );
    }
    if let Some(s) = starts.first() {
        let _ = writeln!(
            o,
            "  warm in-process: {} ({:.2}x of < 50 µs)",
            ms(s.warm.p50_us),
            s.warm.p50_us / TARGET_WARM_US
        );
    }
    if let Some(s) = starts.get(1) {
        let _ = writeln!(
            o,
            "  subprocess cold start: {} ({:.2}x of < 20 ms)",
            ms(s.cold.p50_us),
            s.cold.p50_us / TARGET_COLD_SUBPROCESS_US
        );
    }
    if let Some(b) = brokers {
        let _ = writeln!(
            o,
            "  embedded broker: {:.0} msg/s ({:.2}x of >= 100,000), {:.2}x mosquitto",
            median(&b.embedded),
            median(&b.embedded) / TARGET_BROKER,
            median(&b.embedded) / median(&b.mosquitto).max(1e-9)
        );
    }
    o
}
