use std::time::Duration;
use thiserror::Error;

/// Why starting a worker or running an invocation failed. Its `Display`
/// is what the runtime sends as `TaskError { reason }`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FnError {
    #[error("unknown function `{function}`{}", known_list(.known))]
    UnknownFunction {
        function: String,
        /// The names the backend does know (for the message).
        known: Vec<String>,
    },

    /// The task's parameters do not fit the function.
    #[error("bad parameters for `{function}`: {reason}")]
    BadParams { function: String, reason: String },

    /// The function reported a failure (a returned error, or a JSON
    /// `{"error": ...}` from a process).
    #[error("function `{function}` failed: {message}")]
    Failed { function: String, message: String },

    /// An in-process function panicked; the process lives on.
    #[error("function `{function}` panicked: {message}")]
    Panicked { function: String, message: String },

    #[error("function `{function}` timed out after {}", fmt_duration(.after))]
    Timeout { function: String, after: Duration },

    /// The invocation was cancelled (its future was dropped, or the
    /// function saw the cancellation).
    #[error("function `{function}` was cancelled")]
    Cancelled { function: String },

    /// The process ended without a valid response: a non-zero exit, a
    /// signal (`SIGKILL` from the memory limit's allocator failure or
    /// `SIGXCPU` from the CPU limit), or no output.
    #[error("function `{function}` {status}{}", stderr_tail(.stderr))]
    Exited {
        function: String,
        /// e.g. "exited with status 3", "was killed by signal 24 (SIGXCPU: CPU limit)".
        status: String,
        /// The first bytes of its stderr (bounded), lossily decoded.
        stderr: String,
    },

    /// The process wrote more than the output limit.
    #[error("function `{function}` wrote more than {limit} bytes of output{}", stderr_tail(.stderr))]
    OutputTooLarge {
        function: String,
        limit: usize,
        stderr: String,
    },

    /// The process's output is not a valid response (not JSON, truncated,
    /// unknown fields, bad base64).
    #[error("function `{function}` gave a bad response: {reason}{}", stderr_tail(.stderr))]
    BadResponse {
        function: String,
        reason: String,
        stderr: String,
    },

    #[error("cannot start `{function}` ({program}): {source}")]
    Spawn {
        function: String,
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("I/O with function `{function}`: {source}")]
    Io {
        function: String,
        #[source]
        source: std::io::Error,
    },

    /// The worker is gone: stopped, or its process died or was killed.
    #[error("worker of `{function}` is dead: {reason}")]
    WorkerDead { function: String, reason: String },
}

impl FnError {
    /// The function the error is about.
    pub fn function(&self) -> &str {
        match self {
            FnError::UnknownFunction { function, .. }
            | FnError::BadParams { function, .. }
            | FnError::Failed { function, .. }
            | FnError::Panicked { function, .. }
            | FnError::Timeout { function, .. }
            | FnError::Cancelled { function }
            | FnError::Exited { function, .. }
            | FnError::OutputTooLarge { function, .. }
            | FnError::BadResponse { function, .. }
            | FnError::Spawn { function, .. }
            | FnError::Io { function, .. }
            | FnError::WorkerDead { function, .. } => function,
        }
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        return String::new();
    }
    // A long list helps nobody; the first few say which backend answered.
    let shown: Vec<&str> = known.iter().take(8).map(String::as_str).collect();
    let more = known.len().saturating_sub(shown.len());
    if more > 0 {
        format!(" (known: {} and {more} more)", shown.join(", "))
    } else {
        format!(" (known: {})", shown.join(", "))
    }
}

fn stderr_tail(stderr: &str) -> String {
    let t = stderr.trim_end();
    if t.is_empty() {
        String::new()
    } else {
        format!("; stderr: {t}")
    }
}

fn fmt_duration(d: &Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.3} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}
