//! `hivemind-net`: the secure transport shared by the controller runtime and
//! the edge agent (`hive-agent`).
//!
//! It owns:
//! - [`pki`]: the deployment PKI on disk (CA, controller and device
//!   certificates, CRL) built with rcgen; what `hivemind certs` calls;
//! - [`tls`]: rustls configurations for mutual TLS on the ring provider
//!   (passed explicitly: two providers may be in the tree);
//! - [`quic`]: quinn endpoints with those configurations, connect with a
//!   deadline, accept with a typed and logged refusal, and the device id of
//!   a verified peer;
//! - [`frame`]: length-delimited frames (`u32` big-endian length + bytes)
//!   over any `AsyncRead`/`AsyncWrite`, with a maximum frame size.
//!
//! It moves opaque bytes: the wire messages live in `proto`. It must not
//! depend on the controller core, the simulator, the DSL, the synthesizer or
//! any other crate of this workspace (tested in `tests/boundaries.rs`).
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use hivemind_net::{frame, pki, quic, tls};
//! // Once per deployment (the CLI's `hivemind certs ...`):
//! pki::init(dir, pki::Validity::days(pki::CA_VALIDITY_DAYS), false)?;
//! pki::issue_controller(dir, pki::DEFAULT_CONTROLLER_NAMES, pki::Validity::days(365))?;
//! pki::issue_device(dir, 17, pki::Validity::days(365))?;
//!
//! // Controller:
//! let server = quic::server("127.0.0.1:0".parse()?, &tls::ServerIdentity::load(dir)?)?;
//! let addr = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Some(incoming) = server.accept().await {
//!         tokio::spawn(async move {
//!             // Refusals are logged by `accept`; the error says why.
//!             let Ok(dev) = quic::accept(incoming, quic::HANDSHAKE_TIMEOUT).await else { return };
//!             let Ok((mut tx, mut rx)) = frame::accept_bi(&dev.connection).await else { return };
//!             while let Ok(Some(msg)) = rx.read_frame().await {
//!                 if tx.write_frame(&msg).await.is_err() { break }
//!             }
//!         });
//!     }
//! });
//!
//! // Device 17:
//! let ep = quic::client("0.0.0.0:0".parse()?, &tls::ClientIdentity::load(dir, 17)?)?;
//! let conn = quic::connect(&ep, addr, "localhost", quic::HANDSHAKE_TIMEOUT).await?;
//! let (mut tx, mut rx) = frame::open_bi(&conn).await?;
//! tx.write_frame(b"hello").await?;
//! assert_eq!(rx.read_frame().await?.as_deref(), Some(&b"hello"[..]));
//! # Ok(()) }
//! ```

pub mod frame;
pub mod pki;
pub mod quic;
pub mod tls;

/// The quinn and rustls this crate is built against, so callers name the
/// same types.
pub use quinn;
pub use rustls;
