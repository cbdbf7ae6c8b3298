//! Fault scripts: the faults `hivemind sim MISSION --faults FILE` injects.
//!
//! A fault script is plain text, one fault per line. [`parse`] turns it
//! into a [`FaultScript`] (every fault with its line number);
//! [`resolve`] turns that, given the mission's fleets, its length and the
//! run's seed, into a time-sorted list of concrete [`Scheduled`] actions on
//! device ids that the simulated world carries out.
//!
//! # Format
//!
//! ```text
//! # a comment; blank lines are ignored
//! at 30 s kill device 3
//! at 30 s kill 10% of drones
//! at 30 s kill 4 of cars
//! at 40 s revive device 3
//! at 10 s for 20 s partition cars
//! at 10 s for 5 s disconnect device 7
//! at 20 s for 30 s degrade drones loss 20% latency +50 ms bandwidth 50%
//! at 0 s slow device 4 x5
//! at 0 s for 60 s slow 5% of drones x4
//! at 15 s for 10 s slow workers x3
//! at 45 s crash controller
//! random failures 1% of drones per min
//! random stragglers 5% of all x4
//! ```
//!
//! Lines are split on `\n` (a `\r` before it is ignored). `#` starts a
//! comment that runs to the end of the line, anywhere in the line. Words
//! are separated by any whitespace; keywords are lower case.
//!
//! ## Grammar
//!
//! ```text
//! line     := timed | random
//! timed    := "at" TIME ["for" DURATION] fault
//! fault    := "kill" group                      -- no "for": use "revive"
//!           | "revive" group                    -- no "for"
//!           | "partition" group
//!           | "disconnect" group
//!           | "degrade" group effect+           -- each effect at most once, any order
//!           | "slow" group FACTOR
//!           | "slow" "workers" FACTOR
//!           | "crash" "controller"              -- no "for"
//! effect   := "loss" PERCENT | "latency" ["+"]DURATION | "bandwidth" PERCENT
//! random   := "random" "failures" PERCENT "of" fleet "per" (UNIT | DURATION)
//!           | "random" "stragglers" PERCENT "of" fleet FACTOR
//! group    := "device" ID | fleet | COUNT "of" fleet | PERCENT "of" fleet
//! fleet    := "all" | NAME | "fleet" NAME
//! ```
//!
//! * `TIME` and `DURATION`: a number and a unit, with or without a space
//!   between them: `250 ms`, `30s`, `2 min`, `1.5 h`. Units: `µs` (or
//!   `us`), `ms`, `s`, `min`, `h` — the mission language's. The unit is
//!   required, also for zero (`at 0 s`). Decimals are allowed down to
//!   1 µs (`1.5 ms`; `1.0000005 s` is an error); no signs, no exponents.
//!   At most 1 year (365 days). A `for` duration must be above zero.
//! * `PERCENT`: `10%` or `10 %`, 0% to 100%, at most one decimal (`0.5%`).
//!   Stored in permille.
//! * `FACTOR`: `x4`, `x1.5`, `x 4` or `×4`: from x1 to x1000, at most three
//!   decimals. Stored in thousandths.
//! * `ID`, `COUNT`: whole numbers (`device 3`, `4 of cars`), up to
//!   4294967295.
//! * `NAME`: a fleet of the mission (`drones`), letters, digits and `_`,
//!   not starting with a digit. `all` means every device of every fleet.
//!   A fleet whose name is a keyword of this format (`all`, `device`,
//!   `fleet`, `workers`, `controller`, …) is written `fleet NAME`.
//!
//! ## Meaning
//!
//! * `at T` starts the fault at mission time T; `for D` ends it at T + D.
//!   Without `for`, `partition`, `disconnect`, `degrade` and `slow` last to
//!   the end of the mission.
//! * `kill` stops the devices (they fail silently, like a crash);
//!   `revive` brings them back (a device that is alive is unaffected).
//! * `partition` and `disconnect` cut each device's link to the controller;
//!   the devices keep running, buffer their results and reconnect at the
//!   end. The two words mean the same; `partition` reads better for fleets.
//! * `degrade` changes each device's link: `loss P%` drops that share of
//!   messages (below 100%: cut a link with `partition`), `latency +D` adds D
//!   one way, `bandwidth P%` leaves P% of the nominal rate (above 0%).
//!   Unnamed effects are unchanged (0% loss, +0 µs, 100% bandwidth).
//! * `slow … xF`: the devices' task attempts take F times longer (a
//!   straggler). `slow workers xF`: every serverless worker's invocations.
//! * `crash controller`: the controller process dies and recovers from its
//!   journal.
//! * `random failures P% of FLEET per U`: each device of the fleet fails
//!   (like `kill`) at an exponentially distributed time with rate P% per U
//!   (`per min`, `per h`, `per 10 min`); only failures before the end of the
//!   mission happen. Each device fails at most once.
//! * `random stragglers P% of FLEET xF`: P% of the fleet's devices are slow
//!   by F for the whole mission.
//! * Selections: `4 of cars` picks 4 devices of `cars` (an error if it has
//!   fewer); `10% of drones` picks 10% of them, rounded up (so at least one
//!   when above 0%). Which devices are picked is random, decided by the
//!   run's seed and the line number: the same seed gives the same devices, and each line
//!   picks independently (`revive 10% of drones` does not revive the ones
//!   `kill 10% of drones` killed — name devices by id for that).
//! * Device ids are numbered across fleets from 0 in the order the mission
//!   declares them.
//! * Faults of one kind on one device do not stack: a later start replaces
//!   the current one, and any end restores normal.
//! * Actions at the same time happen in line order. A fault at or after the
//!   end of the mission is kept but never reached.
//!
//! ## Errors and limits
//!
//! [`parse`] reports every bad line, the first problem of each, as
//! `line L, column C: expected …, found …` (columns count characters from
//! 1); [`resolve`] does the same for unknown fleets (with a suggestion for
//! a near miss), device ids beyond the mission's devices and selections
//! larger than their fleet. Both return all of a script's errors at once
//! in one [`FaultError`], sorted by line. A script may have at most
//! [`MAX_BYTES`] bytes (1 MiB) and [`MAX_LINES`] lines; a script over a
//! limit gets that one error, placed where the limit is crossed. Parsing
//! costs time linear in the input and never panics; resolving costs time
//! linear in the devices it names.

mod parse;
mod resolve;
mod rng;
#[cfg(test)]
mod tests;

use serde::Serialize;

/// Largest fault script accepted, in bytes (1 MiB).
pub const MAX_BYTES: usize = 1 << 20;
/// Most lines a fault script may have.
pub const MAX_LINES: usize = 100_000;
/// Longest time or duration accepted: one year of 365 days, in µs.
pub const MAX_TIME_US: u64 = 365 * 24 * 3_600 * 1_000_000;
/// Smallest slow-down factor (x1), in thousandths.
pub const MIN_FACTOR_MILLI: u32 = 1_000;
/// Largest slow-down factor (x1000), in thousandths.
pub const MAX_FACTOR_MILLI: u32 = 1_000_000;

/// A parsed fault script: its faults in line order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultScript {
    pub lines: Vec<FaultLine>,
}

/// One fault and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultLine {
    /// 1-based line number in the script.
    pub line: u32,
    /// 1-based column of the target (fleet, `device`, `all`) or, for
    /// faults without one, of the fault's verb: where [`resolve`] points
    /// its errors.
    #[serde(skip)]
    pub column: u32,
    pub fault: Fault,
}

/// Which devices a fault applies to, before selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Device(u32),
    Fleet(String),
    All,
}

/// How many of the target's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Select {
    All,
    Count(u32),
    Permille(u32),
}

/// A target and a selection from it (`10% of drones`, `device 3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub select: Select,
    pub target: Target,
}

/// One fault, as written. Times in µs; `for_us: None` means to the end
/// of the mission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Kill {
        at_us: u64,
        group: Group,
    },
    Revive {
        at_us: u64,
        group: Group,
    },
    Partition {
        at_us: u64,
        for_us: Option<u64>,
        group: Group,
    },
    Disconnect {
        at_us: u64,
        for_us: Option<u64>,
        group: Group,
    },
    Degrade {
        at_us: u64,
        for_us: Option<u64>,
        group: Group,
        /// Share of messages lost, below 1000.
        loss_permille: u32,
        extra_latency_us: u64,
        /// Share of the nominal bandwidth left, 1 to 1000.
        bandwidth_permille: u32,
    },
    Slow {
        at_us: u64,
        for_us: Option<u64>,
        group: Group,
        factor_milli: u32,
    },
    SlowWorkers {
        at_us: u64,
        for_us: Option<u64>,
        factor_milli: u32,
    },
    CrashController {
        at_us: u64,
    },
    /// Each device of `target` fails at rate `permille`/1000 per `per_us`.
    RandomFailures {
        target: Target,
        permille: u32,
        per_us: u64,
    },
    RandomStragglers {
        target: Target,
        permille: u32,
        factor_milli: u32,
    },
}

/// A fleet as the fault script sees it: its devices are
/// `first_device .. first_device + count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetInfo {
    pub name: String,
    pub first_device: u32,
    pub count: u32,
}

/// One concrete action at one time, from script line `line`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    pub at_us: u64,
    pub line: u32,
    pub action: Action,
}

/// What the world does to a device (or the workers, or the controller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Kill(u32),
    Revive(u32),
    /// The device's link to the controller goes down.
    LinkDown(u32),
    LinkUp(u32),
    Degrade {
        device: u32,
        loss_permille: u32,
        extra_latency_us: u64,
        bandwidth_permille: u32,
    },
    /// End of a degrade: the link is back to nominal.
    Restore(u32),
    Slow {
        device: u32,
        factor_milli: u32,
    },
    Unslow(u32),
    SlowWorkers {
        factor_milli: u32,
    },
    UnslowWorkers,
    CrashController,
}

/// Everything wrong with a fault script: one error per bad line (the
/// first problem on it), sorted by line; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", join_lines(.errors))]
pub struct FaultError {
    pub errors: Vec<LineError>,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct LineError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    pub kind: ErrorKind,
}

/// What is wrong. `found` texts are quoted (and shortened) as written, or
/// `end of line`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "error")]
pub enum ErrorKind {
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("unknown fault {found}; expected one of {}{}", parse::VERBS.join(", "), hint(.suggestion.as_deref()))]
    UnknownVerb {
        found: String,
        suggestion: Option<String>,
    },
    #[error("{message}")]
    Invalid { message: String },
    #[error("the fault script has {bytes} bytes, more than the {max} (1 MiB) allowed", max = MAX_BYTES)]
    TooLarge { bytes: usize },
    #[error("the fault script has more than {max} lines", max = MAX_LINES)]
    TooManyLines,
    #[error("unknown fleet `{name}`{}; the mission's fleets: {known}", hint(.suggestion.as_deref()))]
    UnknownFleet {
        name: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error("no device {device}: the mission has {total} devices")]
    NoSuchDevice { device: u32, total: u64 },
    #[error("cannot pick {wanted} devices of {target}: it has {available}")]
    NotEnoughDevices {
        target: String,
        wanted: u32,
        available: u64,
    },
}

fn hint(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn join_lines(errors: &[LineError]) -> String {
    errors
        .iter()
        .map(LineError::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses a fault script. On failure returns every bad line's first
/// problem (see the module docs for the format and limits).
pub fn parse(text: &str) -> Result<FaultScript, FaultError> {
    parse::parse(text)
}

/// A time or duration written as in a fault script (`90 s`, `10min`,
/// `1.5 h`), in µs: what `hivemind sim --duration` reads.
pub fn parse_time(text: &str) -> Result<u64, FaultError> {
    parse::time(text)
}

/// Turns `script` into concrete actions, sorted by time (ties in line
/// order), for a mission of `duration_us` with `fleets`; random choices
/// come from `seed`. On failure returns every line that names a fleet or
/// device the mission does not have, or selects more devices than exist.
pub fn resolve(
    script: &FaultScript,
    fleets: &[FleetInfo],
    duration_us: u64,
    seed: u64,
) -> Result<Vec<Scheduled>, FaultError> {
    resolve::resolve(script, fleets, duration_us, seed)
}

/// Each fleet of `graph` as the fault script names it: device ids are
/// numbered across fleets from 0, in fleet order (as the world numbers them).
pub fn fleets_of(graph: &hivemind_ir::TaskGraph) -> Vec<FleetInfo> {
    let mut first = 0u32;
    graph
        .fleets
        .iter()
        .map(|f| {
            let info = FleetInfo {
                name: f.name.clone(),
                first_device: first,
                count: f.count,
            };
            first = first.saturating_add(f.count);
            info
        })
        .collect()
}

/// Parse `text` and resolve it against `graph` for a run of `duration_us`:
/// the faults the world injects, in time order.
pub fn injections(
    text: &str,
    graph: &hivemind_ir::TaskGraph,
    duration_us: u64,
    seed: u64,
) -> Result<Vec<crate::mission::Injected>, FaultError> {
    use crate::mission::Injected;
    use crate::radio::Degrade;
    use hivemind_controller::{DeviceId, Micros};
    let script = parse(text)?;
    let scheduled = resolve(&script, &fleets_of(graph), duration_us, seed)?;
    Ok(scheduled
        .into_iter()
        .map(|s| {
            let t = Micros(s.at_us);
            match s.action {
                Action::Kill(d) => Injected::Kill(t, DeviceId(d)),
                Action::Revive(d) => Injected::Revive(t, DeviceId(d)),
                Action::LinkDown(d) => Injected::LinkDown(t, DeviceId(d)),
                Action::LinkUp(d) => Injected::LinkUp(t, DeviceId(d)),
                Action::Degrade {
                    device,
                    loss_permille,
                    extra_latency_us,
                    bandwidth_permille,
                } => Injected::Degrade(
                    t,
                    DeviceId(device),
                    Degrade {
                        loss_permille,
                        extra_latency_us,
                        bandwidth_permille,
                    },
                ),
                Action::Restore(d) => Injected::Degrade(t, DeviceId(d), Degrade::default()),
                Action::Slow {
                    device,
                    factor_milli,
                } => Injected::Slow(t, DeviceId(device), u64::from(factor_milli)),
                Action::Unslow(d) => Injected::Slow(t, DeviceId(d), 1_000),
                Action::SlowWorkers { factor_milli } => {
                    Injected::SlowWorkers(t, u64::from(factor_milli))
                }
                Action::UnslowWorkers => Injected::SlowWorkers(t, 1_000),
                Action::CrashController => Injected::CrashController(t),
            }
        })
        .collect())
}
