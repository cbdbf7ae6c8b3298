//! A device's processor: `cores` identical cores, each running one attempt
//! at a time, attempts served first come first served (non-preemptive).
//! Service times are the cost model's (operations ÷ the fleet's operations
//! per second on one core), so an idle device takes exactly the predicted
//! time and a busy one queues.

use hivemind_controller::Micros;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// When each core is free again.
    free_at: Vec<Micros>,
    pub busy_us: u64,
}

impl Cpu {
    pub fn new(cores: u32) -> Cpu {
        Cpu {
            free_at: vec![Micros::ZERO; cores.max(1) as usize],
            busy_us: 0,
        }
    }

    /// Run `us` of work arriving at `now` on the first free core: (start, end).
    pub fn run(&mut self, now: Micros, us: u64) -> (Micros, Micros) {
        let (k, free) = self
            .free_at
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(i, t)| (t, i))
            .unwrap_or((0, Micros::ZERO));
        let start = free.max(now);
        let end = start.plus(us);
        if let Some(slot) = self.free_at.get_mut(k) {
            *slot = end;
        }
        self.busy_us = self.busy_us.saturating_add(us);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_share_the_queue() {
        let mut c = Cpu::new(2);
        assert_eq!(c.run(Micros(0), 10), (Micros(0), Micros(10)));
        assert_eq!(c.run(Micros(0), 10), (Micros(0), Micros(10)));
        assert_eq!(c.run(Micros(0), 10), (Micros(10), Micros(20)));
        assert_eq!(c.run(Micros(50), 10), (Micros(50), Micros(60)));
    }
}
