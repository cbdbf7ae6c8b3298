//! Executables as functions, in the OpenWhisk "blackbox" convention: a
//! JSON request on stdin, a JSON response on stdout (schema in the crate
//! docs and `docs/functions.md`).
//!
//! Every process runs in its own process group, so a timeout or a
//! runaway output kills the function *and* whatever it started; memory,
//! CPU time and core dumps are limited with `setrlimit` between fork and
//! exec. Output is read up to a limit and stderr keeps only its last
//! bytes: a process writing gigabytes is an error, not an out-of-memory
//! runtime.

mod io;
mod oneshot;
mod persistent;

use crate::{Backend, BoxFuture, FnError, Worker};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// How a function's processes live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A process per invocation: every invocation is a cold start. The
    /// request is stdin (then closed); the response is stdout at exit.
    #[default]
    OneShot,
    /// One process per worker, started by [`Backend::start`] and reused
    /// warm: one request line in, one response line out. If it dies, is
    /// killed by a timeout or answers garbage, the worker is dead.
    Persistent,
}

/// What a process may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock cap per invocation; a request's shorter deadline wins.
    pub timeout_ms: u64,
    /// Address-space limit (`RLIMIT_AS`) in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU-time limit (`RLIMIT_CPU`) in seconds: per invocation in
    /// one-shot mode, over the worker's whole life in persistent mode.
    /// The process gets `SIGXCPU` at the limit, `SIGKILL` a second later.
    pub cpu_seconds: Option<u64>,
    /// The most response bytes read (per response line in persistent mode).
    pub max_output_bytes: usize,
    /// How much of the end of stderr is kept for error messages.
    pub max_stderr_bytes: usize,
    /// How long a persistent worker with `ready` may take to say so.
    pub start_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: 60_000,
            memory_bytes: None,
            cpu_seconds: None,
            max_output_bytes: 16 << 20,
            max_stderr_bytes: 4 << 10,
            start_timeout_ms: 60_000,
        }
    }
}

impl Limits {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// One executable function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// A path, or a name looked up in `PATH`.
    pub program: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    /// Added to the runtime's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: the runtime's).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub mode: Mode,
    /// Persistent mode: the worker is started (its cold start over) only
    /// when the process writes `{"ready": true}` as its first line, e.g.
    /// after loading its model. Without it, `start` returns at spawn.
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub limits: Limits,
}

impl ActionSpec {
    /// One-shot, default limits, no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ActionSpec {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            dir: None,
            mode: Mode::OneShot,
            ready: false,
            limits: Limits::default(),
        }
    }

    /// Persistent mode, waiting for the process's `{"ready": true}`.
    pub fn wait_ready(mut self) -> Self {
        self.mode = Mode::Persistent;
        self.ready = true;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The command, with its process group and limits; stdin, stdout and
    /// stderr piped.
    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: killing -pgid reaches what it spawned too.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        let memory = self.limits.memory_bytes;
        let cpu = self.limits.cpu_seconds;
        // SAFETY: the closure runs between fork and exec and calls only
        // getrlimit/setrlimit, which are async-signal-safe; it allocates
        // nothing.
        unsafe {
            cmd.pre_exec(move || {
                set_limit(libc::RLIMIT_CORE, 0, 0)?;
                if let Some(bytes) = memory {
                    set_limit(libc::RLIMIT_AS, bytes, bytes)?;
                }
                if let Some(secs) = cpu {
                    // Soft then hard: SIGXCPU first, SIGKILL a second later.
                    set_limit(libc::RLIMIT_CPU, secs, secs.saturating_add(1))?;
                }
                Ok(())
            });
        }
        cmd
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Lower a limit (never raise it above the current hard limit, which an
/// unprivileged process may not).
fn set_limit(resource: Resource, soft: u64, hard: u64) -> std::io::Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one rlimit struct.
    unsafe {
        if libc::getrlimit(resource, &mut cur) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let hard = libc::rlim_t::try_from(hard)
            .unwrap_or(libc::RLIM_INFINITY)
            .min(cur.rlim_max);
        let soft = libc::rlim_t::try_from(soft)
            .unwrap_or(libc::RLIM_INFINITY)
            .min(hard);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        if libc::setrlimit(resource, &new) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Spawn, retrying briefly on ETXTBSY: an executable written just before
/// (a deployment, a test) can be "busy" while another thread's fork still
/// holds its write descriptor, until that child execs.
async fn spawn(spec: &ActionSpec) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match spec.command().spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10 * tries)).await;
            }
            other => return other,
        }
    }
}

/// SIGKILL a process group. The group id is the leader's pid, which Linux
/// does not hand out again while any member of the group lives.
fn kill_group(pgid: Option<u32>) {
    if let Some(pgid) = pgid.and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 1) {
        // SAFETY: kill(2) with a negative pid signals a process group; a
        // group that is already gone gives ESRCH, which is fine.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// "exited with status 3", "was killed by signal 9 (SIGKILL)".
fn describe_status(status: ExitStatus, limits: &Limits) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(libc::SIGXCPU) => "was killed by signal 24 (SIGXCPU: the CPU-time limit)".into(),
        Some(libc::SIGKILL) if limits.cpu_seconds.is_some() || limits.memory_bytes.is_some() => {
            "was killed by signal 9 (SIGKILL: a limit, or killed from outside)".into()
        }
        Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
        None => format!("ended with {status}"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGINT => "SIGINT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    }
}

/// Executable functions by name.
#[derive(Debug, Clone, Default)]
pub struct Subprocess {
    actions: BTreeMap<String, Arc<ActionSpec>>,
}

impl Subprocess {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a function.
    pub fn add(&mut self, name: impl Into<String>, spec: ActionSpec) -> &mut Self {
        self.actions.insert(name.into(), Arc::new(spec));
        self
    }

    pub fn with(mut self, name: impl Into<String>, spec: ActionSpec) -> Self {
        self.add(name, spec);
        self
    }
}

/// From a config's table of functions (e.g. `[functions.<name>]`).
impl FromIterator<(String, ActionSpec)> for Subprocess {
    fn from_iter<I: IntoIterator<Item = (String, ActionSpec)>>(iter: I) -> Self {
        let mut s = Subprocess::new();
        for (name, spec) in iter {
            s.add(name, spec);
        }
        s
    }
}

impl Backend for Subprocess {
    fn has(&self, function: &str) -> bool {
        self.actions.contains_key(function)
    }

    fn start(&self, function: &str) -> BoxFuture<'static, Result<Box<dyn Worker>, FnError>> {
        let Some(spec) = self.actions.get(function).cloned() else {
            let err = FnError::UnknownFunction {
                function: function.to_string(),
                known: self.actions.keys().cloned().collect(),
            };
            return Box::pin(async move { Err(err) });
        };
        let function: Arc<str> = Arc::from(function);
        Box::pin(async move {
            match spec.mode {
                Mode::OneShot => oneshot::start(function, spec),
                Mode::Persistent => persistent::start(function, spec).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_from_config() {
        let specs: BTreeMap<String, ActionSpec> = serde_json::from_str(
            r#"{"detect": {"program": "/opt/fn/detect", "args": ["--fast"],
                           "mode": "persistent",
                           "limits": {"memory_bytes": 268435456, "timeout_ms": 2000}},
                "dedup": {"program": "dedup"}}"#,
        )
        .unwrap();
        let detect = &specs["detect"];
        assert_eq!(detect.mode, Mode::Persistent);
        assert_eq!(detect.limits.memory_bytes, Some(256 << 20));
        // Unnamed limits keep their defaults.
        assert_eq!(
            detect.limits.max_output_bytes,
            Limits::default().max_output_bytes
        );
        assert_eq!(specs["dedup"], ActionSpec::new("dedup"));
        let backend: Subprocess = specs.into_iter().collect();
        assert!(backend.has("detect") && backend.has("dedup"));
    }

    #[test]
    fn spec_typos_are_refused() {
        for bad in [
            r#"{"program": "x", "mdoe": "persistent"}"#,
            r#"{"program": "x", "limits": {"memory": 5}}"#,
            r#"{"program": "x", "mode": "forever"}"#,
            r#"{"args": []}"#,
        ] {
            assert!(serde_json::from_str::<ActionSpec>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_read_well() {
        use std::os::unix::process::ExitStatusExt;
        let limits = Limits::default();
        assert_eq!(
            describe_status(ExitStatus::from_raw(3 << 8), &limits),
            "exited with status 3"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(libc::SIGSEGV), &limits),
            "was killed by signal 11 (SIGSEGV)"
        );
        assert!(describe_status(ExitStatus::from_raw(libc::SIGXCPU), &limits).contains("CPU"));
    }
}
