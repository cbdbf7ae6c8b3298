//! Serverless functions behind one trait: what the controller runtime's
//! pool actions (`StartWorker`, `Invoke`, `StopWorker`) and the edge agent's
//! device-local tasks run.
//!
//! A [`Backend`] starts [`Worker`]s by function name; starting a worker is
//! the **cold start**, invoking a worker that already exists is **warm**.
//! Three backends:
//!
//! * [`InProcess`]: Rust functions registered by name in a [`Registry`]
//!   (closures, or per-worker state through a factory), run on tokio's
//!   blocking pool so a CPU-bound function never stalls the runtime; a panic
//!   is caught and becomes [`FnError::Panicked`]. Optionally it falls back
//!   to the built-in [`synthetic`] family for names nobody registered.
//! * [`synthetic`]: does a task's declared work (CPU busy for a duration,
//!   or for an op count at a rate) and returns an output of a declared size
//!   and item count, deterministic bytes from a seed, so a mission whose
//!   functions are not written yet still runs with the cost model's
//!   service times.
//! * [`Subprocess`]: any executable in the OpenWhisk "blackbox" convention,
//!   JSON request on stdin and JSON response on stdout, either one process
//!   per invocation ([`Mode::OneShot`]) or one long-lived process answering
//!   one JSON line per request line ([`Mode::Persistent`]); time, memory,
//!   CPU, output and stderr are bounded ([`Limits`]).
//!
//! [`Stack`] puts several backends behind one: the first that knows a name
//! starts it. [`config`] reads a deployment's `[functions.NAME]` tables
//! (controller and agent alike) into that stack.
//!
//! Everything runs on the caller's tokio runtime, which needs its IO and
//! time drivers (`enable_all()`): child processes are watched through the
//! IO driver, and deadlines are tokio timers.
//!
//! # Example
//!
//! ```
//! use hivemind_functions::{Backend, Ctx, FnError, InProcess, Registry, Request, Response};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut registry = Registry::new();
//! registry.register("upper", |_: &Ctx, req: &Request| {
//!     Ok(Response::new(req.input.to_ascii_uppercase(), 1))
//! });
//! let backend = InProcess::new(registry).with_synthetic_fallback(true);
//! let worker = backend.start("upper").await?; // StartWorker: the cold start
//! let mut req = Request::new("upper", 3, 42); // task 3, instance 42
//! req.input = "tree".into();
//! let resp = worker.invoke(req).await?; // Invoke: warm
//! assert_eq!((&resp.output[..], resp.items), (&b"TREE"[..], 1));
//! worker.stop().await; // StopWorker
//! # Ok::<(), FnError>(()) }).unwrap();
//! ```
//!
//! # The subprocess JSON schema
//!
//! Request (one object; in persistent mode on one line ending in `\n`):
//!
//! ```json
//! {"function": "detect", "task": 3, "instance": 42, "model_version": 0,
//!  "input": "aGVsbG8=", "input_items": 1, "deadline_ms": 1000,
//!  "params": {"threshold": 0.5}}
//! ```
//!
//! `input` is the input bytes in standard base64 (with padding);
//! `deadline_ms` is the time the invocation has before it is killed;
//! `params` is the task's parameters, `null` when it has none.
//!
//! Response (one object; in persistent mode on one line):
//!
//! ```json
//! {"output": "d29ybGQ=", "items": 2}
//! {"output_text": "world", "items": 2}
//! {"error": "no trees in frame"}
//! ```
//!
//! `output` (base64) or `output_text` (UTF-8 text) carry the output, at
//! most one of them (neither: empty output); `items` is how many values
//! the output holds (default 1); `error` alone reports that the function
//! failed ([`FnError::Failed`]). Unknown fields are refused, so a
//! misspelt `ouput` is an error rather than an empty result. See
//! `docs/functions.md` for the whole contract (exit codes, limits,
//! persistent workers).
//!
//! A persistent worker whose spec sets `ready` first writes
//! `{"ready": true}` on a line of its own when it can serve (after loading
//! its model); its cold start ends there.
//!
//! # Boundaries
//!
//! This crate owns "a function behind one trait", not the pool policy:
//! which worker runs what, keep-alive and concurrency are the controller
//! core's. It depends on tokio, serde, libc and nothing of this workspace;
//! it **must not depend on** the controller core, the simulator, the
//! language crate, the synthesizer or z3, so the edge agent can use it.

pub mod config;
mod error;
mod inprocess;
mod stack;
mod subprocess;
pub mod synthetic;
mod warm;
pub mod wire;

pub use error::FnError;
pub use inprocess::{Ctx, Handler, HandlerResult, InProcess, Registry};
pub use stack::Stack;
pub use subprocess::{ActionSpec, Limits, Mode, Subprocess};
pub use warm::{invoke, WarmWorkers};

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future: what keeps [`Backend`] and [`Worker`]
/// object-safe without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One invocation of a function: an attempt of a task instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The function's name, as the plan names it.
    pub function: String,
    /// The task (`TaskId` in the IR).
    pub task: u32,
    /// The task instance this attempt runs (`InstanceId`): several
    /// attempts of one instance carry the same number.
    pub instance: u64,
    /// The version of the task's retrained model to use (0: the original).
    pub model_version: u32,
    /// The input bytes (cheap to clone for a relaunched attempt).
    pub input: Bytes,
    /// How many values `input` holds.
    pub input_items: u32,
    /// How long the invocation may take, from the moment `invoke` is
    /// called; past it the invocation fails with [`FnError::Timeout`].
    pub deadline: Duration,
    /// The task's parameters (e.g. [`synthetic::SyntheticParams`]);
    /// `Null` when it has none.
    pub params: serde_json::Value,
}

impl Request {
    /// A request with no input, no parameters and a 60 s deadline.
    pub fn new(function: impl Into<String>, task: u32, instance: u64) -> Self {
        Request {
            function: function.into(),
            task,
            instance,
            model_version: 0,
            input: Bytes::new(),
            input_items: 0,
            deadline: Duration::from_secs(60),
            params: serde_json::Value::Null,
        }
    }
}

/// What a successful invocation produced: the runtime reports it as
/// `TaskResult { items, bytes: output.len(), .. }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub output: Bytes,
    /// How many values `output` holds.
    pub items: u32,
}

impl Response {
    pub fn new(output: impl Into<Bytes>, items: u32) -> Self {
        Response {
            output: output.into(),
            items,
        }
    }
}

/// A place functions run: starts workers by name.
pub trait Backend: Send + Sync {
    /// Whether this backend can start `function` (a [`Stack`] asks).
    fn has(&self, function: &str) -> bool;

    /// Start a worker for `function`: the cold start. Unknown names fail
    /// with [`FnError::UnknownFunction`]. The future owns what it needs,
    /// so the runtime can spawn it.
    fn start(&self, function: &str) -> BoxFuture<'static, Result<Box<dyn Worker>, FnError>>;
}

/// A started worker of one function. It may run several invocations at
/// once (the pool's concurrency slots); a backend that cannot (a
/// persistent process speaks one request at a time) queues them inside.
pub trait Worker: Send + Sync {
    /// The function this worker runs.
    fn function(&self) -> &str;

    /// Run one invocation (warm). The future is `'static` so the runtime
    /// can spawn it and hold the worker in an `Arc`; dropping the future
    /// cancels the invocation (see each backend for how far that reaches).
    fn invoke(&self, req: Request) -> BoxFuture<'static, Result<Response, FnError>>;

    /// False once the worker cannot take invocations any more (its
    /// process died, a timeout killed it, or it was stopped): the runtime
    /// should stop it and let the pool start another.
    fn is_alive(&self) -> bool;

    /// Stop the worker and release what it holds (processes are killed
    /// and reaped). Later invocations fail with [`FnError::WorkerDead`].
    fn stop(&self) -> BoxFuture<'static, ()>;
}
