//! When and where each task runs: the activation rules, defined once and
//! read by the cost model, the synthesizer, the controller and the simulator.
//!
//! Vocabulary
//! * An **activation** is one firing of a task. It runs as one or more
//!   parallel **instances** (its width) and produces one output value.
//! * A **round** is everything that descends from one firing of a source
//!   (a periodic or `once` task, a window, a gather): the activations a
//!   `gather all` waits for.
//!
//! The rules (docs/language.md states each with a timeline):
//! * **Periodic source** (`every P`, no inputs): fires at mission start and
//!   every `P` after, while the mission runs (at `0, P, 2P, …` strictly
//!   before the mission's end).
//!   A periodic source that runs on every device (below) fires each
//!   device at its own phase in the period, so a fleet's values do not all
//!   arrive at once: see [`Phasing`]. Each device still fires every `P`,
//!   as many times as the rule says. When a `gather all` downstream waits
//!   for its rounds ([`feeds_a_gather`]), every device fires at `0, P,
//!   2P, …` together instead, so one firing is one round.
//! * **Once** (`once`): fires at mission start.
//! * **Per device**: a source pinned to a fleet (`on drones`), reading a
//!   sensor (`needs camera`), or a swarm behaviour runs as one instance on
//!   every live device of its fleet. Every other task runs as one activation
//!   wherever it is placed: placement never changes how often a task runs.
//! * **Per input** (inputs, no `every`, no `gather`): fires once per value
//!   from its producer. With several producers (a join) it fires once per
//!   value of the slowest producer, combining it with the latest value of
//!   each other producer (per device when all values come from the devices
//!   of one fleet): see [`join_pacers`].
//! * **Window** (`every P` on a task with inputs): a tumbling window. The
//!   window closes at `P, 2P, …` after mission start; at each close the task
//!   fires once with the batch gathered in the window, and not at all when the
//!   window is empty. A window still open when the mission ends closes at its
//!   boundary during the drain. Each value waits up to `P` for its window to
//!   close, which the cost model charges to every path through the task.
//! * **Gather all**: fires once per round, when every activation of the round
//!   upstream of it has resolved (with producers in different rounds, e.g.
//!   two fleets' streams, once per round of each) (completed, or failed after its retries —
//!   a failed device's work is re-placed or fails with a reason, so the round
//!   always resolves), with every value the round produced.
//! * **Gather n**: fires once per `n` values; the remainder of the mission
//!   (fewer than `n`) fires once at the end.
//! * **Fan-out**: `fanout N` runs each activation as `N` instances;
//!   `fanout per item` as one instance per item of the input list (at most
//!   the list's stated length).
//! * **Assign** (`assign K nearest`, `assign K by battery`): each activation
//!   (each item, with `fanout per item`) runs as `K` instances on `K`
//!   distinct devices of the task's fleet chosen by the rule (fewer when
//!   the fleet has fewer live devices: the rest run where there is room).
//!   A `goto` to an input implies `assign 1 nearest`.
//! * **Routes**: `route`/`patrol` are behaviours: one instance on every
//!   device of the fleet, like `cover`.
//! * **Retrain** (`learning on { retrain T every P from D model S }`): see
//!   [`retraining`]. Rounds at `P, 2P, …` strictly before the mission's end
//!   (none at the start: nothing has been collected yet); a round trains on
//!   the samples `D` produced since the previous round and is skipped when
//!   there are none; each training job's model goes to every device of
//!   `T`'s fleet when `T` runs on the edge.

use crate::graph::{FanOut, Gather, Placement, Task, TaskGraph, TaskId, Trigger};

const HOUR_US: u128 = 3_600_000_000;

/// Per task: whether a `gather all` downstream of it waits for its
/// rounds (a round of a periodic source is then one firing on every
/// device together, not phased).
pub fn feeds_a_gather(graph: &TaskGraph) -> Vec<bool> {
    let n = graph.tasks.len();
    let succ = graph.successors();
    let mut feeds = vec![false; n];
    for &t in crate::topological_order(graph).iter().rev() {
        feeds[t.index()] = succ[t.index()]
            .iter()
            .any(|s| feeds[s.index()] || activation(graph, *s).start == Start::GatherRound);
    }
    feeds
}

/// Per task: whether its devices fire it by themselves when it is placed
/// on the edge: a periodic source on every device of its fleet (`every P`,
/// no inputs, not a behaviour), at its devices' phases ([`Phasing`]) or,
/// when a `gather all` waits for its rounds, all together. The controller
/// grants each device the ids of its next firings ahead of time and the
/// device starts each at its instant, so no start command from the
/// controller lies on the paths that begin there (the cost model charges
/// none: `cost::TaskCosts::start_us`). The controller still creates every
/// firing at its instant (so it decides who is in a round).
pub fn fired_on_device(graph: &TaskGraph) -> Vec<bool> {
    graph
        .tasks
        .iter()
        .map(|t| {
            let a = activation(graph, t.id);
            matches!(a.start, Start::Periodic { .. })
                && a.width == Width::EveryDevice
                && t.behaviour.is_none()
        })
        .collect()
}

/// The phases of a per-device periodic source (`every P`, mission of
/// duration `D`): device `d` fires at its phase `φ` and every `P` after,
/// in slot `d mod slots` of the phase window `[0, W)`, `φ = slot × W /
/// slots`. `W = D − (K − 1)·P` with `K = ⌈D / P⌉` (the window is `P` when
/// `D` is a multiple of `P`): every device fires `K` times, as many as
/// the rule without phases, and the cost model's counts hold. `slots` is
/// the size the fleet is declared with (so a device keeps its phase, `P`
/// between its firings, whoever joins or fails), at most one per
/// `min_gap_us` of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phasing {
    pub window_us: u64,
    pub slots: u32,
}

impl Phasing {
    pub fn new(period_us: u64, duration_us: u64, devices: usize, min_gap_us: u64) -> Phasing {
        let period = period_us.max(1);
        let k = duration_us.div_ceil(period).max(1);
        let window_us = duration_us
            .saturating_sub((k - 1).saturating_mul(period))
            .clamp(1, period);
        let by_gap = window_us / min_gap_us.max(1);
        let n = u64::try_from(devices).unwrap_or(u64::MAX).min(by_gap);
        Phasing {
            window_us,
            slots: u32::try_from(n).unwrap_or(u32::MAX).max(1),
        }
    }

    /// When slot `slot` fires, µs into its period.
    pub fn offset_us(&self, slot: u32) -> u64 {
        let at = u128::from(self.window_us) * u128::from(slot) / u128::from(self.slots.max(1));
        u64::try_from(at).unwrap_or(self.window_us)
    }
}

/// What starts a task: one variant per rule above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Periodic {
        period_us: u64,
    },
    Once,
    PerInput,
    Window {
        period_us: u64,
    },
    GatherRound,
    GatherCount {
        n: u32,
    },
    /// A swarm behaviour: commanded to every device of its fleet at start.
    Behaviour,
    /// Nothing starts it (the checker warned).
    Never,
}

impl Start {
    /// Whether an activation of this task begins a new round.
    pub fn starts_round(self) -> bool {
        !matches!(self, Start::PerInput)
    }
}

/// Instances per activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    One,
    /// Every live device of the task's fleet (per-device tasks).
    EveryDevice,
    Fixed(u32),
    /// `each` per item of the input list (1, or an `assign` count), at
    /// most `max` items.
    PerItem {
        max: u32,
        each: u32,
    },
}

/// Everything about how a task is activated, from one rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub start: Start,
    pub width: Width,
    /// The function the runtime calls: the task's `fn`, else its name.
    pub function: String,
}

/// The activation rules of `task`.
pub fn activation(graph: &TaskGraph, task: TaskId) -> Activation {
    let t = &graph.tasks[task.index()];
    let start = start_of(t);
    let width = if runs_on_every_device(t) {
        Width::EveryDevice
    } else {
        let each = t.assign.map_or(1, |a| a.count.max(1));
        match t.fanout {
            Some(FanOut::Fixed { width }) => Width::Fixed(width.max(1)),
            Some(FanOut::PerItem) => Width::PerItem {
                max: max_items(t).max(1),
                each,
            },
            None if each > 1 => Width::Fixed(each),
            None => Width::One,
        }
    };
    Activation {
        start,
        width,
        function: t.function.clone().unwrap_or_else(|| t.name.clone()),
    }
}

fn start_of(t: &Task) -> Start {
    match (t.trigger, t.gather) {
        (Trigger::Periodic { period_us }, _) => Start::Periodic { period_us },
        (Trigger::Once, _) => Start::Once,
        (Trigger::Window { period_us }, _) => Start::Window { period_us },
        (Trigger::Behaviour, _) => Start::Behaviour,
        (Trigger::Never, _) => Start::Never,
        (Trigger::Upstream, Some(Gather::All)) => Start::GatherRound,
        (Trigger::Upstream, Some(Gather::Count { n })) => Start::GatherCount { n: n.max(1) },
        (Trigger::Upstream, None) => Start::PerInput,
    }
}

/// A source or behaviour bound to the devices of a fleet: pinned to the
/// fleet, reading a sensor, or moving the vehicle. Such a task can only run
/// on the edge, so the rule does not depend on placement.
pub fn runs_on_every_device(t: &Task) -> bool {
    let source = matches!(
        t.trigger,
        Trigger::Periodic { .. } | Trigger::Once | Trigger::Behaviour
    ) && t.inputs.is_empty();
    let bound = matches!(t.placement, Placement::Fleet { .. })
        || !t.needs.is_empty()
        || t.behaviour.is_some();
    source && bound && t.fanout.is_none()
}

/// Items per input value: the longest list input's stated length, or 1.
pub fn max_items(t: &Task) -> u32 {
    t.inputs.iter().map(|i| i.ty.items()).max().unwrap_or(1)
}

impl Width {
    /// Instances of one firing on a fleet of `fleet_size` devices (`None`
    /// in the cloud); per-item fan-out at its list's stated length.
    pub fn instances(self, fleet_size: Option<u32>) -> u32 {
        match self {
            Width::One => 1,
            Width::EveryDevice => fleet_size.unwrap_or(1).max(1),
            Width::Fixed(n) => n,
            Width::PerItem { max, each } => max.saturating_mul(each),
        }
    }
}

/// Instances of one activation of `task` when it runs on the edge with a
/// fleet of `fleet_size` devices (or in the cloud: `fleet_size` = None).
pub fn instances(graph: &TaskGraph, task: TaskId, fleet_size: Option<u32>) -> u32 {
    activation(graph, task).width.instances(fleet_size)
}

/// How often a task runs, independent of placement: steady-state rates per
/// hour and exact counts over a mission of a given length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Activations per hour, ×1000 (a per-device firing counts one per device).
    pub per_hour_milli: u128,
    /// Activations over the whole mission: each produces one output value.
    pub per_mission: u128,
    /// Instances per activation (at most; per-item fan-out at its list length).
    pub width: u128,
    /// Input values one activation processes: 1, or the batch of a window
    /// or a gather (its expected size in steady state, rounded up).
    pub batch: u128,
    /// Rounds per hour ×1000 and per mission (what a `gather all` downstream sees).
    pub rounds_per_hour_milli: u128,
    pub rounds_per_mission: u128,
}

impl Rate {
    /// Instances per hour: what occupies CPUs.
    pub fn instances_per_hour(&self) -> u128 {
        self.per_hour_milli * self.width / 1_000
    }
    pub fn instances_per_mission(&self) -> u128 {
        self.per_mission * self.width
    }
    /// Output values per hour: a fanned-out activation still produces one value.
    pub fn outputs_per_hour(&self) -> u128 {
        self.per_hour_milli / 1_000
    }
    pub fn outputs_per_mission(&self) -> u128 {
        self.per_mission
    }
}

/// Firings of a source of period `period_us` in a mission of `duration_us`:
/// at `0, P, 2P, …` strictly before the end.
pub fn periodic_firings(period_us: u64, duration_us: u64) -> u128 {
    u128::from(duration_us).div_ceil(u128::from(period_us.max(1)))
}

/// Training samples in one value of `data`: one per item of a list output
/// (its stated length at most, `items` as reported when known), else one.
pub fn samples_per_value(graph: &TaskGraph, data: TaskId, items: Option<u32>) -> u32 {
    let Some(t) = graph.tasks.get(data.index()) else {
        return 0;
    };
    let max = t.outputs.iter().map(|o| o.ty.items()).max().unwrap_or(1);
    let is_list = t
        .outputs
        .iter()
        .any(|o| matches!(o.ty.kind, crate::graph::DataKind::List { .. }));
    match (is_list, items) {
        (true, Some(n)) => n.min(max),
        (true, None) => max,
        (false, _) => 1,
    }
}

/// Rounds of a retrain of period `period_us` in a mission of
/// `duration_us`: at `P, 2P, …` strictly before the end.
pub fn retrain_rounds(period_us: u64, duration_us: u64) -> u128 {
    periodic_firings(period_us, duration_us).saturating_sub(1)
}

/// What one `retrain` does over a mission, from the rates of its data task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retraining {
    /// Rounds (timer firings) over the mission: [`retrain_rounds`].
    pub rounds: u128,
    /// Rounds with at least one new sample, each one training job and one
    /// new model version: `min(rounds, values of the data task)` — exact
    /// when the data task delivers at least once per period, as a steady
    /// source does.
    pub jobs: u128,
    /// Samples one job trains on: the data task's samples per period
    /// (rounded up), at most all it produces.
    pub samples_per_job: u128,
}

/// The retrain rule for `r` given every task's rate ([`rates`]).
pub fn retraining(
    graph: &TaskGraph,
    rates: &[Rate],
    r: &crate::graph::Retrain,
    duration_us: u64,
) -> Retraining {
    let rounds = retrain_rounds(r.period_us, duration_us);
    let Some(data) = rates.get(r.data.index()) else {
        return Retraining::default();
    };
    let per_value = u128::from(samples_per_value(graph, r.data, None));
    let jobs = rounds.min(data.outputs_per_mission());
    let per_period =
        (data.per_hour_milli * per_value * u128::from(r.period_us)).div_ceil(HOUR_US * 1_000);
    let all = data.outputs_per_mission() * per_value;
    Retraining {
        rounds,
        jobs,
        samples_per_job: if jobs == 0 {
            0
        } else {
            per_period.clamp(1, all.max(1))
        },
    }
}

/// The retrains that take effect: none unless `learning on`.
pub fn retrains(graph: &TaskGraph) -> &[crate::graph::Retrain] {
    let l = &graph.policies.learning;
    if l.enabled {
        &l.retrain
    } else {
        &[]
    }
}

/// The rate of every task (indexed by task id), for a mission of
/// `duration_us`; `topo` is a topological order of the graph.
pub fn rates(graph: &TaskGraph, topo: &[TaskId], duration_us: u64) -> Vec<Rate> {
    let n = graph.tasks.len();
    let mut rates = vec![Rate::default(); n];
    let preds = graph.predecessors();
    // The task whose firing begins the round each task's activations are in.
    let mut round_source: Vec<TaskId> = (0..n as u32).map(TaskId).collect();
    let fleets = crate::plan::edge_fleets(graph);
    for &id in topo {
        let a = activation(graph, id);
        let pacer = pacer(&preds[id.index()], &rates);
        if let (Start::PerInput, Some(p)) = (a.start, pacer) {
            round_source[id.index()] = round_source[p.index()];
        }
        let fleet = fleets[id.index()].map(|f| graph.fleets[f.index()].count);
        // A per-device firing is one activation on each device (each its
        // own value); other activations run `width` instances for one value.
        let (width, per_firing) = match a.width {
            Width::EveryDevice => (1, u128::from(fleet.unwrap_or(1))),
            w => (u128::from(w.instances(fleet)), 1),
        };
        // The slowest producer paces a join ([`join_pacers`]), and a single
        // producer itself.
        let up = pacer.map(|p| rates[p.index()]).unwrap_or_default();
        let source = |firings_per_hour_milli: u128, firings: u128| Rate {
            per_hour_milli: firings_per_hour_milli * per_firing,
            per_mission: firings * per_firing,
            width,
            batch: if preds[id.index()].is_empty() || firings_per_hour_milli == 0 {
                1
            } else {
                up.per_hour_milli.div_ceil(firings_per_hour_milli).max(1)
            },
            rounds_per_hour_milli: firings_per_hour_milli,
            rounds_per_mission: firings,
        };
        rates[id.index()] = match a.start {
            Start::Periodic { period_us } => source(
                HOUR_US * 1_000 / u128::from(period_us.max(1)),
                periodic_firings(period_us, duration_us),
            ),
            // Once per mission: its hourly share is one over the mission's hours.
            Start::Once => source(HOUR_US * 1_000 / u128::from(duration_us.max(1)), 1),
            Start::Behaviour | Start::Never => Rate::default(),
            Start::PerInput => Rate {
                width,
                batch: 1,
                ..up
            },
            Start::Window { period_us } => {
                let windows_per_hour = HOUR_US * 1_000 / u128::from(period_us.max(1));
                let windows = periodic_firings(period_us, duration_us);
                source(
                    up.per_hour_milli.min(windows_per_hour),
                    up.per_mission.min(windows),
                )
            }
            // One firing per round of each distinct round upstream.
            Start::GatherRound => {
                let mut roots: Vec<TaskId> = preds[id.index()]
                    .iter()
                    .map(|p| round_source[p.index()])
                    .collect();
                roots.sort();
                roots.dedup();
                let r = |t: &TaskId| rates[t.index()];
                source(
                    roots.iter().map(|t| r(t).rounds_per_hour_milli).sum(),
                    roots.iter().map(|t| r(t).rounds_per_mission).sum(),
                )
            }
            Start::GatherCount { n } => {
                let n = u128::from(n);
                source(up.per_hour_milli / n, up.per_mission.div_ceil(n))
            }
        };
    }
    rates
}

/// The fleet whose devices a task's values come from, one device each: a
/// per-device source's fleet, carried through per-input tasks whose
/// producers all share it. `None` where values mix devices (windows,
/// gathers, cloud sources, joins across fleets).
pub fn origin_fleets(graph: &TaskGraph, topo: &[TaskId]) -> Vec<Option<crate::graph::FleetId>> {
    let n = graph.tasks.len();
    let preds = graph.predecessors();
    let mut origin = vec![None; n];
    let fleets = crate::plan::edge_fleets(graph);
    for &id in topo {
        let a = activation(graph, id);
        origin[id.index()] = match a.start {
            _ if a.width == Width::EveryDevice => fleets[id.index()],
            Start::PerInput => {
                let mut fleets = preds[id.index()].iter().map(|p| origin[p.index()]);
                let first = fleets.next().flatten();
                if fleets.all(|f| f == first) {
                    first
                } else {
                    None
                }
            }
            _ => None,
        };
    }
    origin
}

/// A join (a per-input task with several producers) fires once per value of
/// its pacer, the producer with the lowest rate (the first input on a tie),
/// combining it with the latest value of every other producer. A pacer value
/// that arrives before every other producer has delivered once waits for
/// them. When all producers' values come from the devices of one fleet
/// ([`origin_fleets`]), values are joined per device. `None` for tasks that
/// are not joins. One entry per task, from one pass over the edges.
pub fn join_pacers(graph: &TaskGraph, rates: &[Rate]) -> Vec<Option<TaskId>> {
    graph
        .predecessors()
        .iter()
        .zip(&graph.tasks)
        .map(|(producers, t)| {
            let join = producers.len() >= 2 && start_of(t) == Start::PerInput;
            join.then(|| pacer(producers, rates)).flatten()
        })
        .collect()
}

/// Each join's pacer ([`join_pacers`]) when the join is joined per device
/// (its values all come from one fleet's devices, [`origin_fleets`]);
/// `None` for every other task.
pub fn per_device_pacers(
    graph: &TaskGraph,
    topo: &[TaskId],
    pacers: &[Option<TaskId>],
) -> Vec<Option<TaskId>> {
    origin_fleets(graph, topo)
        .into_iter()
        .zip(pacers)
        .map(|(fleet, pacer)| pacer.filter(|_| fleet.is_some()))
        .collect()
}

/// The producer with the lowest rate, the first on a tie (`min_by_key`
/// keeps the first minimum).
fn pacer(producers: &[TaskId], rates: &[Rate]) -> Option<TaskId> {
    producers.iter().copied().min_by_key(|p| {
        (
            rates[p.index()].per_hour_milli,
            rates[p.index()].per_mission,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_firings_are_strictly_before_the_end() {
        assert_eq!(periodic_firings(1_000_000, 60_000_000), 60);
        assert_eq!(periodic_firings(7_000_000, 60_000_000), 9);
        assert_eq!(periodic_firings(60_000_000, 60_000_000), 1);
        assert_eq!(periodic_firings(0, 5), 5, "a zero period is read as 1 µs");
    }

    #[test]
    fn retrain_rounds_start_one_period_in() {
        assert_eq!(retrain_rounds(60_000_000, 300_000_000), 4, "1..4 min");
        assert_eq!(retrain_rounds(60_000_000, 301_000_000), 5, "1..5 min");
        assert_eq!(retrain_rounds(60_000_000, 60_000_000), 0);
        assert_eq!(retrain_rounds(60_000_000, 1), 0);
    }

    #[test]
    fn phases_keep_every_devices_count_and_their_gap() {
        let s = 1_000_000;
        // D a multiple of P: the window is the period.
        let p = Phasing::new(s, 10 * s, 4, 1_000);
        assert_eq!((p.window_us, p.slots), (s, 4));
        assert_eq!(
            (0..4).map(|k| p.offset_us(k)).collect::<Vec<_>>(),
            [0, 250_000, 500_000, 750_000]
        );
        // 10.5 s of `every 1 s`: 11 firings each; the last phase is
        // before 10.5 s only within the first half second.
        let p = Phasing::new(s, 10 * s + s / 2, 4, 1_000);
        assert_eq!((p.window_us, p.slots), (s / 2, 4));
        assert!(10 * s + p.offset_us(3) < 10 * s + s / 2);
        // A period longer than the mission: one firing each, spread over
        // the mission (20 s of `every 2 min`).
        let p = Phasing::new(120 * s, 20 * s, 8, 1_000);
        assert_eq!((p.window_us, p.slots), (20 * s, 8));
        // Slots at least the gap apart; one device, or none, is one slot.
        assert_eq!(Phasing::new(5_000, 10 * s, 200, 1_000).slots, 5);
        assert_eq!(Phasing::new(s, 10 * s, 1, 1_000).slots, 1);
        assert_eq!(Phasing::new(s, 10 * s, 0, 1_000).slots, 1);
        assert_eq!(Phasing::new(0, 0, 3, 0).slots, 1);
        // Overflow-free at the extremes.
        let p = Phasing::new(u64::MAX, u64::MAX, usize::MAX, 1);
        assert!(p.offset_us(p.slots - 1) < p.window_us);
    }
}
