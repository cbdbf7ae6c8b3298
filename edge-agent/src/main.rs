//! `hive-agent`: the HiveMind edge agent. See the crate docs.

use anyhow::{bail, Context, Result};
use clap::Parser;
use hivemind_agent::{run, AgentConfig};
use hivemind_functions::{InProcess, Registry};
use hivemind_ir::{DeviceClass, PointMm};
use hivemind_net::tls::ClientIdentity;
use hivemind_proto::DeviceId;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Controller address (host:port).
    #[arg(long)]
    controller: String,
    /// Name the controller's certificate must carry.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// PKI directory (from `hivemind certs`): reads ca.cert.pem and
    /// devices/device-<id>.{cert,key}.pem.
    #[arg(long, value_name = "DIR", required_unless_present_all = ["ca", "cert", "key"])]
    pki: Option<PathBuf>,
    /// CA certificate (instead of --pki).
    #[arg(long, requires_all = ["cert", "key"])]
    ca: Option<PathBuf>,
    /// This device's certificate (instead of --pki).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// This device's private key (instead of --pki).
    #[arg(long)]
    key: Option<PathBuf>,
    /// This device's id (its certificate must name the same).
    #[arg(long)]
    device: u32,
    /// The mission this agent serves.
    #[arg(long)]
    mission: String,
    /// The fleet (name in the mission) this device belongs to.
    #[arg(long)]
    fleet: String,
    /// Device class, for the battery reported before the controller sends
    /// the fleet's vehicle parameters: drone or car.
    #[arg(long, default_value = "drone")]
    class: String,
    /// Where buffered results are kept across restarts.
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,
    /// Where pushed model versions are written.
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Start position in metres, `x,y` (default: the fleet's home).
    #[arg(long, value_name = "X,Y")]
    position: Option<String>,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, default_value_t = 5.0)]
    max_backoff: f64,
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
        bail!("{what} must be between 0 and 86400 seconds, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

fn main_inner(args: Args) -> Result<()> {
    let controller: SocketAddr = args
        .controller
        .to_socket_addrs()
        .with_context(|| format!("controller address `{}`", args.controller))?
        .next()
        .with_context(|| format!("`{}` resolves to no address", args.controller))?;
    let identity = match (&args.pki, &args.ca, &args.cert, &args.key) {
        (_, Some(ca), Some(cert), Some(key)) => ClientIdentity::from_files(ca, cert, key),
        (Some(dir), ..) => ClientIdentity::load(dir, args.device),
        _ => bail!("give --pki DIR, or --ca, --cert and --key"),
    }
    .context("loading the device certificate")?;
    let class = match args.class.as_str() {
        "drone" => DeviceClass::Drone,
        "car" => DeviceClass::Car,
        other => bail!("unknown device class `{other}` (drone or car)"),
    };
    let position = args.position.as_deref().map(parse_point).transpose()?;
    let cfg = AgentConfig {
        controller,
        server_name: args.server_name,
        device: DeviceId(args.device),
        fleet: args.fleet,
        mission: args.mission,
        state_dir: args.state_dir,
        model_dir: args.model_dir,
        position,
        class,
        max_backoff: seconds("--max-backoff", args.max_backoff)?,
        exit_when_done: !args.stay,
        give_up_after: args
            .give_up_after
            .map(|s| seconds("--give-up-after", s))
            .transpose()?,
    };
    let backend = Arc::new(InProcess::new(Registry::new()).with_synthetic_fallback(true));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let stats = rt.block_on(run(cfg, identity, backend))?;
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
