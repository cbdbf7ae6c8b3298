//! `hivemind up`: the mission's controller on the network — QUIC with
//! mutual TLS for agents, a journal, the function pool, MQTT telemetry —
//! and, with `--local N`, N `hive-agent` processes with simulated vehicles
//! on loopback, run to the end.

use crate::sim::parse_duration;
use anyhow::{anyhow, bail, Context, Result};
use hivemind_controller::{MissionReport, Phase, Publication};
use hivemind_ir::TaskGraph;
use hivemind_net::pki::{self, Validity};
use hivemind_runtime::config::{self, ControllerConfig, MqttSetting, Settings};
use hivemind_runtime::{run_controller, ControllerSetup, DriverConfig, Listening, Mqtt, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Mission file (.hm).
    pub file: PathBuf,
    /// Also start N agents (`hive-agent` processes with simulated
    /// vehicles) on loopback, fleets scaled to N devices in proportion,
    /// with a fresh PKI; run the mission to its end and report.
    #[arg(long, value_name = "N")]
    pub local: Option<u32>,
    /// Deployment config file (TOML, see docs/runtime.md); also
    /// HIVEMIND_CONFIG. Flags beat HIVEMIND_* variables, which beat the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// QUIC address agents connect to [default: 127.0.0.1:7000; with
    /// --local a free loopback port].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// PKI directory from `hivemind certs init` (with --local: made in the
    /// state directory).
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Journal and mission clock; an existing journal of the same mission
    /// is recovered (the controller continues where it crashed).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Stop the mission after this much time (e.g. `60 s`), then drain.
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// [default: 1]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Telemetry: `embedded` (a broker on loopback), `off`, or a broker URL
    /// such as `mqtt://127.0.0.1:1883` [default: embedded].
    #[arg(long)]
    pub mqtt: Option<String>,
    /// Port of the embedded broker (default: a free one).
    #[arg(long)]
    pub mqtt_port: Option<u16>,
    /// Start once this many devices registered (default: all of --local,
    /// else every device of the mission's fleets).
    #[arg(long, value_name = "N")]
    pub expect: Option<u32>,
    /// ...or after this long, whichever comes first [default: 30 s].
    #[arg(long, value_name = "TIME")]
    pub start_timeout: Option<String>,
    /// Cost-model profile (TOML).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The `hive-agent` binary for --local (default: beside this one).
    #[arg(long, value_name = "FILE")]
    pub agent_bin: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Export one trace per task instance over OTLP/gRPC to this collector,
    /// e.g. `http://127.0.0.1:4317`; --local agents export there too
    /// (default: $OTEL_EXPORTER_OTLP_ENDPOINT; neither: no export).
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.local == Some(0) {
        bail!("--local 0: give the number of agents to start (at least 1)");
    }
    let file = ControllerConfig::find(args.config.as_deref(), |v| std::env::var(v).ok())?;
    let s = flag_settings(&args)?
        .or(Settings::from_env(|v| std::env::var(v).ok())?)
        .or(file.settings.clone());
    let stop_us = match config::time(s.duration) {
        Some(d) if d < Duration::from_secs(1) => bail!("duration: must be at least 1 s"),
        d => d.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
    };
    let start_timeout = config::time(s.start_timeout).unwrap_or(Duration::from_secs(30));
    let placed = match crate::placed::place(&args.file, args.local, s.profile.as_deref())? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let crate::placed::Placed {
        graph,
        profile,
        plan,
        ..
    } = placed;
    let devices: u32 = graph.fleets.iter().map(|f| f.count).sum();
    let state_dir = match (&s.state_dir, args.local) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => std::env::temp_dir().join(format!(
            "hivemind-up-{}-{}",
            graph.mission,
            std::process::id()
        )),
        (None, None) => PathBuf::from(".hivemind").join(&graph.mission),
    };
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("state directory {}", state_dir.display()))?;
    let pki_dir = match (&s.pki, args.local) {
        (Some(p), _) => p.clone(),
        (None, Some(_)) => local_pki(&state_dir.join("pki"), devices)?,
        (None, None) => {
            bail!("give --pki DIR (made by `hivemind certs init`), or --local N for a local demo")
        }
    };
    let listen = match (s.listen, args.local) {
        (Some(l), Some(_)) if l == "127.0.0.1:7000".parse()? => "127.0.0.1:0".parse()?,
        (Some(l), _) => l,
        (None, Some(_)) => "127.0.0.1:0".parse()?,
        (None, None) => "127.0.0.1:7000".parse()?,
    };
    let mqtt = match s.mqtt.clone().unwrap_or(MqttSetting::Embedded) {
        MqttSetting::Embedded => Mqtt::Embedded { port: s.mqtt_port },
        MqttSetting::Off => Mqtt::Off,
        MqttSetting::Url(u) => Mqtt::External(u),
    };
    let mut driver = DriverConfig::new(&state_dir);
    driver.expect_devices = s.expect.unwrap_or(devices);
    driver.start_timeout = start_timeout;
    driver.stop_at_us = stop_us;
    if let Some(b) = s.store_bytes() {
        driver.store_bytes = b;
    }
    let setup = ControllerSetup {
        graph: graph.clone(),
        plan,
        profile,
        config: file.core.clone(),
        seed: s.seed.unwrap_or(1),
        listen,
        pki: pki_dir.clone(),
        driver,
        mqtt,
        backend: (!file.functions.is_empty())
            .then(|| file.backend())
            .transpose()?,
        emulate: None,
    };
    // A file with an `[agent]` table configures the local agents too.
    let agent_config = file.path.clone().filter(|_| file.has_agent);
    let agent_bin = match &args.agent_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("hive-agent"))
            .ok_or_else(|| anyhow!("cannot locate hive-agent"))?,
    };
    if args.local.is_some() && !agent_bin.exists() {
        bail!(
            "--local needs the agent binary {} (build it: cargo build -p hivemind-edge-agent, or give --agent-bin)",
            agent_bin.display()
        );
    }
    let children: Arc<Mutex<Vec<Child>>> = Arc::default();
    let bar = progress_bar(stop_us.unwrap_or(graph.duration_us));
    let started = Instant::now();
    let on_listen = {
        let children = children.clone();
        let graph = graph.clone();
        let local = args.local;
        let state_dir = state_dir.clone();
        let otlp = hivemind_otel::endpoint(args.otlp.as_deref());
        move |l: &Listening| {
            eprintln!(
                "controller for `{}` on {} (QUIC, mTLS){}; state in {}{}",
                graph.mission,
                l.quic,
                l.mqtt
                    .as_ref()
                    .map(|u| format!(", telemetry on {u}"))
                    .unwrap_or_default(),
                state_dir.display(),
                if l.recovered {
                    " (recovered from its journal)"
                } else {
                    ""
                }
            );
            if local.is_some() {
                let quic = l.quic;
                let cfg = agent_config.as_deref();
                match spawn_agents(
                    &agent_bin,
                    &graph,
                    &|_| quic,
                    &pki_dir,
                    &state_dir,
                    cfg,
                    otlp.as_deref(),
                ) {
                    Ok(c) => *children.lock().unwrap_or_else(|e| e.into_inner()) = c,
                    Err(e) => eprintln!("cannot start the agents: {e:#}"),
                }
            }
        }
    };
    let observer = {
        let bar = bar.clone();
        let completed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Box::new(move |p: &Publication| {
            if let Publication::Completed { .. } = p {
                let n = completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("{n} instances completed"));
            }
            bar.set_position(started.elapsed().as_secs());
        })
    };
    let outcome = run_controller(setup, on_listen, Some(observer)).map_err(|e| anyhow!("{e}"))?;
    bar.finish_and_clear();
    let agents = stop_agents(&children, Duration::from_secs(10));
    if args.json {
        let v = serde_json::json!({
            "report": outcome.report,
            "runtime": outcome.stats,
            "recovered": outcome.recovered,
            "agents": agents,
            "state_dir": state_dir,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&graph, &outcome, &agents));
    }
    Ok(
        if matches!(outcome.phase, Phase::Finished)
            && outcome.report.tasks.iter().all(|t| t.failed == 0)
        {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// The settings given as flags (the highest precedence).
fn flag_settings(args: &Args) -> Result<Settings> {
    let time = |t: &Option<String>| -> Result<Option<config::Time>> {
        Ok(t.as_deref()
            .map(parse_duration)
            .transpose()?
            .map(|us| config::Time(Duration::from_micros(us))))
    };
    Ok(Settings {
        listen: args.listen,
        pki: args.pki.clone(),
        state_dir: args.state_dir.clone(),
        mqtt: args
            .mqtt
            .as_deref()
            .map(|m| m.parse::<MqttSetting>().map_err(|e| anyhow!("--mqtt: {e}")))
            .transpose()?,
        mqtt_port: args.mqtt_port,
        expect: args.expect,
        start_timeout: time(&args.start_timeout)?,
        duration: time(&args.duration)?,
        seed: args.seed,
        store_mb: None,
        profile: args.profile.clone(),
    })
}

pub fn progress_bar(duration_us: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b =
        ProgressBar::with_draw_target(Some(duration_us / 1_000_000), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_prefix("mission");
    b
}

/// A throw-away PKI for `devices` local agents (kept if it exists).
pub fn local_pki(dir: &Path, devices: u32) -> Result<PathBuf> {
    if !dir.join(pki::CA_CERT).exists() {
        pki::init(dir, Validity::days(7), false).context("local PKI")?;
        pki::issue_controller(dir, ["localhost", "127.0.0.1", "::1"], Validity::days(7))
            .context("local controller certificate")?;
    }
    for d in 0..devices {
        if !pki::device_paths(dir, d).0.exists() {
            pki::issue_device(dir, d, Validity::days(7)).context("local device certificate")?;
        }
    }
    Ok(dir.to_path_buf())
}

/// One `hive-agent` process per device of the mission, device `d`
/// connecting to `controller(d)`. Devices are numbered in fleet order:
/// fleet 0's first, then fleet 1's...
pub fn spawn_agents(
    bin: &Path,
    graph: &TaskGraph,
    controller: &dyn Fn(u32) -> SocketAddr,
    pki_dir: &Path,
    state_dir: &Path,
    config: Option<&Path>,
    otlp: Option<&str>,
) -> Result<Vec<Child>> {
    let logs = state_dir.join("agents");
    std::fs::create_dir_all(&logs)?;
    let mut out = Vec::new();
    let mut id = 0u32;
    for f in &graph.fleets {
        for _ in 0..f.count {
            let log = std::fs::File::create(logs.join(format!("device-{id}.log")))?;
            let class = match f.class {
                hivemind_ir::DeviceClass::Car => "car",
                _ => "drone",
            };
            let mut cmd = std::process::Command::new(bin);
            if let Some(c) = config {
                cmd.arg("--config").arg(c);
            }
            if let Some(url) = otlp {
                cmd.args(["--otlp", url]);
            }
            let child = cmd
                .args([
                    "--controller",
                    &controller(id).to_string(),
                    "--server-name",
                    "localhost",
                ])
                .arg("--pki")
                .arg(pki_dir)
                .args([
                    "--device",
                    &id.to_string(),
                    "--mission",
                    &graph.mission,
                    "--fleet",
                    &f.name,
                ])
                .args(["--class", class, "--give-up-after", "60"])
                .arg("--state-dir")
                .arg(state_dir.join(format!("device-{id}")))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            out.push(child);
            id += 1;
        }
    }
    Ok(out)
}

/// Wait for the agents to leave (they exit when told the mission is over),
/// then stop stragglers by their PIDs. Returns how each ended.
pub fn stop_agents(children: &Arc<Mutex<Vec<Child>>>, grace: Duration) -> Vec<String> {
    let mut children = children.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + grace;
    let mut out = Vec::new();
    for c in children.iter_mut() {
        let status = loop {
            match c.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break None,
            }
        };
        out.push(match status {
            Some(s) if s.success() => "exited".to_string(),
            Some(s) => format!("exited with {s}"),
            None => {
                let _ = c.kill();
                let _ = c.wait();
                "killed after the mission".to_string()
            }
        });
    }
    out
}

fn us(v: u64) -> String {
    if v >= 10_000_000 {
        format!("{:.1} s", v as f64 / 1e6)
    } else {
        format!("{:.1} ms", v as f64 / 1e3)
    }
}

pub fn render(graph: &TaskGraph, o: &Outcome, agents: &[String]) -> String {
    let r: &MissionReport = &o.report;
    let mut s = String::new();
    let ran = match (r.started_at_us, r.finished_at_us) {
        (Some(a), Some(b)) => us(b.saturating_sub(a)),
        _ => "-".into(),
    };
    let _ = writeln!(
        s,
        "mission {}: {} after {} (real controller and agents)",
        r.mission, r.phase, ran
    );
    let _ = writeln!(
        s,
        "devices: {} ({} failed, {} rejoined); agents: {} exited, {} not",
        r.devices.len(),
        r.counters.devices_failed,
        r.counters.rejoins,
        agents.iter().filter(|a| *a == "exited").count(),
        agents.iter().filter(|a| *a != "exited").count(),
    );
    let _ = writeln!(
        s,
        "\n{:<16} {:>9} {:>9} {:>7} {:>10} {:>10}",
        "task", "created", "completed", "failed", "p50", "p99"
    );
    for t in &r.tasks {
        let _ = writeln!(
            s,
            "{:<16} {:>9} {:>9} {:>7} {:>10} {:>10}",
            t.task,
            t.created,
            t.completed,
            t.failed,
            us(t.latency.p50_us),
            us(t.latency.p99_us)
        );
    }
    if !r.paths.is_empty() {
        let _ = writeln!(s, "\nrequired paths:");
        for p in &r.paths {
            let _ = writeln!(
                s,
                "  {} -> {}: p{} {} (bound {}) {}; median {}, {} samples",
                p.from,
                p.to,
                p.percentile_bp / 100,
                us(p.measured_us),
                us(p.bound_us),
                if p.met { "met" } else { "NOT met" },
                us(p.latency.p50_us),
                p.latency.count
            );
        }
    }
    let st = &o.stats;
    let _ = writeln!(
        s,
        "\nruntime: {} inputs, {} journal records in {} fsyncs, {} device messages, {} payload bytes up / {} down, {} duplicates discarded",
        st.inputs,
        st.journal_records,
        st.journal_commits,
        st.device_msgs,
        st.payload_bytes_in,
        st.payload_bytes_out,
        r.counters.duplicate_results
    );
    let _ = graph;
    s
}
