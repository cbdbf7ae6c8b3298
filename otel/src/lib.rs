//! Tracing setup shared by the controller (`hivemind up`) and the edge
//! agent (`hive-agent`): log lines on stderr always, and OpenTelemetry span
//! export over OTLP/gRPC only when an endpoint is given (`--otlp`, else
//! `OTEL_EXPORTER_OTLP_ENDPOINT`). Without one no exporter, runtime or
//! thread is created and spans cost what a `tracing` span costs.
//!
//! It also owns trace-context propagation over the wire: a span's context
//! as a W3C `traceparent` string ([`traceparent`]) and back
//! ([`set_parent`]), so one task instance is one trace across processes.
//! The strings travel in `hivemind-proto` frames; this crate does not know
//! the frames.
//!
//! **Must not be a dependency of** the controller core, the simulator, the
//! language crate, the synthesizer or `hivemind-proto`: tracing is an IO
//! policy of the runtime and the agent.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The environment variable the OpenTelemetry specification names for the
/// collector's address; `--otlp` overrides it.
pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// What reaches the exporter: our spans at `info` and above, never the
/// exporter's own HTTP/2 and gRPC machinery (exporting those would trace
/// the export of the export, forever) nor the transport's internals.
pub const SPAN_FILTER: &str =
    "info,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,quinn=off,quinn_proto=off,rustls=off,rumqttd=off,rumqttc=off";

/// How long shutdown waits for the last spans to leave.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    #[error("OTLP endpoint `{0}` must be an http:// or https:// URL, e.g. http://127.0.0.1:4317")]
    Endpoint(String),
    #[error("cannot start the exporter's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build the OTLP exporter for {endpoint}: {detail}")]
    Exporter { endpoint: String, detail: String },
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// The endpoint to export to: the command line's, else the environment's
/// (an empty value counts as unset), else none.
pub fn endpoint(cli: Option<&str>) -> Option<String> {
    cli.map(str::to_owned)
        .or_else(|| std::env::var(ENDPOINT_ENV).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Whether this process exports spans: set by [`init`] with an endpoint,
/// cleared when the exporter stops.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans now ([`init`] was given an
/// endpoint and its exporter runs). Span bookkeeping that only serves the
/// export (the controller's open instance spans) is skipped without it.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Keeps the exporter alive; dropping it (or [`OtelGuard::shutdown`])
/// flushes the spans still queued. Keep it until the program exits.
pub struct OtelGuard {
    provider: Option<SdkTracerProvider>,
    // The tonic channel's tasks run here; the batch processor has its own
    // thread and blocks on exports, which needs a reactor somewhere.
    runtime: Option<tokio::runtime::Runtime>,
}

impl OtelGuard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flush queued spans and stop the exporter (also done on drop).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(p) = self.provider.take() {
            EXPORTING.store(false, Ordering::Relaxed);
            if let Err(e) = p.shutdown_with_timeout(FLUSH_TIMEOUT) {
                eprintln!("OpenTelemetry: spans may be lost at exit: {e}");
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Install the process's tracing subscriber: log lines filtered by
/// `log_filter` on stderr, and, when `endpoint` is given, every span that
/// passes [`SPAN_FILTER`] exported over OTLP/gRPC as service `service`.
pub fn init(
    service: &str,
    endpoint: Option<&str>,
    log_filter: EnvFilter,
) -> Result<OtelGuard, OtelError> {
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(log_filter);
    let Some(endpoint) = endpoint else {
        tracing_subscriber::registry()
            .with(fmt)
            .try_init()
            .map_err(|_| OtelError::AlreadyInstalled)?;
        return Ok(OtelGuard {
            provider: None,
            runtime: None,
        });
    };
    let (provider, runtime) = exporter(service, endpoint)?;
    let tracer = provider.tracer("hivemind");
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(EnvFilter::new(SPAN_FILTER));
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    let guard = OtelGuard {
        provider: Some(provider),
        runtime: Some(runtime),
    };
    installed.map_err(|_| OtelError::AlreadyInstalled)?;
    EXPORTING.store(true, Ordering::Relaxed);
    Ok(guard)
}

fn exporter(
    service: &str,
    endpoint: &str,
) -> Result<(SdkTracerProvider, tokio::runtime::Runtime), OtelError> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(OtelError::Endpoint(endpoint.to_owned()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otel-export")
        .enable_all()
        .build()
        .map_err(OtelError::Runtime)?;
    let exporter = {
        let _enter = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| OtelError::Exporter {
                endpoint: endpoint.to_owned(),
                detail: e.to_string(),
            })?
    };
    // A busy mission makes hundreds of spans a second: a queue deep enough
    // for several seconds of them, sent every half second.
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(65_536)
                .with_max_export_batch_size(1024)
                .with_scheduled_delay(Duration::from_millis(500))
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    Ok((provider, runtime))
}

/// The span's context as a W3C `traceparent`; empty when the span is not
/// exported (no exporter, or filtered out), so peers see "not traced".
pub fn traceparent(span: &tracing::Span) -> String {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return String::new();
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

/// Make `span` a child of the remote span `traceparent` names. Returns
/// whether it did: an empty, malformed or all-zero `traceparent` (it comes
/// off the wire) leaves the span where it was, a root of its own trace.
/// Call it before the span is first entered.
pub fn set_parent(span: &tracing::Span, traceparent: &str) -> bool {
    let Some(cx) = remote_context(traceparent) else {
        return false;
    };
    span.set_parent(cx).is_ok()
}

/// Make `span` a child of the local span `parent` (when the parent is
/// only known after `span` was created). Call it before `span` is entered.
pub fn adopt(span: &tracing::Span, parent: &tracing::Span) {
    let _ = span.set_parent(parent.context());
}

/// A count or id as a span attribute: the OpenTelemetry layer exports a
/// `u64` as text, an `i64` as an integer (saturating; ids never get near).
pub fn int(v: impl Into<u64>) -> i64 {
    i64::try_from(v.into()).unwrap_or(i64::MAX)
}

/// Whether `traceparent` names a valid remote span.
pub fn is_valid(traceparent: &str) -> bool {
    remote_context(traceparent).is_some()
}

/// The W3C shape, strictly: the SDK's parser is lenient (it takes a
/// 31-digit trace id), and these strings come from other processes.
fn well_formed(tp: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let parts: Vec<&str> = tp.split('-').collect();
    match parts.as_slice() {
        [version, trace, parent, flags, rest @ ..] => {
            hex(version, 2)
                && *version != "ff"
                && (rest.is_empty() || *version != "00")
                && hex(trace, 32)
                && hex(parent, 16)
                && hex(flags, 2)
        }
        _ => false,
    }
}

fn remote_context(traceparent: &str) -> Option<opentelemetry::Context> {
    if traceparent.len() > 256 || !well_formed(traceparent) {
        return None;
    }
    let carrier: HashMap<String, String> =
        HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_come_from_the_command_line_first() {
        assert_eq!(
            endpoint(Some("http://127.0.0.1:4317")).as_deref(),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(endpoint(Some("  ")), None, "blank is unset");
    }

    #[test]
    fn garbage_traceparents_are_not_parents() {
        for tp in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01-",
            "é-é-é-é",
        ] {
            assert!(!is_valid(tp), "{tp:?} accepted");
        }
        assert!(!is_valid(&"0".repeat(10_000)));
        assert!(is_valid(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
    }

    #[test]
    fn without_a_subscriber_spans_carry_no_context() {
        let span = tracing::info_span!("x");
        assert_eq!(traceparent(&span), "");
        assert!(!set_parent(&span, "garbage"));
    }

    #[test]
    fn a_bad_endpoint_is_a_clear_error() {
        let err = exporter("t", "127.0.0.1:4317").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("http://")));
    }
}
