//! One long-lived process per worker: a request line in, a response line
//! out.

use super::io::{read_line_bounded, Line, Tail};
use super::{describe_status, kill_group, ActionSpec};
use crate::wire::{self, Decoded};
use crate::{BoxFuture, FnError, Request, Response, Worker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{watch, Mutex};

/// How long to wait for a dying process's exit status and last stderr.
const EXIT_WAIT: Duration = Duration::from_secs(2);

struct Pipes {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

struct Shared {
    function: Arc<str>,
    spec: Arc<ActionSpec>,
    pgid: Option<u32>,
    /// False once the process exited or the worker was killed or stopped.
    alive: AtomicBool,
    /// `stop` was called: later invocations say so rather than how the
    /// process ended.
    stopped: AtomicBool,
    /// One exchange at a time: the protocol has no request ids. `None`
    /// once the worker is dead.
    pipes: Mutex<Option<Pipes>>,
    /// How the process ended, once it has (and its stderr is drained).
    exited: watch::Receiver<Option<String>>,
    stderr: Tail,
}

impl Shared {
    fn stderr_text(&self) -> String {
        self.stderr.text(self.spec.limits.max_stderr_bytes)
    }

    /// Kill the process (idempotent). Its pipes go with it.
    fn kill(&self, pipes: &mut Option<Pipes>, why: &str) {
        tracing::debug!(function = &*self.function, pgid = ?self.pgid, why, "killing persistent worker");
        *pipes = None;
        // Once the watcher saw the exit the group may be gone and its id
        // free again: signal only a live one.
        if self.alive.swap(false, Ordering::SeqCst) {
            kill_group(self.pgid);
        }
    }

    /// The exit, as text, waiting briefly for it.
    async fn exit_description(&self) -> String {
        let mut rx = self.exited.clone();
        let waited = tokio::time::timeout(EXIT_WAIT, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(s)) => s.clone().unwrap_or_default(),
            _ => "stopped answering".into(),
        }
    }

    async fn dead(&self) -> FnError {
        if self.stopped.load(Ordering::SeqCst) {
            return FnError::WorkerDead {
                function: self.function.to_string(),
                reason: "stopped".into(),
            };
        }
        let status = self.exit_description().await;
        FnError::WorkerDead {
            function: self.function.to_string(),
            reason: format!("its process {status}{}", stderr_suffix(&self.stderr_text())),
        }
    }
}

fn stderr_suffix(s: &str) -> String {
    let t = s.trim_end();
    if t.is_empty() {
        String::new()
    } else {
        format!("; stderr: {t}")
    }
}

pub(super) async fn start(
    function: Arc<str>,
    spec: Arc<ActionSpec>,
) -> Result<Box<dyn Worker>, FnError> {
    let mut child = super::spawn(&spec).await.map_err(|source| FnError::Spawn {
        function: function.to_string(),
        program: spec.program.display().to_string(),
        source,
    })?;
    let pgid = child.id();
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill_group(pgid);
        return Err(FnError::Io {
            function: function.to_string(),
            source: std::io::Error::other("the child's pipes are missing"),
        });
    };
    let tail = Tail::default();
    let drain = {
        let tail = tail.clone();
        let cap = spec.limits.max_stderr_bytes;
        tokio::spawn(async move { tail.drain(stderr, cap).await })
    };
    let (tx, rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        function,
        spec: spec.clone(),
        pgid,
        alive: AtomicBool::new(true),
        stopped: AtomicBool::new(false),
        pipes: Mutex::new(Some(Pipes {
            stdin,
            stdout: BufReader::new(stdout),
        })),
        exited: rx,
        stderr: tail,
    });
    // The watcher owns the child: it notices a death between invocations
    // (is_alive turns false) and reaps the process.
    let watched = shared.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        if watched.alive.swap(false, Ordering::SeqCst) {
            // The leader ended on its own: take what it left behind, so
            // they release stderr. Its group id is not reusable while
            // any of them lives.
            kill_group(watched.pgid);
        }
        let _ = tokio::time::timeout(EXIT_WAIT, drain).await;
        let text = match status {
            Ok(s) => describe_status(s, &watched.spec.limits),
            Err(e) => format!("could not be waited for ({e})"),
        };
        tracing::debug!(function = &*watched.function, status = %text, "persistent worker ended");
        tx.send_replace(Some(text));
    });
    let worker = PersistentWorker { shared };
    if spec.ready {
        worker.wait_ready().await?;
    }
    Ok(Box::new(worker))
}

struct PersistentWorker {
    shared: Arc<Shared>,
}

impl Drop for PersistentWorker {
    fn drop(&mut self) {
        if self.shared.alive.swap(false, Ordering::SeqCst) {
            kill_group(self.shared.pgid);
        }
    }
}

impl PersistentWorker {
    /// Read the process's `{"ready": true}`; on anything else the process
    /// is killed (by the caller dropping `self`) and the start fails.
    async fn wait_ready(&self) -> Result<(), FnError> {
        let shared = &self.shared;
        let function = || shared.function.to_string();
        let limits = &shared.spec.limits;
        let budget = Duration::from_millis(limits.start_timeout_ms);
        let mut pipes = shared.pipes.lock().await;
        let Some(p) = pipes.as_mut() else {
            return Err(shared.dead().await);
        };
        let first = tokio::time::timeout(
            budget,
            read_line_bounded(&mut p.stdout, limits.max_output_bytes),
        )
        .await;
        let err = match first {
            Ok(Ok(Line::Text(l))) => match wire::decode_ready(&l) {
                Ok(()) => return Ok(()),
                Err(reason) => FnError::BadResponse {
                    function: function(),
                    reason,
                    stderr: shared.stderr_text(),
                },
            },
            Ok(Ok(Line::TooLong)) => FnError::OutputTooLarge {
                function: function(),
                limit: limits.max_output_bytes,
                stderr: shared.stderr_text(),
            },
            Ok(Ok(Line::Eof)) | Ok(Err(_)) => {
                shared.kill(&mut pipes, "died before it was ready");
                FnError::Exited {
                    function: function(),
                    status: format!("{} before it was ready", shared.exit_description().await),
                    stderr: shared.stderr_text(),
                }
            }
            Err(_) => FnError::Timeout {
                function: function(),
                after: budget,
            },
        };
        shared.kill(&mut pipes, "not ready");
        Err(err)
    }
}

impl Worker for PersistentWorker {
    fn function(&self) -> &str {
        &self.shared.function
    }

    fn invoke(&self, req: Request) -> BoxFuture<'static, Result<Response, FnError>> {
        let shared = self.shared.clone();
        // Its own task: if the caller drops the future mid-exchange, the
        // exchange still completes (or times out), so the next request
        // never reads this one's answer.
        let task = tokio::spawn(exchange(shared.clone(), req));
        Box::pin(async move {
            match task.await {
                Ok(r) => r,
                Err(join) => Err(FnError::WorkerDead {
                    function: shared.function.to_string(),
                    reason: format!("the exchange did not finish ({join})"),
                }),
            }
        })
    }

    fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        shared.stopped.store(true, Ordering::SeqCst);
        // An exchange in flight ends with EOF once the process is dead.
        if shared.alive.swap(false, Ordering::SeqCst) {
            kill_group(shared.pgid);
        }
        Box::pin(async move {
            let _ = shared.exit_description().await;
            shared.pipes.lock().await.take();
        })
    }
}

async fn exchange(shared: Arc<Shared>, req: Request) -> Result<Response, FnError> {
    let function = || shared.function.to_string();
    let limits = &shared.spec.limits;
    let budget = req.deadline.min(limits.timeout());
    let started = Instant::now();
    if !shared.alive.load(Ordering::SeqCst) {
        return Err(shared.dead().await);
    }
    // Waiting for the process counts against the deadline, but a timeout
    // here is not the process's fault: it lives on.
    let Ok(mut pipes) = tokio::time::timeout(budget, shared.pipes.lock()).await else {
        return Err(FnError::Timeout {
            function: function(),
            after: budget,
        });
    };
    let Some(p) = pipes.as_mut() else {
        return Err(shared.dead().await);
    };
    let mut line = wire::encode_request(&req);
    line.push(b'\n');
    let max = limits.max_output_bytes;
    let answer = tokio::time::timeout(budget.saturating_sub(started.elapsed()), async {
        p.stdin.write_all(&line).await?;
        p.stdin.flush().await?;
        read_line_bounded(&mut p.stdout, max).await
    })
    .await;
    match answer {
        Ok(Ok(Line::Text(l))) => match wire::decode_response(&l) {
            Ok(resp) => Ok(resp),
            Err(Decoded::Failed(message)) => Err(FnError::Failed {
                function: function(),
                message,
            }),
            Err(Decoded::Bad(reason)) => {
                // A line that is not a response (a stray print?) means the
                // next line may be this request's answer: framing is lost.
                shared.kill(&mut pipes, "bad response");
                Err(FnError::BadResponse {
                    function: function(),
                    reason: format!("{reason} (the worker is stopped)"),
                    stderr: shared.stderr_text(),
                })
            }
        },
        Ok(Ok(Line::TooLong)) => {
            shared.kill(&mut pipes, "output too large");
            Err(FnError::OutputTooLarge {
                function: function(),
                limit: max,
                stderr: shared.stderr_text(),
            })
        }
        Ok(Ok(Line::Eof)) | Ok(Err(_)) => {
            // It died (a broken pipe or EOF): the exit status says why.
            shared.kill(&mut pipes, "its pipes closed");
            let status = shared.exit_description().await;
            Err(FnError::Exited {
                function: function(),
                status,
                stderr: shared.stderr_text(),
            })
        }
        Err(_) => {
            shared.kill(&mut pipes, "timeout");
            Err(FnError::Timeout {
                function: function(),
                after: budget,
            })
        }
    }
}
