//! `hive-agent`: the HiveMind edge agent. See the crate docs.

use anyhow::{bail, Context, Result};
use clap::Parser;
use hivemind_agent::config::{AgentFile, AgentSettings};
use hivemind_agent::{run, AgentConfig};
use hivemind_functions::config::Time;
use hivemind_ir::{DeviceClass, PointMm};
use hivemind_net::tls::ClientIdentity;
use hivemind_proto::DeviceId;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Edge agent for a HiveMind vehicle: connects to the controller with its
/// device certificate, runs the tasks the plan places on its fleet, flies
/// its (simulated) vehicle, and keeps every result on disk until the
/// controller has recorded it.
///
/// Example (certificates from `hivemind certs init` / `hivemind certs issue 3`):
///
///   hive-agent --controller 127.0.0.1:7000 --pki ./pki --device 3 \
///       --mission tree_recognition --fleet drones --state-dir /var/lib/hive-agent
#[derive(Parser)]
#[command(version, verbatim_doc_comment)]
struct Args {
    /// Config file (TOML, its `[agent]` table; see docs/runtime.md); also
    /// HIVEMIND_AGENT_CONFIG. Flags beat HIVEMIND_AGENT_* variables, which
    /// beat the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Controller address (host:port).
    #[arg(long)]
    controller: Option<String>,
    /// Name the controller's certificate must carry [default: localhost].
    #[arg(long)]
    server_name: Option<String>,
    /// PKI directory (from `hivemind certs`): reads ca.cert.pem and
    /// devices/device-<id>.{cert,key}.pem.
    #[arg(long, value_name = "DIR")]
    pki: Option<PathBuf>,
    /// CA certificate (instead of --pki; with --cert and --key).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// This device's certificate (instead of --pki).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// This device's private key (instead of --pki).
    #[arg(long)]
    key: Option<PathBuf>,
    /// This device's id (its certificate must name the same).
    #[arg(long)]
    device: Option<u32>,
    /// The mission this agent serves.
    #[arg(long)]
    mission: Option<String>,
    /// The fleet (name in the mission) this device belongs to.
    #[arg(long)]
    fleet: Option<String>,
    /// Device class, for the battery reported before the controller sends
    /// the fleet's vehicle parameters: drone or car [default: drone].
    #[arg(long)]
    class: Option<String>,
    /// Where buffered results are kept across restarts.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Where pushed model versions are written.
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Start position in metres, `x,y` (default: the fleet's home).
    #[arg(long, value_name = "X,Y")]
    position: Option<String>,
    /// Longest wait between reconnection attempts, in seconds [default: 5].
    #[arg(long)]
    max_backoff: Option<f64>,
    /// Keep reconnecting after the mission ends (default: exit 0 then).
    #[arg(long)]
    stay: bool,
    /// Exit with an error after this many seconds without a session.
    #[arg(long)]
    give_up_after: Option<f64>,
    /// Export task spans over OTLP/gRPC to this collector, e.g.
    /// `http://127.0.0.1:4317` (default: $OTEL_EXPORTER_OTLP_ENDPOINT;
    /// neither: no export).
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let log = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,rumqttd=off,quinn=off,rustls=off")
    });
    let endpoint = hivemind_otel::endpoint(args.otlp.as_deref());
    // Spans are flushed when the guard goes, before the process exits.
    let _otel = match hivemind_otel::init("hive-agent", endpoint.as_deref(), log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("hive-agent: tracing: {e}");
            return ExitCode::from(2);
        }
    };
    match main_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hive-agent: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn seconds(what: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
        bail!("{what} must be above 0 and at most 86400 seconds, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

fn main_inner(args: Args) -> Result<()> {
    let env = |v: &str| std::env::var(v).ok();
    let file = AgentFile::find(args.config.as_deref(), env)?;
    let flags = AgentSettings {
        controller: args.controller,
        server_name: args.server_name,
        pki: args.pki,
        ca: args.ca,
        cert: args.cert,
        key: args.key,
        device: args.device,
        mission: args.mission,
        fleet: args.fleet,
        class: args.class,
        state_dir: args.state_dir,
        model_dir: args.model_dir,
        max_backoff: args
            .max_backoff
            .map(|s| seconds("--max-backoff", s).map(Time))
            .transpose()?,
        give_up_after: args
            .give_up_after
            .map(|s| seconds("--give-up-after", s).map(Time))
            .transpose()?,
        stay: args.stay.then_some(true),
        functions: Default::default(),
    };
    let s = flags
        .or(AgentSettings::from_env(env)?)
        .or(file.settings.clone());
    let need = |what: &str, flag: &str, v: Option<String>| {
        v.with_context(|| format!("give {flag} (or `{what}` in [agent] of --config)"))
    };
    let device = s
        .device
        .with_context(|| "give --device (or `device` in [agent] of --config)")?;
    let controller_text = need("controller", "--controller", s.controller)?;
    let controller: SocketAddr = controller_text
        .to_socket_addrs()
        .with_context(|| format!("controller address `{controller_text}`"))?
        .next()
        .with_context(|| format!("`{controller_text}` resolves to no address"))?;
    let identity = match (&s.pki, &s.ca, &s.cert, &s.key) {
        (_, Some(ca), Some(cert), Some(key)) => ClientIdentity::from_files(ca, cert, key),
        (Some(dir), ..) => ClientIdentity::load(dir, device),
        _ => bail!("give --pki DIR, or --ca, --cert and --key"),
    }
    .context("loading the device certificate")?;
    let state_dir = s
        .state_dir
        .with_context(|| "give --state-dir (or `state_dir` in [agent] of --config)")?;
    let class = match s.class.as_deref().unwrap_or("drone") {
        "drone" => DeviceClass::Drone,
        "car" => DeviceClass::Car,
        other => bail!("unknown device class `{other}` (drone or car)"),
    };
    let position = args.position.as_deref().map(parse_point).transpose()?;
    let cfg = AgentConfig {
        controller,
        server_name: s.server_name.unwrap_or_else(|| "localhost".into()),
        device: DeviceId(device),
        fleet: need("fleet", "--fleet", s.fleet)?,
        mission: need("mission", "--mission", s.mission)?,
        state_dir,
        model_dir: s.model_dir,
        position,
        class,
        max_backoff: match s.max_backoff {
            Some(Time(d)) if d.is_zero() => bail!("max_backoff must be above 0"),
            t => t.map_or(Duration::from_secs(5), |Time(d)| d),
        },
        exit_when_done: !s.stay.unwrap_or(false),
        give_up_after: s.give_up_after.map(|Time(d)| d),
    };
    let backend = file.backend()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let stats = rt.block_on(run(cfg, identity, backend));
    // A function still running when the mission ended must not hold the
    // process: its result is not wanted any more.
    rt.shutdown_timeout(Duration::from_secs(1));
    let stats = stats?;
    tracing::info!(?stats, "mission over");
    Ok(())
}

/// `x,y` in metres (decimals allowed) to millimetres, checked.
fn parse_point(s: &str) -> Result<PointMm> {
    let (x, y) = s
        .split_once(',')
        .with_context(|| format!("position `{s}` is not `x,y`"))?;
    let mm = |v: &str| -> Result<i64> {
        let m: f64 = v
            .trim()
            .parse()
            .with_context(|| format!("`{v}` is not a number of metres"))?;
        if !m.is_finite() || m.abs() > 1.0e9 {
            bail!("`{v}` m is out of range");
        }
        Ok((m * 1000.0).round() as i64)
    };
    Ok(PointMm {
        x_mm: mm(x)?,
        y_mm: mm(y)?,
    })
}
