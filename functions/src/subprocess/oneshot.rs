//! A process per invocation.

use super::io::{read_bounded, Tail};
use super::{describe_status, kill_group, ActionSpec};
use crate::wire::{self, Decoded};
use crate::{BoxFuture, FnError, Request, Response, Worker};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

/// How long a killed process may take to be reaped before we give up
/// waiting (it is then reaped in the background by tokio).
const REAP_WAIT: Duration = Duration::from_secs(5);

pub(super) fn start(function: Arc<str>, spec: Arc<ActionSpec>) -> Result<Box<dyn Worker>, FnError> {
    // Nothing runs until an invocation, but a missing program is worth
    // knowing at the cold start rather than on every invocation.
    if spec.program.is_absolute() && !spec.program.is_file() {
        return Err(FnError::Spawn {
            function: function.to_string(),
            program: spec.program.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    Ok(Box::new(OneShotWorker {
        function,
        spec,
        alive: AtomicBool::new(true),
    }))
}

struct OneShotWorker {
    function: Arc<str>,
    spec: Arc<ActionSpec>,
    alive: AtomicBool,
}

impl Worker for OneShotWorker {
    fn function(&self) -> &str {
        &self.function
    }

    fn invoke(&self, req: Request) -> BoxFuture<'static, Result<Response, FnError>> {
        let function = self.function.clone();
        let spec = self.spec.clone();
        let alive = self.alive.load(Ordering::Relaxed);
        Box::pin(async move {
            if !alive {
                return Err(FnError::WorkerDead {
                    function: function.to_string(),
                    reason: "stopped".into(),
                });
            }
            run(&function, &spec, req).await
        })
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        // Running invocations finish; each owns its process.
        self.alive.store(false, Ordering::Relaxed);
        Box::pin(async {})
    }
}

/// Kills the group if the invocation's future is dropped (the runtime's
/// `Cancel`) before the process was reaped.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// What the exchange with the process gathered.
struct Gathered {
    status: std::io::Result<ExitStatus>,
    /// `Err(())`: more than the output limit.
    stdout: std::io::Result<Result<Vec<u8>, ()>>,
}

async fn run(function: &str, spec: &ActionSpec, req: Request) -> Result<Response, FnError> {
    let limits = &spec.limits;
    let budget = req.deadline.min(limits.timeout());
    let mut line = wire::encode_request(&req);
    line.push(b'\n');
    let mut child = super::spawn(spec).await.map_err(|source| FnError::Spawn {
        function: function.to_string(),
        program: spec.program.display().to_string(),
        source,
    })?;
    let pgid = child.id();
    let mut guard = KillOnDrop(pgid);
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(FnError::Io {
            function: function.to_string(),
            source: std::io::Error::other("the child's pipes are missing"),
        });
    };
    let tail = Tail::default();
    let gathered = tokio::time::timeout(
        budget,
        exchange(&mut child, pgid, line, stdin, stdout, stderr, &tail, spec),
    )
    .await;
    let io_err = |source| FnError::Io {
        function: function.to_string(),
        source,
    };
    let stderr_text = || tail.text(limits.max_stderr_bytes);
    let gathered = match gathered {
        Ok(g) => {
            // Reaped: the group id may be reused once its members are gone.
            guard.0 = None;
            g
        }
        Err(_) => {
            tracing::debug!(
                function,
                ?pgid,
                ?budget,
                "one-shot invocation timed out: killing its group"
            );
            kill_group(pgid);
            let _ = tokio::time::timeout(REAP_WAIT, child.wait()).await;
            guard.0 = None;
            return Err(FnError::Timeout {
                function: function.to_string(),
                after: budget,
            });
        }
    };
    let status = gathered.status.map_err(io_err)?;
    let stdout = match gathered.stdout.map_err(io_err)? {
        Ok(out) => out,
        Err(()) => {
            return Err(FnError::OutputTooLarge {
                function: function.to_string(),
                limit: limits.max_output_bytes,
                stderr: stderr_text(),
            })
        }
    };
    match wire::decode_stdout(&stdout) {
        Ok(resp) if status.success() => Ok(resp),
        Err(Decoded::Failed(message)) => Err(FnError::Failed {
            function: function.to_string(),
            message,
        }),
        Err(Decoded::Bad(reason)) if status.success() => Err(FnError::BadResponse {
            function: function.to_string(),
            reason,
            stderr: stderr_text(),
        }),
        // A failed process's output is not trusted even if it parses.
        _ => Err(FnError::Exited {
            function: function.to_string(),
            status: describe_status(status, limits),
            stderr: stderr_text(),
        }),
    }
}

/// Write the request, read stdout (bounded) and stderr (tail) and wait for
/// the exit, all at once: a process may fill a pipe before it reads its
/// input or exits. When the leader exits or writes too much, its group is
/// killed, so children it left holding the pipes cannot keep us waiting.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    child: &mut Child,
    pgid: Option<u32>,
    line: Vec<u8>,
    mut stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    tail: &Tail,
    spec: &ActionSpec,
) -> Gathered {
    let write = async move {
        // A function may exit without reading its input: a broken pipe is
        // its business, and its exit status tells the story.
        let _ = stdin.write_all(&line).await;
        drop(stdin);
    };
    let read_out = read_bounded(stdout, spec.limits.max_output_bytes);
    let read_err = tail.drain(stderr, spec.limits.max_stderr_bytes);
    let wait = child.wait();
    tokio::pin!(write, read_out, read_err, wait);
    let mut status = None;
    let mut out = None;
    let mut err_done = false;
    let mut write_done = false;
    while status.is_none() || out.is_none() || !err_done {
        tokio::select! {
            s = &mut wait, if status.is_none() => {
                kill_group(pgid);
                status = Some(s);
            }
            o = &mut read_out, if out.is_none() => {
                if matches!(o, Ok(Err(()))) {
                    kill_group(pgid);
                }
                out = Some(o);
            }
            () = &mut read_err, if !err_done => err_done = true,
            () = &mut write, if !write_done => write_done = true,
        }
    }
    Gathered {
        status: status.unwrap_or_else(|| Err(std::io::Error::other("no exit status"))),
        stdout: out.unwrap_or_else(|| Err(std::io::Error::other("no output"))),
    }
}
