//! z3 stages in a worker process that is killed at the deadline.
//!
//! z3 4.8.12 does not answer `Z3_interrupt` while it preprocesses a large
//! formula (18 s measured at 1,000 tasks), so no in-process watchdog holds
//! the deadline there. A z3 stage (the neighbourhood search or `Optimize`)
//! is therefore described as data ([`Stage`]: the stage, the earlier
//! stages' optima, presolve's cuts, the incumbent, the time budget) and
//! sent, with the mission and the profile, as JSON over stdin to a child:
//! this executable re-invoked with [`WORKER_ENV`] set, whose `main` calls
//! [`main_if_worker`] first thing. The child rebuilds the cost model and
//! the encoding, runs the stage under its own watchdog, and writes one
//! JSON line per placement found and a last line with the outcome. The
//! parent kills it at the stage's deadline or when its resident memory and
//! the parent's pass the cap (the child also gets an address-space limit,
//! `RLIMIT_AS`, so memory it grabs between two looks is bounded too).
//!
//! What comes back is untrusted: lines are length-capped and decoded
//! without panics, and the caller re-evaluates every placement before
//! using it. A killed child, garbage or a crash leaves the parent with its
//! incumbent; [`Z3Run`] says which stage was cut and why. Without a worker
//! (an executable that does not call the hook, or a failed spawn) the
//! stage runs in this process under the watchdog, and on large missions
//! only with time to spare.

use crate::encode::Encoding;
use crate::lns;
use crate::watchdog::{self, Limits, Stop};
use hivemind_cost::{modality_index, CostModel, Profile};
use hivemind_ir::plan::Modality;
use hivemind_ir::TaskGraph;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use z3::ast::{Bool, Int};
use z3::{Optimize, Params, SatResult};

/// Set (to `1`) in a worker child's environment: [`main_if_worker`] then
/// serves one z3 stage from stdin and exits.
pub const WORKER_ENV: &str = "HIVEMIND_SYNTH_WORKER";

/// [`main_if_worker`] ran in this process: the executable can serve as a
/// worker.
static HOOKED: AtomicBool = AtomicBool::new(false);

/// The largest job a worker reads (a 1,000-task mission is about 1 MB).
const MAX_JOB: u64 = 256 << 20;
/// The longest line a parent reads from a worker (one placement).
const MAX_LINE: u64 = 16 << 20;
/// How much of a worker's stderr is kept for the report.
const STDERR_TAIL: usize = 2_048;
/// How often the parent looks at the worker's clock and memory.
const POLL: Duration = Duration::from_millis(5);
/// Missions from this many tasks give an in-process z3 stage only with
/// time to spare: z3 4.8.12 does not answer an interrupt while it
/// preprocesses a large formula (18 s measured at 1,000 tasks).
const Z3_LARGE: usize = 500;
/// Time left per task an in-process z3 stage needs at [`Z3_LARGE`] tasks
/// and more.
const Z3_START_PER_TASK: Duration = Duration::from_millis(20);

/// Call first thing in `main` of every executable that synthesizes: in a
/// worker child (started by this crate with [`WORKER_ENV`] set) it serves
/// the z3 stage on stdin and exits the process; otherwise it returns at
/// once and marks this executable as able to serve as a worker, so
/// [`Worker::Auto`] runs z3 stages in a child.
pub fn main_if_worker() {
    if std::env::var_os(WORKER_ENV).is_some() {
        std::process::exit(serve(std::io::stdin().lock(), std::io::stdout()));
    }
    HOOKED.store(true, Ordering::SeqCst);
}

/// Where the z3 stages of a synthesis run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Worker {
    /// In a child process, this executable re-invoked, when its `main`
    /// called [`main_if_worker`]; otherwise in this process (z3 stages of
    /// large missions then only with time to spare, see [`Z3Run`]).
    #[default]
    Auto,
    /// In a child process: `program` with `args`, which must serve a job
    /// as [`main_if_worker`] does (the environment has [`WORKER_ENV`]).
    Child { program: PathBuf, args: Vec<String> },
    /// In this process, interrupted by the watchdog, always: z3 4.8.12 may
    /// overrun the deadline by many seconds on a large mission.
    InProcess,
}

impl Worker {
    /// A child process running `program` without arguments.
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Worker::Child {
            program: program.into(),
            args: Vec::new(),
        }
    }
}

/// Which z3 stage ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Z3Kind {
    /// Large-neighbourhood search from the incumbent.
    NeighbourhoodSearch,
    /// `Optimize::check` on the whole stage.
    Optimize,
}

/// How a z3 stage ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Z3End {
    /// It answered (proven, improved, or out of its own time) before the
    /// deadline.
    Answered,
    /// Killed (or, in process, interrupted) at the deadline or the memory cap.
    Cut { stop: Stop },
    /// The worker exited without an answer.
    Crashed { reason: String },
    /// The worker wrote something that is not an answer.
    Garbage { reason: String },
    /// An answer the parent refused (a placement that misses a requirement).
    Rejected { reason: String },
    /// Not started: in process on a large mission without time to spare.
    Skipped,
}

/// One z3 stage of a synthesis, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Z3Run {
    /// The stage's objective (`energy`, …, `fewest fpga tasks`).
    pub objective: String,
    pub kind: Z3Kind,
    /// `None`: in a worker process; otherwise why it ran in this process.
    pub in_process: Option<String>,
    pub ms: u64,
    pub end: Z3End,
    /// The worker's largest resident memory seen, MiB (0 in process).
    pub peak_rss_mib: u64,
}

/// A z3 stage as data: what the worker needs besides the mission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stage {
    /// The stage (the model's objectives in order of preference, then the
    /// FPGA count).
    pub stage: usize,
    /// The optima of the stages before it.
    pub fixed_values: Vec<u64>,
    /// Objective vectors to beat in at least one objective (the Pareto
    /// front's points so far).
    pub blocks: Vec<Vec<u64>>,
    /// Presolve's cuts: values ruled out, the stage's lower bound, and
    /// lower bounds on latency requirements' paths.
    pub removed: Vec<(usize, Modality)>,
    pub lower: u64,
    pub path_lower: Vec<(usize, u64)>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Kind {
    /// Improve `start` (whose stage value is `value`).
    Neighbourhood {
        start: Vec<Modality>,
        value: u64,
        seed: u64,
    },
    /// Minimise the stage's objective, at most `ceiling`.
    Optimize { ceiling: Option<u64> },
}

impl Kind {
    fn public(&self) -> Z3Kind {
        match self {
            Kind::Neighbourhood { .. } => Z3Kind::NeighbourhoodSearch,
            Kind::Optimize { .. } => Z3Kind::Optimize,
        }
    }
}

/// What a worker writes, one JSON line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Message {
    /// A placement meeting the stage's constraints, `value` the encoded
    /// stage objective's value.
    Found {
        assignment: Vec<Modality>,
        value: u64,
    },
    /// The last line.
    Done { outcome: Outcome },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Outcome {
    /// No placement has the stage's objective below `value`.
    Optimal { value: u64 },
    /// No placement meets the constraints.
    Infeasible,
    /// Out of time (or interrupted).
    Unknown,
}

#[derive(Serialize)]
struct JobRef<'a> {
    graph: &'a TaskGraph,
    profile: &'a Profile,
    stage: &'a Stage,
    budget_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Job {
    graph: TaskGraph,
    profile: Profile,
    stage: Stage,
    budget_ms: u64,
}

/// Serve one job: read it from `input`, write the answer lines to `out`.
/// The exit code: 0 answered, 2 a bad job.
fn serve(mut input: impl Read, mut out: impl Write + Send + Sync) -> i32 {
    let started = Instant::now();
    let mut bytes = Vec::new();
    if let Err(e) = input.by_ref().take(MAX_JOB).read_to_end(&mut bytes) {
        eprintln!("z3 worker: reading the job: {e}");
        return 2;
    }
    let job: Job = match serde_json::from_slice(&bytes) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("z3 worker: the job does not decode: {e}");
            return 2;
        }
    };
    drop(bytes);
    let model = match CostModel::new(&job.graph, job.profile) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("z3 worker: the job's profile: {e}");
            return 2;
        }
    };
    let budget = Duration::from_millis(job.budget_ms);
    let limits = Limits::new(started, budget, None);
    let mut failed = None;
    z3::with_z3_config(&z3::Config::new(), || {
        watchdog::guarded(&limits, || {
            let enc = Encoding::new(&model, false);
            run_stage(
                &enc,
                &job.stage,
                limits.deadline(),
                &limits,
                &mut |m: Message| {
                    if failed.is_some() {
                        return;
                    }
                    let line = serde_json::to_string(&m).map_err(|e| e.to_string());
                    let written = line.and_then(|l| {
                        writeln!(out, "{l}")
                            .and_then(|()| out.flush())
                            .map_err(|e| e.to_string())
                    });
                    failed = written.err();
                },
            );
        })
    });
    match failed {
        Some(e) => {
            eprintln!("z3 worker: writing the answer: {e}");
            2
        }
        None => 0,
    }
}

/// Run `stage` over `enc` until `deadline` (the watchdog of `limits`
/// interrupting z3), reporting placements and the outcome to `emit`.
/// Shared by the worker and the in-process fallback.
pub(crate) fn run_stage(
    enc: &Encoding,
    stage: &Stage,
    deadline: Instant,
    limits: &Limits,
    emit: &mut dyn FnMut(Message),
) {
    let terms: Vec<&Int> = enc
        .objectives
        .iter()
        .map(|(_, t)| t)
        .chain(std::iter::once(&enc.fpga_count))
        .collect();
    let Some(&term) = terms.get(stage.stage) else {
        emit(Message::Done {
            outcome: Outcome::Unknown,
        });
        return;
    };
    let mut extra: Vec<Bool> = stage
        .blocks
        .iter()
        .map(|point| {
            let better: Vec<Bool> = enc
                .objectives
                .iter()
                .zip(point)
                .map(|((_, t), &v)| t.lt(Int::from_u64(v)))
                .collect();
            Bool::or(&better)
        })
        .collect();
    extra.extend(
        terms
            .iter()
            .zip(&stage.fixed_values)
            .take(stage.stage)
            .map(|(t, &v)| t.le(Int::from_u64(v))),
    );
    let mut constraints: Vec<Bool> = enc.constraints(extra.iter()).cloned().collect();
    constraints.extend(
        stage
            .removed
            .iter()
            .filter_map(|&(t, m)| enc.x.get(t)?[modality_index(m)].as_ref().map(Bool::not)),
    );
    constraints.push(term.ge(Int::from_u64(stage.lower)));
    constraints.extend(
        stage
            .path_lower
            .iter()
            .filter_map(|&(r, v)| Some(enc.metrics.get(r)?.ge(Int::from_u64(v)))),
    );
    let outcome = match &stage.kind {
        Kind::Neighbourhood { start, value, seed } => {
            if start.len() != enc.x.len() {
                Outcome::Unknown
            } else {
                let found = lns::improve(
                    enc,
                    &constraints,
                    term,
                    start.clone(),
                    *value,
                    stage.lower,
                    deadline,
                    limits,
                    *seed,
                    &mut |a, v| {
                        emit(Message::Found {
                            assignment: a.to_vec(),
                            value: v,
                        })
                    },
                );
                if found.proven {
                    Outcome::Optimal { value: found.value }
                } else {
                    Outcome::Unknown
                }
            }
        }
        Kind::Optimize { ceiling } => {
            let opt = Optimize::new();
            let mut p = Params::new();
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis()
                .clamp(1, u128::from(u32::MAX));
            p.set_u32("timeout", left as u32);
            opt.set_params(&p);
            for c in &constraints {
                opt.assert(c);
            }
            if let Some(value) = ceiling {
                opt.assert(term.le(Int::from_u64(*value)));
            }
            opt.minimize(term);
            let result = opt.check(&[]);
            let seen = opt.get_model().and_then(|m| {
                let a = enc.assignment(&m)?;
                let v = m.eval(term, true)?.as_u64()?;
                Some((a, v))
            });
            match (result, seen) {
                (SatResult::Sat, Some((assignment, value))) => {
                    emit(Message::Found { assignment, value });
                    Outcome::Optimal { value }
                }
                (SatResult::Unsat, _) => Outcome::Infeasible,
                (_, seen) => {
                    if let Some((assignment, value)) = seen {
                        emit(Message::Found { assignment, value });
                    }
                    Outcome::Unknown
                }
            }
        }
    };
    emit(Message::Done { outcome });
}

/// What a z3 stage gave back: placements (to re-check) and the outcome,
/// if it got that far.
pub(crate) struct Answer {
    pub found: Vec<(Vec<Modality>, u64)>,
    pub outcome: Option<Outcome>,
    pub run: Z3Run,
}

/// Runs z3 stages where [`Worker`] says.
pub(crate) struct Runner {
    how: How,
}

enum How {
    Child {
        program: PathBuf,
        args: Vec<String>,
    },
    /// `guard`: large missions only with time to spare; `why` for the report.
    InProcess {
        guard: bool,
        why: String,
    },
}

impl Runner {
    pub fn new(worker: &Worker) -> Self {
        let how = match worker {
            Worker::Auto if HOOKED.load(Ordering::SeqCst) => match std::env::current_exe() {
                Ok(program) => How::Child {
                    program,
                    args: Vec::new(),
                },
                Err(e) => How::InProcess {
                    guard: true,
                    why: format!("this executable's path is unknown ({e})"),
                },
            },
            Worker::Auto => How::InProcess {
                guard: true,
                why: "this executable does not serve as a z3 worker (its main does not call \
                      hivemind_synth::worker::main_if_worker)"
                    .into(),
            },
            Worker::Child { program, args } => How::Child {
                program: program.clone(),
                args: args.clone(),
            },
            Worker::InProcess => How::InProcess {
                guard: false,
                why: "requested".into(),
            },
        };
        Runner { how }
    }

    /// Run `stage` until `deadline` (a child is killed then).
    pub fn run(
        &self,
        enc: &Encoding,
        stage: &Stage,
        objective: String,
        deadline: Instant,
        limits: &Limits,
    ) -> Answer {
        let started = Instant::now();
        let (guard, why) = match &self.how {
            How::Child { program, args } => {
                match run_child(program, args, enc, stage, deadline, limits) {
                    Ok(mut answer) => {
                        answer.run.objective = objective;
                        answer.run.ms = started.elapsed().as_millis() as u64;
                        return answer;
                    }
                    Err(e) => (true, format!("the worker did not start ({e})")),
                }
            }
            How::InProcess { guard, why } => (*guard, why.clone()),
        };
        let mut run = Z3Run {
            objective,
            kind: stage.kind.public(),
            in_process: Some(why),
            ms: 0,
            end: Z3End::Skipped,
            peak_rss_mib: 0,
        };
        let n = enc.model.graph.tasks.len();
        let fits = !guard
            || n < Z3_LARGE
            || deadline.saturating_duration_since(Instant::now())
                >= Z3_START_PER_TASK.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        if !fits {
            return Answer {
                found: Vec::new(),
                outcome: None,
                run,
            };
        }
        limits.set_stage_deadline(Some(deadline));
        let mut found = Vec::new();
        let mut outcome = None;
        run_stage(enc, stage, deadline, limits, &mut |m| match m {
            Message::Found { assignment, value } => found.push((assignment, value)),
            Message::Done { outcome: o } => outcome = Some(o),
        });
        run.end = match (outcome, limits.stopped()) {
            (Some(Outcome::Unknown), Some(stop)) => Z3End::Cut { stop },
            (Some(Outcome::Unknown), None) if Instant::now() >= deadline => Z3End::Cut {
                stop: Stop::Deadline,
            },
            _ => Z3End::Answered,
        };
        run.ms = started.elapsed().as_millis() as u64;
        Answer {
            found,
            outcome,
            run,
        }
    }
}

/// The margin a worker's own deadline leaves before the parent kills it,
/// so that a z3 that answers its interrupt reports in time.
fn margin(span: Duration) -> Duration {
    (span / 10).min(Duration::from_millis(60))
}

/// Spawn the worker and collect its answer; `Err`: it could not be
/// started (the caller falls back to this process).
fn run_child(
    program: &PathBuf,
    args: &[String],
    enc: &Encoding,
    stage: &Stage,
    deadline: Instant,
    limits: &Limits,
) -> std::io::Result<Answer> {
    let span = deadline.saturating_duration_since(Instant::now());
    let budget = span.saturating_sub(margin(span));
    let job = serde_json::to_vec(&JobRef {
        graph: enc.model.graph,
        profile: &enc.model.profile,
        stage,
        budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
    })
    .map_err(std::io::Error::other)?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env(WORKER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The worker's address space: what the cap leaves beside this process
    // (at least 256 MiB, enough to start; the parent's looks at its
    // resident memory hold the cap in between).
    // On Linux the worker also dies with the thread that started it (this
    // one, which waits for it), should this process be killed first.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let address_space = limits
            .memory_cap_bytes()
            .map(|cap| cap.saturating_sub(limits.own_rss_bytes()).max(256 << 20));
        // SAFETY: the closure runs in the forked child before exec and only
        // calls setrlimit and prctl, which are async-signal-safe; it
        // allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(bytes) = address_space {
                    let limit = libc::rlimit {
                        rlim_cur: bytes as libc::rlim_t,
                        rlim_max: bytes as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let mut run = Z3Run {
        objective: String::new(),
        kind: stage.kind.public(),
        in_process: None,
        ms: 0,
        end: Z3End::Answered,
        peak_rss_mib: 0,
    };
    // The threads below are not joined: a killed worker's pipes close, but
    // a grandchild it left (a misbehaving program) could hold them open.
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            block_sigpipe();
            let _ = stdin.write_all(&job);
        });
    }
    let (tx, rx) = mpsc::channel::<Result<Message, String>>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || read_messages(stdout, &tx));
    }
    let (err_tx, err_rx) = mpsc::channel::<String>();
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4_096];
            while let Ok(k) = stderr.read(&mut buf) {
                if k == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..k]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let _ = err_tx.send(String::from_utf8_lossy(&tail).trim().to_string());
        });
    }
    let mut found = Vec::new();
    let mut outcome = None;
    let mut peak = 0u64;
    let ended_by_eof = loop {
        match rx.recv_timeout(POLL) {
            Ok(Ok(Message::Found { assignment, value })) => found.push((assignment, value)),
            Ok(Ok(Message::Done { outcome: o })) => {
                outcome = Some(o);
                break false;
            }
            Ok(Err(reason)) => {
                run.end = Z3End::Garbage { reason };
                break false;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
        }
        if let Some(rss) = watchdog::resident_bytes_of(pid) {
            peak = peak.max(rss);
            limits.note_worker_rss(rss);
        }
        if let Some(stop) = limits.stopped() {
            run.end = Z3End::Cut { stop };
            break false;
        }
        if Instant::now() >= deadline {
            run.end = Z3End::Cut {
                stop: Stop::Deadline,
            };
            break false;
        }
    };
    // Answered or not, the worker has nothing more to give: do not wait
    // for it to free a large formula.
    let _ = child.kill();
    let status = child.wait();
    limits.note_worker_rss(0);
    if ended_by_eof {
        let stderr = err_rx
            .recv_timeout(Duration::from_millis(100))
            .unwrap_or_default();
        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
        run.end = Z3End::Crashed {
            reason: if stderr.is_empty() {
                format!("no answer ({status})")
            } else {
                format!("no answer ({status}): {stderr}")
            },
        };
    }
    run.peak_rss_mib = peak >> 20;
    Ok(Answer {
        found,
        outcome,
        run,
    })
}

/// A worker that dies before reading its whole job must not take this
/// process with it: programs that restore SIGPIPE's default action (the
/// `hivemind` CLI does, for `| head`) would be killed by the write. Blocked
/// in the writing thread only, the write fails with `EPIPE` instead and the
/// signal, pending on that thread, goes with it.
fn block_sigpipe() {
    #[cfg(unix)]
    // SAFETY: the set is initialised by sigemptyset before use, and
    // pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Decode a worker's lines until its last (or the first that is not a
/// message); stops at end of file.
fn read_messages(stdout: impl Read, tx: &mpsc::Sender<Result<Message, String>>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) if line.last() != Some(&b'\n') && line.len() as u64 >= MAX_LINE => {
                let _ = tx.send(Err(format!("a line longer than {MAX_LINE} bytes")));
                return;
            }
            Ok(_) => match decode(&line) {
                Ok(m) => {
                    let last = matches!(m, Message::Done { .. });
                    if tx.send(Ok(m)).is_err() || last {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            },
            Err(e) => {
                let _ = tx.send(Err(format!("reading the answer: {e}")));
                return;
            }
        }
    }
}

/// One line of a worker's answer.
fn decode(line: &[u8]) -> Result<Message, String> {
    serde_json::from_slice(line.trim_ascii()).map_err(|e| {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
        format!("not an answer ({e}): {shown:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_lines_decode_or_fail_clearly() {
        let m = Message::Found {
            assignment: vec![Modality::Edge, Modality::Cloud],
            value: 7,
        };
        let line = serde_json::to_string(&m).expect("encodes");
        assert_eq!(decode(line.as_bytes()), Ok(m));
        let done = Message::Done {
            outcome: Outcome::Optimal { value: 3 },
        };
        let line = serde_json::to_string(&done).expect("encodes");
        assert_eq!(decode(format!("{line}\n").as_bytes()), Ok(done));
        for bad in [
            &b""[..],
            b"{",
            b"{\"found\":{\"assignment\":[\"edge\"]}}",
            b"{\"found\":{\"assignment\":[\"edge\"],\"value\":-1}}",
            b"{\"found\":{\"assignment\":[\"warp\"],\"value\":1}}",
            b"{\"done\":{\"outcome\":\"optimal\"}}",
            b"{\"done\":{\"outcome\":\"unknown\"},\"extra\":1}",
            b"\xff\xfe garbage",
            b"[1,2,3]",
        ] {
            let e = decode(bad).expect_err("garbage must not decode");
            assert!(e.starts_with("not an answer"), "{e}");
        }
    }

    #[test]
    fn reading_stops_at_garbage_and_at_oversized_lines() {
        let (tx, rx) = mpsc::channel();
        let input = b"{\"done\":{\"outcome\":\"unknown\"}}\nnever read\n";
        read_messages(&input[..], &tx);
        assert_eq!(
            rx.try_recv(),
            Ok(Ok(Message::Done {
                outcome: Outcome::Unknown
            }))
        );
        assert!(rx.try_recv().is_err());
        let (tx, rx) = mpsc::channel();
        read_messages(&b"{\"found\":{\"assign"[..], &tx);
        assert!(matches!(rx.try_recv(), Ok(Err(_))));
        let (tx, rx) = mpsc::channel();
        let long = vec![b'x'; MAX_LINE as usize + 10];
        read_messages(&long[..], &tx);
        assert_eq!(
            rx.try_recv(),
            Ok(Err(format!("a line longer than {MAX_LINE} bytes")))
        );
    }

    #[test]
    fn a_bad_job_is_refused_with_exit_code_two() {
        for job in [&b""[..], b"{", b"{\"graph\":1}", &[0xffu8; 100][..]] {
            let mut out = Vec::new();
            assert_eq!(serve(job, &mut out), 2);
            assert!(out.is_empty());
        }
    }
}
