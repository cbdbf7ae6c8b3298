//! The radio: a link is one transmission medium that sends one frame at a
//! time, first come first served, at its bit rate, then the frame travels
//! for the link's one-way latency. A device has an uplink and a downlink of
//! its own, or — when its fleet's radio is `shared` — every device of the
//! fleet takes turns on one channel (one access point, half duplex), so
//! many devices uploading at once queue behind each other. An
//! oversubscribed link therefore queues; it never delivers for free.
//!
//! Parameters come from the mission (`radio 20 Mbit/s`, `shared`, `range`)
//! and the cost profile (one-way latency, radio energy per bit), the same
//! figures the cost model charges for one transfer: latency + bytes × 8 ÷
//! rate. Faults degrade a link: extra latency, a fraction of the bandwidth,
//! and frame loss (a lost frame is sent again: the expected number of
//! sends is 1 ÷ (1 − loss), drawn per transfer from the world's RNG).

use hivemind_controller::rng::Rng;
use hivemind_controller::Micros;

/// Sends a lost frame is retried at most (then it gets through: a link
/// layer gives up and the transport retransmits, which costs the same).
const MAX_SENDS: u64 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub bps: u64,
    pub latency_us: u64,
    /// When the medium is free again.
    busy_until: Micros,
    pub degrade: Degrade,
    /// Time spent sending (for utilisation).
    pub airtime_us: u64,
}

/// A fault's effect on a link (the default changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Degrade {
    pub loss_permille: u32,
    pub extra_latency_us: u64,
    /// Fraction of the bit rate left, in permille (1000: all of it).
    pub bandwidth_permille: u32,
}

impl Default for Degrade {
    fn default() -> Degrade {
        Degrade {
            loss_permille: 0,
            extra_latency_us: 0,
            bandwidth_permille: 1000,
        }
    }
}

impl Link {
    pub fn new(bps: u64, latency_us: u64) -> Link {
        Link {
            bps,
            latency_us,
            busy_until: Micros::ZERO,
            degrade: Degrade::default(),
            airtime_us: 0,
        }
    }

    /// Time on air for `bytes` at the link's (degraded) rate, rounded up.
    pub fn tx_us(&self, bytes: u64) -> u64 {
        let bps = u128::from(self.bps) * u128::from(self.degrade.bandwidth_permille.max(1)) / 1000;
        air_us(bytes, bps)
    }

    /// Queue `bytes` at `now`: when they have arrived at the other end.
    pub fn send(&mut self, now: Micros, bytes: u64, rng: &mut Rng) -> Micros {
        let mut sends = 1;
        let loss = self.degrade.loss_permille.min(999);
        while loss > 0 && sends < MAX_SENDS && rng.chance(loss) {
            sends += 1;
        }
        let air = self.tx_us(bytes).saturating_mul(sends);
        let start = self.busy_until.max(now);
        self.busy_until = start.plus(air);
        self.airtime_us = self.airtime_us.saturating_add(air);
        self.busy_until.plus(
            self.latency_us
                .saturating_add(self.degrade.extra_latency_us),
        )
    }

    /// A control message (a few hundred bytes): latency only, it does not
    /// wait behind bulk transfers (radios prioritise small frames).
    pub fn control(&self, now: Micros) -> Micros {
        now.plus(
            self.latency_us
                .saturating_add(self.degrade.extra_latency_us),
        )
    }
}

/// Time to send `bytes` at `bps`, rounded up to the µs, saturating.
pub fn air_us(bytes: u64, bps: u128) -> u64 {
    let us = (u128::from(bytes) * 8 * 1_000_000).div_ceil(bps.max(1));
    u64::try_from(us).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_queue_behind_each_other() {
        let mut rng = Rng::new(1);
        let mut l = Link::new(8_000_000, 5_000); // 1 MB/s
                                                 // 100 kB takes 100 ms on air.
        assert_eq!(l.send(Micros(0), 100_000, &mut rng), Micros(105_000));
        // A second one sent at once waits for the first.
        assert_eq!(l.send(Micros(0), 100_000, &mut rng), Micros(205_000));
        // One sent after the medium is free does not.
        assert_eq!(
            l.send(Micros(1_000_000), 1_000, &mut rng),
            Micros(1_006_000)
        );
    }

    #[test]
    fn degraded_link_is_slower_and_huge_transfers_saturate() {
        let mut rng = Rng::new(1);
        let mut l = Link::new(8_000_000, 0);
        l.degrade.bandwidth_permille = 500;
        assert_eq!(l.tx_us(1_000), 2_000);
        assert_eq!(l.send(Micros(0), u64::MAX, &mut rng), Micros(u64::MAX));
    }
}
