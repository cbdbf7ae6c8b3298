//! The controller runtime: the sans-IO core (`hivemind-controller`) made
//! real on a network.
//!
//! * [`driver`]: one thread owns the core; inputs from every task come in
//!   over a channel, effects go out in order; journal records are made
//!   durable (group commit) before any later effect; the mission clock.
//! * [`server`]: QUIC with mutual TLS (`hivemind-net`), one connection per
//!   agent, the Hello checked against the certificate, frames decoded by
//!   `hivemind-proto`; a bad frame closes that connection only.
//! * [`pool_exec`]: the core's pool actions carried out with
//!   `hivemind-functions` (cold start = start a worker).
//! * [`store`]: result payloads, so relayed and cloud hand-offs move the
//!   real bytes.
//! * [`figures`]: what synthetic functions do per task, from the cost model.
//! * [`publish`]: publications onto the MQTT bus (`hivemind-telemetry`).
//! * [`config`]: the deployment's config file (`[controller]`, `[core]`,
//!   `[functions.NAME]`) and `HIVEMIND_*` environment.
//! * [`otel`]: one trace per task instance (dispatch, pool invocation,
//!   result), its context sent to agents in `traceparent`
//!   (`hivemind-otel` exports when an endpoint is set).
//!
//! [`run_controller`] puts them together (what `hivemind up` runs).
//!
//! **Must not be a dependency of** the controller core, the simulator, the
//! language crate, the synthesizer or the edge agent.

pub mod clock;
pub mod config;
pub mod driver;
pub mod figures;
pub mod linkem;
pub mod otel;
pub mod payload_log;
pub mod pool_exec;
pub mod publish;
pub mod remote;
pub mod server;
pub mod store;

pub use driver::{Driver, DriverConfig, DriverError, DriverStats, Input, Outcome};
pub use figures::Figures;

use hivemind_controller::{Command, Config, Plan, Publication, TaskGraph};
use hivemind_cost::Profile;
use hivemind_functions::{Backend, InProcess, Registry};
use hivemind_net::tls::ServerIdentity;
use hivemind_telemetry::{BrokerUrl, Bus, BusConfig, EmbeddedBroker, EmbeddedConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where telemetry goes.
#[derive(Debug, Clone)]
pub enum Mqtt {
    /// An embedded broker on loopback (`None`: a free port).
    Embedded {
        port: Option<u16>,
    },
    /// Any MQTT 3.1.1 broker, e.g. `mqtt://127.0.0.1:1883`.
    External(BrokerUrl),
    Off,
}

/// Everything `hivemind up` decides.
pub struct ControllerSetup {
    pub graph: TaskGraph,
    pub plan: Plan,
    pub profile: Profile,
    pub config: Config,
    pub seed: u64,
    /// QUIC listen address.
    pub listen: SocketAddr,
    /// PKI directory (`hivemind certs init`).
    pub pki: PathBuf,
    pub driver: DriverConfig,
    pub mqtt: Mqtt,
    /// Functions; `None`: in-process, with the synthetic family for every
    /// function nobody registered.
    pub backend: Option<Arc<dyn Backend>>,
    /// Validation runs only: cold starts and cloud hand-offs take the
    /// simulator's time (see `pool_exec::Emulate`).
    pub emulate: Option<pool_exec::Emulate>,
}

/// What a running controller tells its caller once it listens.
#[derive(Debug, Clone)]
pub struct Listening {
    pub quic: SocketAddr,
    pub mqtt: Option<BrokerUrl>,
    pub recovered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("controller certificates in {dir}: {detail}")]
    Pki { dir: String, detail: String },
    #[error("QUIC endpoint on {addr}: {detail}")]
    Endpoint { addr: SocketAddr, detail: String },
    #[error("MQTT: {0}")]
    Mqtt(String),
    #[error("cost profile: {0}")]
    Profile(String),
    #[error("tokio runtime: {0}")]
    Tokio(std::io::Error),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("the driver thread panicked")]
    Panicked,
}

/// Run the mission's controller to the end: listen for agents, journal,
/// execute, publish telemetry. `on_listen` is called once it accepts
/// connections (tests and `--local` start agents then); `progress` sees
/// every publication. Ctrl-C stops the mission gracefully (drain, journal,
/// tell agents); a second Ctrl-C aborts it.
pub fn run_controller(
    setup: ControllerSetup,
    on_listen: impl FnOnce(&Listening),
    progress: Option<driver::Observer>,
) -> Result<Outcome, RuntimeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hivemind-rt")
        .enable_all()
        .build()
        .map_err(RuntimeError::Tokio)?;
    let identity = ServerIdentity::load(&setup.pki).map_err(|e| RuntimeError::Pki {
        dir: setup.pki.display().to_string(),
        detail: e.to_string(),
    })?;
    let figures = Figures::new(&setup.graph, &setup.plan, setup.profile.clone())
        .map_err(|e| RuntimeError::Profile(e.to_string()))?;
    let endpoint = {
        let _guard = rt.enter();
        hivemind_net::quic::server(setup.listen, &identity).map_err(|e| RuntimeError::Endpoint {
            addr: setup.listen,
            detail: e.to_string(),
        })?
    };
    let quic_addr = endpoint.local_addr().map_err(|e| RuntimeError::Endpoint {
        addr: setup.listen,
        detail: e.to_string(),
    })?;
    // The broker runs on its own thread for the life of the process
    // (rumqttd has no shutdown); the bus connects to it.
    let (broker, url) = match &setup.mqtt {
        Mqtt::Embedded { port } => {
            let b = EmbeddedBroker::start(&EmbeddedConfig {
                port: *port,
                ..EmbeddedConfig::default()
            })
            .map_err(|e| RuntimeError::Mqtt(e.to_string()))?;
            let url = b.url();
            (Some(b), Some(url))
        }
        Mqtt::External(u) => (None, Some(u.clone())),
        Mqtt::Off => (None, None),
    };
    let backend = setup.backend.clone().unwrap_or_else(|| {
        Arc::new(InProcess::new(Registry::new()).with_synthetic_fallback(true)) as Arc<dyn Backend>
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let mission = setup.graph.mission.clone();
    let graph_for_names = setup.graph.clone();
    let (mut driver, recovered) = Driver::open(
        setup.driver,
        setup.graph,
        setup.plan,
        setup.config,
        setup.seed,
        figures,
        backend,
        rt.handle().clone(),
        (tx.clone(), rx),
    )?;
    let publisher = match &url {
        Some(u) => {
            let _guard = rt.enter();
            let bus = Bus::connect(u, &mission, BusConfig::default())
                .map_err(|e| RuntimeError::Mqtt(e.to_string()))?;
            Some(std::sync::Arc::new(std::sync::Mutex::new(
                publish::Publisher::new(bus, driver.clock(), &graph_for_names),
            )))
        }
        None => None,
    };
    if let Some(p) = &publisher {
        let publisher_for_joins = p.clone();
        let p = p.clone();
        driver.observe(Box::new(move |pb: &Publication| {
            if let Ok(mut p) = p.lock() {
                p.publish(pb);
            }
        }));
        let p = publisher_for_joins;
        driver.observe_joins(Box::new(move |d| {
            if let Ok(mut p) = p.lock() {
                p.joined(d);
            }
        }));
    }
    if let Some(o) = progress {
        driver.observe(o);
    }
    if let Some(e) = setup.emulate {
        driver.emulate(e);
    }
    rt.spawn(server::serve(endpoint.clone(), tx.clone()));
    let ctrl_c = tx.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!(
                "Ctrl-C: stopping the mission (drain, then finish); Ctrl-C again aborts"
            );
            let _ = ctrl_c.send(Input::Operator(Command::Stop));
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = ctrl_c.send(Input::Operator(Command::Abort {
                    reason: "operator pressed Ctrl-C twice".into(),
                }));
            }
        }
    });
    drop(tx);
    on_listen(&Listening {
        quic: quic_addr,
        mqtt: url.clone(),
        recovered,
    });
    let handle = std::thread::Builder::new()
        .name("hivemind-driver".into())
        .spawn(move || driver.run(recovered))
        .map_err(RuntimeError::Tokio)?;
    let outcome = handle.join().map_err(|_| RuntimeError::Panicked)??;
    // Let the shutdown frames reach the agents, then close.
    rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    endpoint.close(server::close::MISSION_OVER.into(), b"mission finished");
    if let Some(p) = publisher {
        if let Ok(p) = Arc::try_unwrap(p) {
            if let Ok(p) = p.into_inner() {
                let dropped = p.close(Duration::from_secs(2));
                if dropped > 0 {
                    tracing::warn!(dropped, "telemetry messages dropped");
                }
            }
        }
    }
    drop(broker);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome)
}
