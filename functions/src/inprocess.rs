//! Rust functions registered by name, run in this process.

use crate::synthetic;
use crate::{Backend, BoxFuture, FnError, Request, Response, Worker};
use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a function returns: its response, or any error (a returned
/// [`FnError`] passes through unchanged; anything else becomes
/// [`FnError::Failed`] with the error's message).
pub type HandlerResult = Result<Response, Box<dyn std::error::Error + Send + Sync>>;

/// A function's code. Closures `Fn(&Ctx, &Request) -> HandlerResult`
/// are handlers. A worker's invocations may run at once on several
/// threads, so state a handler changes needs its own lock.
pub trait Handler: Send + Sync + 'static {
    fn call(&self, ctx: &Ctx, req: &Request) -> HandlerResult;
}

impl<F> Handler for F
where
    F: Fn(&Ctx, &Request) -> HandlerResult + Send + Sync + 'static,
{
    fn call(&self, ctx: &Ctx, req: &Request) -> HandlerResult {
        self(ctx, req)
    }
}

/// What a running invocation can ask: whether to stop. A long function
/// should call [`Ctx::check`] now and then; the runtime cannot stop a
/// thread, only report the timeout and tell the function.
#[derive(Debug, Clone)]
pub struct Ctx {
    function: Arc<str>,
    cancelled: Arc<AtomicBool>,
    started: Instant,
    deadline: Instant,
}

impl Ctx {
    fn new(function: Arc<str>, budget: Duration) -> Self {
        let started = Instant::now();
        Ctx {
            function,
            cancelled: Arc::new(AtomicBool::new(false)),
            started,
            // A budget too large for the clock means "no deadline".
            deadline: started
                .checked_add(budget)
                .unwrap_or(started + Duration::from_secs(86_400 * 365)),
        }
    }

    /// When the invocation must be done by.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The invocation was cancelled or its deadline has passed.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// `Err` (cancelled or timed out) once the function should stop.
    pub fn check(&self) -> Result<(), FnError> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(FnError::Cancelled {
                function: self.function.to_string(),
            });
        }
        if Instant::now() >= self.deadline {
            return Err(FnError::Timeout {
                function: self.function.to_string(),
                after: self.deadline.saturating_duration_since(self.started),
            });
        }
        Ok(())
    }

    /// The function being run (the name the request used).
    pub fn function(&self) -> &str {
        &self.function
    }
}

type Factory = dyn Fn() -> Result<Arc<dyn Handler>, FnError> + Send + Sync;

#[derive(Clone)]
enum Entry {
    /// One handler shared by every worker.
    Shared(Arc<dyn Handler>),
    /// Shared, and run on the invoking task instead of the blocking pool.
    Inline(Arc<dyn Handler>),
    /// A fresh handler per worker, made at its start (the cold start).
    Factory(Arc<Factory>),
}

/// Functions by name. [`synthetic::NAME`] is always there unless a
/// function of that name is registered.
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("functions", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a stateless function (or one whose state all workers
    /// share); a later registration of the same name replaces it.
    pub fn register(&mut self, name: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.entries
            .insert(name.into(), Entry::Shared(Arc::new(handler)));
        self
    }

    /// Register a function that returns in microseconds (a lookup, a
    /// format conversion): it runs on the invoking task, skipping the
    /// hand-off to the blocking pool (about 10-20 µs here). Panics are
    /// still caught, but nothing can stop it while it runs, and a slow
    /// one stalls the async runtime: anything CPU-heavy belongs in
    /// [`Registry::register`].
    pub fn register_inline(&mut self, name: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.entries
            .insert(name.into(), Entry::Inline(Arc::new(handler)));
        self
    }

    /// Register a function with per-worker state: `factory` runs (on the
    /// blocking pool, panics caught) each time a worker starts, e.g. to
    /// load a model, and its handler serves that worker's invocations.
    pub fn register_factory<F, H>(&mut self, name: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn() -> Result<H, FnError> + Send + Sync + 'static,
        H: Handler,
    {
        let factory: Arc<Factory> =
            Arc::new(move || factory().map(|h| Arc::new(h) as Arc<dyn Handler>));
        self.entries.insert(name.into(), Entry::Factory(factory));
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name) || name == synthetic::NAME
    }

    /// Registered names, sorted, with [`synthetic::NAME`].
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.keys().cloned().collect();
        if !self.entries.contains_key(synthetic::NAME) {
            names.push(synthetic::NAME.to_string());
            names.sort();
        }
        names
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        self.entries.get(name).cloned()
    }
}

/// The in-process backend over a [`Registry`].
#[derive(Debug, Clone)]
pub struct InProcess {
    registry: Arc<Registry>,
    synthetic_fallback: bool,
}

impl InProcess {
    /// Unknown names fail with [`FnError::UnknownFunction`].
    pub fn new(registry: Registry) -> Self {
        InProcess {
            registry: Arc::new(registry),
            synthetic_fallback: false,
        }
    }

    /// With `on`, a name nobody registered starts a [`synthetic`] worker
    /// (reported under the requested name) instead of failing: what a
    /// mission whose functions are not written yet runs on.
    pub fn with_synthetic_fallback(mut self, on: bool) -> Self {
        self.synthetic_fallback = on;
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Backend for InProcess {
    fn has(&self, function: &str) -> bool {
        self.synthetic_fallback || self.registry.contains(function)
    }

    fn start(&self, function: &str) -> BoxFuture<'static, Result<Box<dyn Worker>, FnError>> {
        let name: Arc<str> = Arc::from(function);
        let entry = match self.registry.entry(function) {
            Some(e) => Ok(e),
            None if function == synthetic::NAME || self.synthetic_fallback => {
                Ok(Entry::Shared(Arc::new(synthetic::run)))
            }
            None => Err(FnError::UnknownFunction {
                function: function.to_string(),
                known: self.registry.names(),
            }),
        };
        Box::pin(async move {
            let mut inline = false;
            let handler = match entry? {
                Entry::Shared(h) => h,
                Entry::Inline(h) => {
                    inline = true;
                    h
                }
                Entry::Factory(factory) => {
                    let fname = name.clone();
                    let made = tokio::task::spawn_blocking(move || {
                        catch_unwind(AssertUnwindSafe(|| factory()))
                    })
                    .await;
                    match made {
                        Ok(Ok(Ok(h))) => h,
                        Ok(Ok(Err(e))) => return Err(e),
                        Ok(Err(payload)) => {
                            return Err(FnError::Panicked {
                                function: fname.to_string(),
                                message: panic_message(payload.as_ref()),
                            })
                        }
                        Err(join) => {
                            return Err(FnError::WorkerDead {
                                function: fname.to_string(),
                                reason: format!("its start did not finish: {join}"),
                            })
                        }
                    }
                }
            };
            Ok(Box::new(InProcessWorker {
                function: name,
                handler,
                inline,
                alive: Arc::new(AtomicBool::new(true)),
            }) as Box<dyn Worker>)
        })
    }
}

struct InProcessWorker {
    function: Arc<str>,
    handler: Arc<dyn Handler>,
    inline: bool,
    alive: Arc<AtomicBool>,
}

/// Dropping the invocation's future (the runtime's `Cancel`) tells the
/// function through its [`Ctx`].
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Worker for InProcessWorker {
    fn function(&self) -> &str {
        &self.function
    }

    fn invoke(&self, req: Request) -> BoxFuture<'static, Result<Response, FnError>> {
        let function = self.function.clone();
        let handler = self.handler.clone();
        let alive = self.alive.load(Ordering::Relaxed);
        let budget = req.deadline;
        let inline = self.inline;
        Box::pin(async move {
            if !alive {
                return Err(FnError::WorkerDead {
                    function: function.to_string(),
                    reason: "stopped".into(),
                });
            }
            let ctx = Ctx::new(function.clone(), budget);
            if inline {
                let ran = catch_unwind(AssertUnwindSafe(|| handler.call(&ctx, &req)));
                return finish(&function, ran);
            }
            let _cancel = CancelOnDrop(ctx.cancelled.clone());
            let fname = function.clone();
            let job = tokio::task::spawn_blocking(move || {
                catch_unwind(AssertUnwindSafe(|| handler.call(&ctx, &req)))
            });
            let outcome = match tokio::time::timeout(budget, job).await {
                Err(_) => {
                    return Err(FnError::Timeout {
                        function: fname.to_string(),
                        after: budget,
                    })
                }
                Ok(joined) => joined,
            };
            match outcome {
                Ok(ran) => finish(&fname, ran),
                // The blocking pool is shutting down with the runtime.
                Err(join) => Err(FnError::WorkerDead {
                    function: fname.to_string(),
                    reason: format!("the invocation did not finish: {join}"),
                }),
            }
        })
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        self.alive.store(false, Ordering::Relaxed);
        Box::pin(async {})
    }
}

/// A handler's result, or its panic, as the invocation's result.
fn finish(
    function: &str,
    ran: Result<HandlerResult, Box<dyn Any + Send>>,
) -> Result<Response, FnError> {
    match ran {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(match e.downcast::<FnError>() {
            Ok(fe) => *fe,
            Err(other) => FnError::Failed {
                function: function.to_string(),
                message: other.to_string(),
            },
        }),
        Err(payload) => Err(FnError::Panicked {
            function: function.to_string(),
            message: panic_message(payload.as_ref()),
        }),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}
