//! Units of measure: the one table of every unit the language accepts, and
//! exact conversion of decimal literals to the IR's integer base units.
//!
//! | dimension  | IR base unit | accepted units |
//! |------------|--------------|----------------|
//! | time       | µs           | ns us µs ms s min h |
//! | length     | mm           | mm cm m km |
//! | speed      | mm/s         | mm/s m/s km/h |
//! | data size  | byte         | B KB kB MB GB TB KiB MiB GiB |
//! | bandwidth  | bit/s        | bit/s kbit/s Kbit/s Mbit/s Gbit/s bps kbps Mbps Gbps B/s KB/s MB/s GB/s |
//! | frequency  | Hz           | Hz kHz MHz GHz |
//! | work       | operation    | op kop Kop Mop Gop Top |
//! | charge     | µAh          | mAh Ah |
//! | voltage    | mV           | mV V |
//! | energy     | µJ           | mJ J kJ mWh Wh kWh |
//! | power      | mW           | mW W kW |
//! | percentage | basis point  | % |

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Time,
    Length,
    Speed,
    Data,
    Bandwidth,
    Frequency,
    Work,
    Charge,
    Voltage,
    Energy,
    Power,
    Percent,
}

impl Dim {
    /// "a time (like `200 ms`)"
    pub fn describe(self) -> &'static str {
        match self {
            Dim::Time => "a time (like `200 ms`)",
            Dim::Length => "a length (like `10 m`)",
            Dim::Speed => "a speed (like `5 m/s`)",
            Dim::Data => "a data size (like `4 KB`)",
            Dim::Bandwidth => "a bandwidth (like `20 Mbit/s`)",
            Dim::Frequency => "a frequency (like `1.2 GHz`)",
            Dim::Work => "an amount of work (like `0.8 Gop`)",
            Dim::Charge => "a battery charge (like `1500 mAh`)",
            Dim::Voltage => "a voltage (like `11.1 V`)",
            Dim::Energy => "an energy (like `16 Wh`)",
            Dim::Power => "a power (like `5 W`)",
            Dim::Percent => "a percentage (like `20 %`)",
        }
    }
    pub fn example_unit(self) -> &'static str {
        match self {
            Dim::Time => "ms",
            Dim::Length => "m",
            Dim::Speed => "m/s",
            Dim::Data => "KB",
            Dim::Bandwidth => "Mbit/s",
            Dim::Frequency => "GHz",
            Dim::Work => "Gop",
            Dim::Charge => "mAh",
            Dim::Voltage => "V",
            Dim::Energy => "Wh",
            Dim::Power => "W",
            Dim::Percent => "%",
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Dim::Time => "time",
            Dim::Length => "length",
            Dim::Speed => "speed",
            Dim::Data => "data size",
            Dim::Bandwidth => "bandwidth",
            Dim::Frequency => "frequency",
            Dim::Work => "work",
            Dim::Charge => "charge",
            Dim::Voltage => "voltage",
            Dim::Energy => "energy",
            Dim::Power => "power",
            Dim::Percent => "percentage",
        };
        f.write_str(name)
    }
}

/// A unit: how many base units one of it is, as the fraction `num / den`.
#[derive(Debug, Clone, Copy)]
pub struct Unit {
    pub name: &'static str,
    pub dim: Dim,
    pub num: u128,
    pub den: u128,
}

const fn u(name: &'static str, dim: Dim, num: u128, den: u128) -> Unit {
    Unit {
        name,
        dim,
        num,
        den,
    }
}

pub const UNITS: &[Unit] = &[
    u("ns", Dim::Time, 1, 1000),
    u("us", Dim::Time, 1, 1),
    u("µs", Dim::Time, 1, 1),
    u("ms", Dim::Time, 1_000, 1),
    u("s", Dim::Time, 1_000_000, 1),
    u("min", Dim::Time, 60_000_000, 1),
    u("h", Dim::Time, 3_600_000_000, 1),
    u("mm", Dim::Length, 1, 1),
    u("cm", Dim::Length, 10, 1),
    u("m", Dim::Length, 1_000, 1),
    u("km", Dim::Length, 1_000_000, 1),
    u("mm/s", Dim::Speed, 1, 1),
    u("m/s", Dim::Speed, 1_000, 1),
    u("km/h", Dim::Speed, 1_000_000, 3_600),
    u("B", Dim::Data, 1, 1),
    u("KB", Dim::Data, 1_000, 1),
    u("kB", Dim::Data, 1_000, 1),
    u("MB", Dim::Data, 1_000_000, 1),
    u("GB", Dim::Data, 1_000_000_000, 1),
    u("TB", Dim::Data, 1_000_000_000_000, 1),
    u("KiB", Dim::Data, 1 << 10, 1),
    u("MiB", Dim::Data, 1 << 20, 1),
    u("GiB", Dim::Data, 1 << 30, 1),
    u("bit/s", Dim::Bandwidth, 1, 1),
    u("kbit/s", Dim::Bandwidth, 1_000, 1),
    u("Kbit/s", Dim::Bandwidth, 1_000, 1),
    u("Mbit/s", Dim::Bandwidth, 1_000_000, 1),
    u("Gbit/s", Dim::Bandwidth, 1_000_000_000, 1),
    u("bps", Dim::Bandwidth, 1, 1),
    u("kbps", Dim::Bandwidth, 1_000, 1),
    u("Mbps", Dim::Bandwidth, 1_000_000, 1),
    u("Gbps", Dim::Bandwidth, 1_000_000_000, 1),
    u("B/s", Dim::Bandwidth, 8, 1),
    u("KB/s", Dim::Bandwidth, 8_000, 1),
    u("MB/s", Dim::Bandwidth, 8_000_000, 1),
    u("GB/s", Dim::Bandwidth, 8_000_000_000, 1),
    u("Hz", Dim::Frequency, 1, 1),
    u("kHz", Dim::Frequency, 1_000, 1),
    u("MHz", Dim::Frequency, 1_000_000, 1),
    u("GHz", Dim::Frequency, 1_000_000_000, 1),
    u("op", Dim::Work, 1, 1),
    u("kop", Dim::Work, 1_000, 1),
    u("Kop", Dim::Work, 1_000, 1),
    u("Mop", Dim::Work, 1_000_000, 1),
    u("Gop", Dim::Work, 1_000_000_000, 1),
    u("Top", Dim::Work, 1_000_000_000_000, 1),
    u("mAh", Dim::Charge, 1_000, 1),
    u("Ah", Dim::Charge, 1_000_000, 1),
    u("mV", Dim::Voltage, 1, 1),
    u("V", Dim::Voltage, 1_000, 1),
    u("mJ", Dim::Energy, 1_000, 1),
    u("J", Dim::Energy, 1_000_000, 1),
    u("kJ", Dim::Energy, 1_000_000_000, 1),
    u("mWh", Dim::Energy, 3_600_000, 1),
    u("Wh", Dim::Energy, 3_600_000_000, 1),
    u("kWh", Dim::Energy, 3_600_000_000_000, 1),
    u("mW", Dim::Power, 1, 1),
    u("W", Dim::Power, 1_000, 1),
    u("kW", Dim::Power, 1_000_000, 1),
    u("%", Dim::Percent, 100, 1),
];

pub fn lookup(name: &str) -> Option<&'static Unit> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static Unit>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| UNITS.iter().map(|u| (u.name, u)).collect())
        .get(name)
        .copied()
}

pub fn names() -> impl Iterator<Item = &'static str> {
    UNITS.iter().map(|u| u.name)
}

/// A decimal literal split into sign, digits and the count of fraction digits:
/// `-1.50` is `(true, 150, 2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub negative: bool,
    pub digits: u128,
    pub scale: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// More digits than any real quantity needs.
    TooLong,
    Malformed,
}

/// Longest literal accepted; 30 digits already exceeds every u64 quantity.
const MAX_DIGITS: usize = 30;

impl Decimal {
    pub fn parse(text: &str) -> Result<Decimal, NumberError> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((_, "")) => return Err(NumberError::Malformed),
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(NumberError::Malformed);
        }
        let significant = int_part.trim_start_matches('0').len() + frac_part.len();
        if significant > MAX_DIGITS {
            return Err(NumberError::TooLong);
        }
        let mut digits: u128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            digits = digits * 10 + u128::from(b - b'0');
        }
        Ok(Decimal {
            negative,
            digits,
            scale: frac_part.len() as u32,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.digits == 0
    }

    /// `self × num / den`, rounded to the nearest integer (ties away from
    /// zero). `None` on overflow of i128.
    pub fn scaled(&self, num: u128, den: u128) -> Option<Scaled> {
        let pow = 10u128.checked_pow(self.scale)?;
        let numerator = self.digits.checked_mul(num)?;
        let denominator = pow.checked_mul(den)?;
        let q = numerator / denominator;
        let r = numerator % denominator;
        let rounded = if r * 2 >= denominator { q + 1 } else { q };
        let value = i128::try_from(rounded).ok()?;
        Some(Scaled {
            value: if self.negative { -value } else { value },
            exact: r == 0,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaled {
    pub value: i128,
    /// False when rounding happened.
    pub exact: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(text: &str, unit: &str) -> i128 {
        let u = lookup(unit).unwrap();
        Decimal::parse(text)
            .unwrap()
            .scaled(u.num, u.den)
            .unwrap()
            .value
    }

    #[test]
    fn converts_exactly_to_base_units() {
        assert_eq!(conv("1", "s"), 1_000_000);
        assert_eq!(conv("0.8", "Gop"), 800_000_000);
        assert_eq!(conv("20", "Mbit/s"), 20_000_000);
        assert_eq!(conv("1500", "mAh"), 1_500_000);
        assert_eq!(conv("11.1", "V"), 11_100);
        assert_eq!(conv("-2.5", "m"), -2_500);
        assert_eq!(conv("36", "km/h"), 10_000);
        assert_eq!(conv("1", "MB/s"), 8_000_000);
        assert_eq!(conv("20", "%"), 2_000);
    }

    #[test]
    fn rounds_inexact_conversions() {
        let u = lookup("km/h").unwrap();
        let s = Decimal::parse("10").unwrap().scaled(u.num, u.den).unwrap();
        assert_eq!(
            s,
            Scaled {
                value: 2_778,
                exact: false
            }
        );
        let ns = lookup("ns").unwrap();
        assert_eq!(
            Decimal::parse("400")
                .unwrap()
                .scaled(ns.num, ns.den)
                .unwrap()
                .value,
            0
        );
    }

    #[test]
    fn rejects_bad_literals() {
        assert_eq!(
            Decimal::parse("1234567890123456789012345678901"),
            Err(NumberError::TooLong)
        );
        assert_eq!(
            Decimal::parse("0000000000000000000000000000000001")
                .unwrap()
                .digits,
            1
        );
        assert_eq!(Decimal::parse("1."), Err(NumberError::Malformed));
        assert_eq!(Decimal::parse(""), Err(NumberError::Malformed));
    }

    #[test]
    fn every_unit_is_unique() {
        for (i, a) in UNITS.iter().enumerate() {
            assert!(
                UNITS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
    }
}
