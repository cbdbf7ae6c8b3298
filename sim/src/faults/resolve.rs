//! From a parsed script to concrete actions on device ids.

use std::collections::BTreeSet;

use super::parse::closest;
use super::rng::Rng;
use super::{
    Action, ErrorKind, Fault, FaultError, FaultScript, FleetInfo, Group, LineError, Scheduled,
    Select, Target,
};

/// The fleets, as device ranges.
struct Fleets<'a> {
    fleets: &'a [FleetInfo],
    /// Devices of all fleets: ids `0..total`.
    total: u64,
}

/// A set of device ids `start .. start + len`, and how errors name it.
struct Range {
    start: u64,
    len: u64,
    name: String,
}

impl Fleets<'_> {
    fn range(&self, target: &Target) -> Result<Range, ErrorKind> {
        match target {
            Target::All => Ok(Range {
                start: 0,
                len: self.total,
                name: "all".to_string(),
            }),
            Target::Device(device) => {
                if u64::from(*device) < self.total {
                    Ok(Range {
                        start: u64::from(*device),
                        len: 1,
                        name: format!("device {device}"),
                    })
                } else {
                    Err(ErrorKind::NoSuchDevice {
                        device: *device,
                        total: self.total,
                    })
                }
            }
            Target::Fleet(name) => match self.fleets.iter().find(|f| f.name == *name) {
                Some(fleet) => Ok(Range {
                    start: u64::from(fleet.first_device),
                    len: u64::from(fleet.count),
                    name: format!("`{name}`"),
                }),
                None => Err(self.unknown(name)),
            },
        }
    }

    fn unknown(&self, name: &str) -> ErrorKind {
        const SHOWN: usize = 20;
        let mut known: Vec<String> = self
            .fleets
            .iter()
            .take(SHOWN)
            .map(|f| format!("`{}`", f.name))
            .collect();
        if self.fleets.len() > SHOWN {
            known.push("…".to_string());
        }
        ErrorKind::UnknownFleet {
            name: name.to_string(),
            suggestion: closest(name, self.fleets.iter().map(|f| f.name.as_str()))
                .map(str::to_string),
            known: if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            },
        }
    }

    /// The devices `group` selects, ascending.
    fn pick(&self, group: &Group, rng: &mut Rng) -> Result<Vec<u32>, ErrorKind> {
        let range = self.range(&group.target)?;
        let wanted = match group.select {
            Select::All => range.len,
            Select::Count(n) => {
                if u64::from(n) > range.len {
                    return Err(ErrorKind::NotEnoughDevices {
                        target: range.name,
                        wanted: n,
                        available: range.len,
                    });
                }
                u64::from(n)
            }
            // Rounded up: any share above 0% of a non-empty fleet is at
            // least one device. The result is at most `len`.
            Select::Permille(p) => {
                let k = (u128::from(range.len) * u128::from(p)).div_ceil(1_000);
                u64::try_from(k).unwrap_or(range.len).min(range.len)
            }
        };
        let offsets: Vec<u64> = if wanted == range.len {
            (0..range.len).collect()
        } else {
            sample(rng, range.len, wanted).into_iter().collect()
        };
        offsets
            .into_iter()
            .map(|offset| device_id(range.start + offset))
            .collect()
    }
}

fn device_id(id: u64) -> Result<u32, ErrorKind> {
    u32::try_from(id).map_err(|_| ErrorKind::Invalid {
        message: format!("device id {id} does not fit in 32 bits"),
    })
}

/// `k` distinct offsets of `0..n` (k ≤ n), uniformly (Floyd's
/// algorithm: k draws, memory for k, whatever n is).
fn sample(rng: &mut Rng, n: u64, k: u64) -> BTreeSet<u64> {
    let mut chosen = BTreeSet::new();
    for j in n.saturating_sub(k)..n {
        let t = rng.below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen
}

pub(super) fn resolve(
    script: &FaultScript,
    fleets: &[FleetInfo],
    duration_us: u64,
    seed: u64,
) -> Result<Vec<Scheduled>, FaultError> {
    let fleets = Fleets {
        fleets,
        total: fleets.iter().map(|f| u64::from(f.count)).sum(),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for line in &script.lines {
        let mut rng = Rng::for_line(seed, line.line);
        let mut emit = |at_us: u64, action: Action| {
            out.push(Scheduled {
                at_us,
                line: line.line,
                action,
            })
        };
        if let Err(kind) = actions(&line.fault, &fleets, duration_us, &mut rng, &mut emit) {
            errors.push(LineError {
                line: line.line,
                column: line.column,
                kind,
            });
        }
    }
    if !errors.is_empty() {
        return Err(FaultError { errors });
    }
    // Stable: equal times keep line order, and a line's own order.
    out.sort_by_key(|s| s.at_us);
    Ok(out)
}

/// The actions of one fault, through `emit`, in line order.
fn actions(
    fault: &Fault,
    fleets: &Fleets<'_>,
    duration_us: u64,
    rng: &mut Rng,
    emit: &mut impl FnMut(u64, Action),
) -> Result<(), ErrorKind> {
    // Both at most a year (the parser checks), so the sum fits.
    let end = |at_us: u64, for_us: Option<u64>| for_us.map(|d| at_us.saturating_add(d));
    match fault {
        Fault::Kill { at_us, group } => {
            for d in fleets.pick(group, rng)? {
                emit(*at_us, Action::Kill(d));
            }
        }
        Fault::Revive { at_us, group } => {
            for d in fleets.pick(group, rng)? {
                emit(*at_us, Action::Revive(d));
            }
        }
        Fault::Partition {
            at_us,
            for_us,
            group,
        }
        | Fault::Disconnect {
            at_us,
            for_us,
            group,
        } => {
            let devices = fleets.pick(group, rng)?;
            for &d in &devices {
                emit(*at_us, Action::LinkDown(d));
            }
            if let Some(end) = end(*at_us, *for_us) {
                for &d in &devices {
                    emit(end, Action::LinkUp(d));
                }
            }
        }
        Fault::Degrade {
            at_us,
            for_us,
            group,
            loss_permille,
            extra_latency_us,
            bandwidth_permille,
        } => {
            let devices = fleets.pick(group, rng)?;
            for &device in &devices {
                emit(
                    *at_us,
                    Action::Degrade {
                        device,
                        loss_permille: *loss_permille,
                        extra_latency_us: *extra_latency_us,
                        bandwidth_permille: *bandwidth_permille,
                    },
                );
            }
            if let Some(end) = end(*at_us, *for_us) {
                for &d in &devices {
                    emit(end, Action::Restore(d));
                }
            }
        }
        Fault::Slow {
            at_us,
            for_us,
            group,
            factor_milli,
        } => {
            let devices = fleets.pick(group, rng)?;
            for &device in &devices {
                emit(
                    *at_us,
                    Action::Slow {
                        device,
                        factor_milli: *factor_milli,
                    },
                );
            }
            if let Some(end) = end(*at_us, *for_us) {
                for &d in &devices {
                    emit(end, Action::Unslow(d));
                }
            }
        }
        Fault::SlowWorkers {
            at_us,
            for_us,
            factor_milli,
        } => {
            emit(
                *at_us,
                Action::SlowWorkers {
                    factor_milli: *factor_milli,
                },
            );
            if let Some(end) = end(*at_us, *for_us) {
                emit(end, Action::UnslowWorkers);
            }
        }
        Fault::CrashController { at_us } => emit(*at_us, Action::CrashController),
        Fault::RandomFailures {
            target,
            permille,
            per_us,
        } => {
            let range = fleets.range(target)?;
            if *permille == 0 {
                return Ok(());
            }
            // Rate permille/1000 per `per_us`: mean time to failure
            // 1000·per_us/permille µs (≤ 3.2e16, exact in f64 to 1 ppb).
            let mean_us = *per_us as f64 * 1_000.0 / f64::from(*permille);
            for offset in 0..range.len {
                let at = rng.exponential(mean_us);
                // `as` saturates; the comparison after it is the exact one.
                if at < duration_us as f64 {
                    let at_us = at as u64;
                    if at_us < duration_us {
                        emit(at_us, Action::Kill(device_id(range.start + offset)?));
                    }
                }
            }
        }
        Fault::RandomStragglers {
            target,
            permille,
            factor_milli,
        } => {
            let group = Group {
                select: Select::Permille(*permille),
                target: target.clone(),
            };
            for device in fleets.pick(&group, rng)? {
                emit(
                    0,
                    Action::Slow {
                        device,
                        factor_milli: *factor_milli,
                    },
                );
            }
        }
    }
    Ok(())
}
