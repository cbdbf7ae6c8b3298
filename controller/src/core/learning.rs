//! Continuous learning: retrain rounds, training jobs in the function pool,
//! model versions, pushes to devices and what each device has loaded.
//!
//! The rules are `ir::activation`'s (`retrain_rounds`, `retraining`):
//! * a `Timer::Retrain` fires at `P, 2P, …` after the start while the
//!   mission runs; a round with samples collected since the last one starts
//!   a **training job**, a round without is skipped;
//! * samples are counted from the data task's values as they resolve (one
//!   per value, one per item of a list value: `activation::samples_per_value`);
//! * a job is a pool invocation of the task's training function
//!   (`<fn>.train`), not an instance of the task graph: it has its own id
//!   from the instance counter (so results are idempotent by id like any
//!   other), is never placed on a device, has no straggler check, and a
//!   failed job gives its samples back to the next round;
//! * its result **bumps the model version** (journaled with the result) and,
//!   when the task runs on the edge, pushes the model to every live device
//!   of the task's fleet (`DeviceMsg::Model`, counted in
//!   `Counters::model_bytes_pushed`); a device that registers later gets the
//!   current model at registration;
//! * a device answers `Event::ModelLoaded` (journaled) and the core keeps
//!   each device's loaded version; task results carry the version that
//!   produced them and are counted per version. In the cloud the invocation
//!   carries the version to use (`PoolAction::Invoke::model_version`).
//!
//! Everything here is in [`State`](super::State) and changes only through
//! journaled records, so recovery restores versions and loaded models; the
//! timers and unacknowledged pushes are re-sent by `resync`.

use super::{Controller, DeviceStatus, Phase};
use crate::effect::{DeviceMsg, Effect, Publication};
use crate::ids::{DeviceId, Epoch, Executor, InstanceId, WorkerId};
use crate::pool::{Dispatch, PoolAction, Queued};
use crate::time::Micros;
use crate::timer::Timer;
use hivemind_ir::plan::Modality;
use hivemind_ir::{FleetId, TaskGraph, TaskId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The journaled state of every retrain (indexed like
/// `ir::activation::retrains`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Learning {
    pub models: Vec<Model>,
    /// Training jobs not yet resolved.
    pub jobs: BTreeMap<InstanceId, Job>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub task: TaskId,
    /// 0: the model the task started with; each completed job adds one.
    pub version: u32,
    /// Samples collected since the last round that started a job.
    pub pending_samples: u64,
    pub next_due: Option<Micros>,
    pub rounds: u64,
    /// Rounds without a new sample (no job).
    pub skipped_rounds: u64,
    pub jobs_started: u64,
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    pub samples_trained: u64,
    /// Downloads sent to devices and their bytes (with joins' and resyncs'
    /// first pushes; re-sends after a controller restart are not counted).
    pub pushes: u64,
    pub bytes_pushed: u64,
    /// Per device: the version it reported loaded for its current registration.
    pub loaded: BTreeMap<DeviceId, u32>,
    /// Results of the task by the model version that produced them.
    pub results_by_version: BTreeMap<u32, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub retrain: u32,
    pub samples: u64,
    pub created: Micros,
    /// The worker running it, once the pool placed it.
    pub worker: Option<WorkerId>,
}

/// Facts about one retrain computed from graph and plan (never journaled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrainFacts {
    pub task: TaskId,
    pub data: TaskId,
    pub period_us: u64,
    pub model_bytes: u64,
    pub ops_per_sample: u64,
    /// The training function: the task's function with `.train`.
    pub function: String,
    /// The fleet that receives the model: the task's, when it runs on the edge.
    pub push_to: Option<FleetId>,
}

pub fn facts(graph: &TaskGraph, plan: &hivemind_ir::plan::Plan) -> Vec<RetrainFacts> {
    hivemind_ir::activation::retrains(graph)
        .iter()
        .map(|r| {
            let p = &plan.tasks[r.task.index()];
            let f = hivemind_ir::activation::activation(graph, r.task).function;
            RetrainFacts {
                task: r.task,
                data: r.data,
                period_us: r.period_us.max(1),
                model_bytes: r.model_bytes,
                ops_per_sample: r.train_ops_per_sample,
                function: format!("{f}.train"),
                push_to: (p.modality == Modality::Edge).then_some(p.fleet).flatten(),
            }
        })
        .collect()
}

impl Learning {
    pub fn new(facts: &[RetrainFacts]) -> Learning {
        Learning {
            models: facts
                .iter()
                .map(|f| Model {
                    task: f.task,
                    version: 0,
                    pending_samples: 0,
                    next_due: None,
                    rounds: 0,
                    skipped_rounds: 0,
                    jobs_started: 0,
                    jobs_completed: 0,
                    jobs_failed: 0,
                    samples_trained: 0,
                    pushes: 0,
                    bytes_pushed: 0,
                    loaded: BTreeMap::new(),
                    results_by_version: BTreeMap::new(),
                })
                .collect(),
            jobs: BTreeMap::new(),
        }
    }
}

impl Controller {
    /// The model version an invocation of `task` uses (0 if not retrained).
    pub(super) fn model_version(&self, task: TaskId) -> u32 {
        self.st
            .learning
            .models
            .iter()
            .find(|m| m.task == task)
            .map_or(0, |m| m.version)
    }

    /// At mission start: the first round is one period in.
    pub(super) fn start_learning(&mut self, now: Micros) {
        for i in 0..self.d.retrains.len() {
            let due = now.plus(self.d.retrains[i].period_us);
            self.st.learning.models[i].next_due = Some(due);
            self.timer(due, Timer::Retrain { retrain: i as u32 });
        }
    }

    pub(super) fn retrain_due(&self, now: Micros, i: u32) -> bool {
        self.st.phase == Phase::Running
            && self
                .st
                .learning
                .models
                .get(i as usize)
                .and_then(|m| m.next_due)
                .is_some_and(|due| due <= now)
    }

    /// A round: start a training job on the samples collected since the
    /// last one, or skip it when there are none.
    pub(super) fn on_retrain(&mut self, now: Micros, i: u32) {
        if !self.retrain_due(now, i) {
            return;
        }
        let k = i as usize;
        let (Some(facts), Some(m)) = (self.d.retrains.get(k), self.st.learning.models.get_mut(k))
        else {
            return;
        };
        let Some(due) = m.next_due else { return };
        // Catch up without bursting, like periodic tasks.
        let period = facts.period_us;
        let next = due.plus((now.since(due) / period + 1) * period);
        m.next_due = Some(next);
        m.rounds += 1;
        let samples = std::mem::take(&mut m.pending_samples);
        let (task, function) = (facts.task, facts.function.clone());
        self.timer(next, Timer::Retrain { retrain: i });
        if samples == 0 {
            self.st.learning.models[k].skipped_rounds += 1;
            return;
        }
        self.st.learning.models[k].jobs_started += 1;
        let id = InstanceId(self.st.next_instance);
        self.st.next_instance += 1;
        self.st.created += 1;
        self.st.learning.jobs.insert(
            id,
            Job {
                retrain: i,
                samples,
                created: now,
                worker: None,
            },
        );
        self.submit_job(now, id, task, &function);
    }

    fn submit_job(&mut self, now: Micros, id: InstanceId, task: TaskId, function: &str) {
        let q = Queued {
            instance: id,
            task,
            since: now,
            input: crate::effect::Handoff::None,
            avoid: None,
        };
        if let Some(d) = self.pool(|p, o| p.submit(now, function, q, None, o)) {
            self.launch(now, vec![d]);
        }
    }

    /// The pool placed a training job on a worker: send it.
    pub(super) fn start_job(&mut self, d: Dispatch) {
        let Some(job) = self.st.learning.jobs.get_mut(&d.instance) else {
            return;
        };
        job.worker = Some(d.worker);
        let (samples, retrain) = (job.samples, job.retrain);
        let ops = self
            .d
            .retrains
            .get(retrain as usize)
            .map_or(0, |f| samples.saturating_mul(f.ops_per_sample));
        self.out.push_back(Effect::Pool(PoolAction::Train {
            worker: d.worker,
            job: d.instance,
            task: d.task,
            function: d.function,
            samples,
            ops,
        }));
    }

    pub(super) fn is_job(&self, id: InstanceId) -> bool {
        self.st.learning.jobs.contains_key(&id)
    }

    /// A training job finished: a new model version, pushed where the task runs.
    pub(super) fn on_trained(&mut self, now: Micros, id: InstanceId, executor: Executor) {
        let ok = matches!((self.st.learning.jobs.get(&id), executor),
            (Some(j), Executor::Worker { worker }) if j.worker == Some(worker));
        if !ok {
            self.st.counters.unknown_results += 1;
            return;
        }
        let Some(job) = self.st.learning.jobs.remove(&id) else {
            return;
        };
        self.mark_done(id);
        self.out.push_back(Effect::ack(executor, id));
        let k = job.retrain as usize;
        let Some(m) = self.st.learning.models.get_mut(k) else {
            return;
        };
        m.version += 1;
        m.jobs_completed += 1;
        m.samples_trained += job.samples;
        let (task, version) = (m.task, m.version);
        self.publish(Publication::ModelTrained {
            job: id,
            task,
            version,
            samples: job.samples,
        });
        if let Executor::Worker { worker } = executor {
            self.release_worker(now, worker);
        }
        let devices: Vec<(DeviceId, Epoch)> = match self.d.retrains[k].push_to {
            Some(fleet) => self
                .st
                .devices
                .iter()
                .filter(|(_, d)| d.fleet == fleet && d.status == DeviceStatus::Alive)
                .map(|(&id, d)| (id, d.epoch))
                .collect(),
            None => Vec::new(),
        };
        for (device, epoch) in devices {
            self.push_model(k, device, epoch, true);
        }
        self.maybe_finish(now);
    }

    /// Send retrain `k`'s current model to one registration of a device.
    fn push_model(&mut self, k: usize, device: DeviceId, epoch: Epoch, count: bool) {
        let bytes = self.d.retrains[k].model_bytes;
        let m = &mut self.st.learning.models[k];
        let (task, version) = (m.task, m.version);
        if count {
            m.pushes += 1;
            m.bytes_pushed = m.bytes_pushed.saturating_add(bytes);
            self.st.counters.model_bytes_pushed =
                self.st.counters.model_bytes_pushed.saturating_add(bytes);
        }
        self.tell_device(
            device,
            epoch,
            DeviceMsg::Model {
                task,
                version,
                bytes,
            },
        );
    }

    /// A training job's attempt failed: its samples go to the next round.
    pub(super) fn on_job_error(&mut self, now: Micros, id: InstanceId, executor: Executor) {
        let ok = matches!((self.st.learning.jobs.get(&id), executor),
            (Some(j), Executor::Worker { worker }) if j.worker == Some(worker));
        if !ok {
            self.st.counters.unknown_results += 1;
            return;
        }
        self.drop_job(
            id,
            true,
            "training job failed; its samples go to the next round",
        );
        if let Executor::Worker { worker } = executor {
            self.release_worker(now, worker);
        }
        self.maybe_finish(now);
    }

    /// Resolve a job without a model; `keep_samples` returns them to the next round.
    fn drop_job(&mut self, id: InstanceId, keep_samples: bool, reason: &str) {
        let Some(job) = self.st.learning.jobs.remove(&id) else {
            return;
        };
        self.mark_done(id);
        self.st.pool.unqueue(id);
        let Some(m) = self.st.learning.models.get_mut(job.retrain as usize) else {
            return;
        };
        m.jobs_failed += 1;
        if keep_samples {
            m.pending_samples += job.samples;
        }
        let task = m.task;
        self.publish(Publication::Failed {
            instance: id,
            task,
            reason: reason.into(),
        });
    }

    fn release_worker(&mut self, now: Micros, worker: WorkerId) {
        if self.st.pool.workers.contains_key(&worker) {
            let more = self.pool(|p, o| p.on_done(now, worker, o));
            self.launch(now, more);
        }
    }

    /// The mission ended (drain timeout, abort) with jobs unresolved.
    pub(super) fn cancel_jobs(&mut self) {
        let ids: Vec<(InstanceId, Option<WorkerId>)> = self
            .st
            .learning
            .jobs
            .iter()
            .map(|(&id, j)| (id, j.worker))
            .collect();
        for (id, worker) in ids {
            if let Some(worker) = worker {
                self.out.push_back(Effect::Pool(PoolAction::Cancel {
                    worker,
                    instance: id,
                }));
            }
            self.drop_job(id, false, "mission ended before the training job finished");
        }
    }

    /// A worker exited: its training jobs go back to the pool.
    pub(super) fn jobs_lost(&mut self, now: Micros, worker: WorkerId) {
        let lost: Vec<InstanceId> = self
            .st
            .learning
            .jobs
            .iter()
            .filter(|(_, j)| j.worker == Some(worker))
            .map(|(&id, _)| id)
            .collect();
        for id in lost {
            let Some(job) = self.st.learning.jobs.get_mut(&id) else {
                continue;
            };
            job.worker = None;
            let k = job.retrain as usize;
            let (task, function) = (self.d.retrains[k].task, self.d.retrains[k].function.clone());
            self.st.counters.replaced += 1;
            self.submit_job(now, id, task, &function);
        }
    }

    /// Samples from a resolved value of `task` (when it is a retrain's data).
    pub(super) fn collect_samples(&mut self, task: TaskId, items: u32) {
        for k in 0..self.d.retrains.len() {
            if self.d.retrains[k].data == task {
                let n =
                    hivemind_ir::activation::samples_per_value(&self.st.graph, task, Some(items));
                let m = &mut self.st.learning.models[k];
                m.pending_samples = m.pending_samples.saturating_add(u64::from(n));
            }
        }
    }

    /// A result of a retrained task, by the model version that produced it.
    pub(super) fn count_result_version(&mut self, task: TaskId, version: u32) {
        for m in &mut self.st.learning.models {
            if m.task == task {
                *m.results_by_version.entry(version).or_default() += 1;
            }
        }
    }

    /// A device (re)registered: forget what its old registration loaded,
    /// and give it the current models of the tasks its fleet runs.
    pub(super) fn models_for_join(&mut self, device: DeviceId, epoch: Epoch, fleet: FleetId) {
        for k in 0..self.d.retrains.len() {
            self.st.learning.models[k].loaded.remove(&device);
            let current = self.st.learning.models[k].version;
            if self.d.retrains[k].push_to == Some(fleet)
                && current > 0
                && matches!(self.st.phase, Phase::Running | Phase::Draining)
            {
                self.push_model(k, device, epoch, true);
            }
        }
    }

    pub(super) fn on_model_loaded(
        &mut self,
        device: DeviceId,
        epoch: Epoch,
        task: TaskId,
        version: u32,
    ) {
        if !self.current(device, epoch) {
            return;
        }
        let Some(m) = self.st.learning.models.iter_mut().find(|m| m.task == task) else {
            self.st.counters.rejected_events += 1;
            return;
        };
        let v = m.loaded.entry(device).or_default();
        *v = (*v).max(version.min(m.version));
    }

    /// After recovery: retrain timers, live jobs re-sent, and the current
    /// model re-sent (not counted again) to live devices that have not
    /// reported it loaded.
    pub(super) fn resync_learning(&mut self) {
        for k in 0..self.st.learning.models.len() {
            if let Some(due) = self.st.learning.models[k].next_due {
                if self.st.phase == Phase::Running {
                    self.timer(due, Timer::Retrain { retrain: k as u32 });
                }
            }
            let Some(fleet) = self.d.retrains.get(k).and_then(|f| f.push_to) else {
                continue;
            };
            let m = &self.st.learning.models[k];
            if m.version == 0 {
                continue;
            }
            let behind: Vec<(DeviceId, Epoch)> = self
                .st
                .devices
                .iter()
                .filter(|(id, d)| {
                    d.fleet == fleet
                        && d.status == DeviceStatus::Alive
                        && m.loaded.get(id).copied().unwrap_or(0) < m.version
                })
                .map(|(&id, d)| (id, d.epoch))
                .collect();
            for (device, epoch) in behind {
                self.push_model(k, device, epoch, false);
            }
        }
        let live: Vec<(InstanceId, Job)> = self
            .st
            .learning
            .jobs
            .iter()
            .map(|(&id, j)| (id, j.clone()))
            .collect();
        for (id, job) in live {
            if let (Some(worker), Some(f)) = (job.worker, self.d.retrains.get(job.retrain as usize))
            {
                self.out.push_back(Effect::Pool(PoolAction::Train {
                    worker,
                    job: id,
                    task: f.task,
                    function: f.function.clone(),
                    samples: job.samples,
                    ops: job.samples.saturating_mul(f.ops_per_sample),
                }));
            }
        }
    }
}
