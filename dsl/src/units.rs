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
            Dim::Percent => "a percentage (like `20%`)",
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

/// The unit named `name`; a Greek mu (`μs`, U+03BC) reads as the micro
/// sign (`µs`, U+00B5) the table uses.
pub fn lookup(name: &str) -> Option<&'static Unit> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static Unit>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| UNITS.iter().map(|u| (u.name, u)).collect());
    match index.get(name) {
        Some(u) => Some(*u),
        None if name.contains('\u{3bc}') => index
            .get(name.replace('\u{3bc}', "\u{b5}").as_str())
            .copied(),
        None => None,
    }
}

/// The unit of one of `dims` that someone who wrote `given` most likely
/// meant: `m` for minutes (`every 2 m`), a power's energy over an hour
/// (`battery 74 W` → `Wh`), a size's rate (`radio 5 MB` → `MB/s`), a
/// length per second or hour for a speed, and the reverse of each.
pub fn meant(given: &Unit, dims: &[Dim]) -> Option<&'static Unit> {
    let name = given.name;
    let mut candidates: Vec<String> = Vec::new();
    if name == "m" {
        candidates.push("min".into());
    }
    if name == "km" {
        candidates.push("km/h".into());
    }
    candidates.push(format!("{name}h"));
    candidates.push(format!("{name}/s"));
    for suffix in ["/s", "/h", "h"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            candidates.push(stem.into());
        }
    }
    candidates
        .iter()
        .filter_map(|c| lookup(c))
        .find(|u| dims.contains(&u.dim))
}

pub fn names() -> impl Iterator<Item = &'static str> {
    UNITS.iter().map(|u| u.name)
}

/// A decimal literal split into sign, digits and the count of fraction digits:
/// `-1.50` is `(true, 150, 2)`; an exponent is folded in (`1.2e9` is
/// `(false, 1_200_000_000, 0)`, `2e-3` is `(false, 2, 3)`).
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
    /// An exponent so large no quantity could hold the value (`1e999999`).
    TooLarge,
    /// Not a number; says what is wrong, for the diagnostic.
    Malformed(&'static str),
}

/// Longest mantissa accepted; 30 digits already exceeds every u64 quantity.
const MAX_DIGITS: usize = 30;
/// Scales beyond this only ever round to zero (10^-60 of the largest unit is
/// far below every base unit), so longer negative exponents are cut here.
const MAX_SCALE: u32 = 1_000;

impl Decimal {
    /// `-?D+(.D+)?([eE][+-]?D+)?`, exactly. The grammar lets through any run
    /// of digits, `.` and exponents so that a mistyped number gets this
    /// function's reason rather than a syntax error two tokens later.
    pub fn parse(text: &str) -> Result<Decimal, NumberError> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((_, "")) => {
                return Err(NumberError::Malformed(
                    "a decimal point needs digits after it",
                ))
            }
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if frac_part.contains('.') {
            return Err(NumberError::Malformed("a number has one decimal point"));
        }
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(NumberError::Malformed("expected digits"));
        }
        let significant = int_part.trim_start_matches('0').len() + frac_part.len();
        if significant > MAX_DIGITS {
            return Err(NumberError::TooLong);
        }
        let mut digits: u128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            digits = digits * 10 + u128::from(b - b'0');
        }
        // Value = digits × 10^(power - fraction digits).
        let power: i64 = match exponent {
            None => 0,
            Some(e) => {
                let (sign, e_digits) = match e.strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, e.strip_prefix('+').unwrap_or(e)),
                };
                if e_digits.is_empty() {
                    return Err(NumberError::Malformed(
                        "the exponent after `e` has no digits",
                    ));
                }
                if !e_digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NumberError::Malformed(
                        "the exponent after `e` is a whole number",
                    ));
                }
                let e_digits = e_digits.trim_start_matches('0');
                // Six digits are a million powers of ten: beyond any use,
                // and small enough to stay exact in i64 below.
                match e_digits.len() {
                    0 => 0,
                    1..=6 => sign * e_digits.parse::<i64>().unwrap_or(0),
                    _ => sign * 10_000_000,
                }
            }
        };
        let scale = frac_part.len() as i64 - power;
        if scale < 0 {
            let shift = u32::try_from(-scale).map_err(|_| NumberError::TooLarge)?;
            let digits = if digits == 0 {
                0
            } else {
                10u128
                    .checked_pow(shift)
                    .and_then(|p| digits.checked_mul(p))
                    .ok_or(NumberError::TooLarge)?
            };
            return Ok(Decimal {
                negative,
                digits,
                scale: 0,
            });
        }
        Ok(Decimal {
            negative,
            digits,
            scale: u32::try_from(scale).unwrap_or(MAX_SCALE).min(MAX_SCALE),
        })
    }

    pub fn is_zero(&self) -> bool {
        self.digits == 0
    }

    /// `self × num / den`, rounded to the nearest integer (ties away from
    /// zero). `None` when the value does not fit i128.
    pub fn scaled(&self, num: u128, den: u128) -> Option<Scaled> {
        let (q, r, d) = self.divide(num, den)?;
        let rounded = if r >= d - r { q + 1 } else { q };
        let value = i128::try_from(rounded).ok()?;
        Some(Scaled {
            value: if self.negative { -value } else { value },
            exact: r == 0,
        })
    }

    /// The whole base units on either side of `self × num / den`, lower
    /// first (equal when exact).
    pub fn neighbours(&self, num: u128, den: u128) -> Option<(i128, i128)> {
        let (q, r, _) = self.divide(num, den)?;
        let q = i128::try_from(q).ok()?;
        let next = if r == 0 { q } else { q.checked_add(1)? };
        Some(if self.negative {
            (-next, -q)
        } else {
            (q, next)
        })
    }

    /// `digits × num / (den × 10^scale)` as quotient, remainder, divisor.
    fn divide(&self, num: u128, den: u128) -> Option<(u128, u128, u128)> {
        // Cancel the 2s and 5s `num` shares with 10^scale first: `1e-60 kWh`
        // then needs no 10^60, and a divisor too large for u128 means the
        // value rounds to zero. After cancelling, the numerator overflows
        // only for values far above every quantity's range (unit scales in
        // `UNITS` are below 10^13, mantissas below 10^30).
        let (mut num, mut twos, mut fives) = (num, self.scale, self.scale);
        while twos > 0 && num % 2 == 0 && num > 0 {
            num /= 2;
            twos -= 1;
        }
        while fives > 0 && num % 5 == 0 && num > 0 {
            num /= 5;
            fives -= 1;
        }
        let numerator = self.digits.checked_mul(num)?;
        let divisor = 2u128
            .checked_pow(twos)
            .zip(5u128.checked_pow(fives))
            .and_then(|(a, b)| a.checked_mul(b))
            .and_then(|p| p.checked_mul(den));
        Some(match divisor {
            Some(d) => (numerator / d, numerator % d, d),
            // Above u128::MAX, so more than twice any numerator: the
            // quotient is 0 and rounds to 0. The remainder is only
            // compared with zero and with half the divisor.
            None => (0, numerator, u128::MAX),
        })
    }

    /// Whether the literal's last written digit is worth less than one
    /// `num / den` base unit (`2.5 µs`, `1.0000005 s`), as opposed to
    /// inexact only through the unit's ratio (`10 km/h` is 2777.8 mm/s,
    /// written to the km/h).
    pub fn finer_than(&self, num: u128, den: u128) -> bool {
        10u128
            .checked_pow(self.scale)
            .and_then(|p| p.checked_mul(den))
            .is_none_or(|step_den| num < step_den)
    }

    /// Whether rounding `self × num / den` to whole base units would change
    /// what was written: digits finer than the base unit on a value under
    /// [`MATERIAL_BELOW`] base units (`2.5 µs` would become 3 µs, a 20%
    /// change). Above that, rounding moves the value by at most 0.05%
    /// (`$0.0000166667` per GB-s is 16,666.7 nano-dollars), and rounding
    /// through a unit's ratio is what that unit means.
    pub fn rounding_is_material(&self, num: u128, den: u128) -> bool {
        self.scaled(num, den).is_some_and(|s| {
            !s.exact && self.finer_than(num, den) && s.value.abs() < MATERIAL_BELOW
        })
    }
}

/// Values of at least this many base units round by at most 0.05%.
pub const MATERIAL_BELOW: i128 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaled {
    pub value: i128,
    /// False when rounding happened.
    pub exact: bool,
}

/// The units a value of each dimension is shown in, smallest first (the
/// smallest is a power of ten of the base unit, so every value has an
/// exact decimal form in it).
fn display_ladder(dim: Dim) -> &'static [&'static str] {
    match dim {
        Dim::Time => &["µs", "ms", "s", "min", "h"],
        Dim::Length => &["mm", "m", "km"],
        Dim::Speed => &["mm/s", "m/s"],
        Dim::Data => &["B", "KB", "MB", "GB", "TB"],
        Dim::Bandwidth => &["bit/s", "kbit/s", "Mbit/s", "Gbit/s"],
        Dim::Frequency => &["Hz", "kHz", "MHz", "GHz"],
        Dim::Work => &["op", "kop", "Mop", "Gop", "Top"],
        Dim::Charge => &["mAh", "Ah"],
        Dim::Voltage => &["mV", "V"],
        Dim::Energy => &["mJ", "J", "kJ", "Wh", "kWh"],
        Dim::Power => &["mW", "W", "kW"],
        Dim::Percent => &["%"],
    }
}

/// `value / (num / den)` as a decimal with at most `max_decimals` digits
/// after the point, if that is exact.
fn exact_decimal(value: i128, num: u128, den: u128, max_decimals: u32) -> Option<String> {
    let magnitude = value.unsigned_abs().checked_mul(den)?;
    let int = magnitude / num;
    let mut rem = magnitude % num;
    let mut frac = String::new();
    for _ in 0..max_decimals {
        if rem == 0 {
            break;
        }
        rem = rem.checked_mul(10)?;
        frac.push(char::from(b'0' + (rem / num) as u8));
        rem %= num;
    }
    if rem != 0 {
        return None;
    }
    let sign = if value < 0 { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// A value in base units shown in the unit named `unit`, rounded to at
/// most `decimals` decimals (`16.65 Wh`), for summaries where a fixed unit
/// reads better than an exact one. `None` for an unknown unit.
pub fn display_in(value: i128, unit: &str, decimals: u32) -> Option<String> {
    let u = lookup(unit)?;
    let scale = 10u128.checked_pow(decimals)?;
    // round(|value| × den × 10^decimals / num), then split at the point.
    let numerator = value
        .unsigned_abs()
        .checked_mul(u.den)?
        .checked_mul(scale)?;
    let (q, r) = (numerator / u.num, numerator % u.num);
    let rounded = if r >= u.num - r { q + 1 } else { q };
    let (int, frac) = (rounded / scale, rounded % scale);
    let mut text = int.to_string();
    if frac != 0 {
        let digits = format!("{frac:0width$}", width = decimals as usize);
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    let sign = if value < 0 && rounded != 0 { "-" } else { "" };
    Some(if u.name == "%" {
        format!("{sign}{text}%")
    } else {
        format!("{sign}{text} {}", u.name)
    })
}

/// A value in base units as a person writes it: `2500` mm is `2.5 m`,
/// `9900` (percent's base unit) is `99 %`, `1` µJ is `0.001 mJ`. The
/// largest unit that shows it exactly with at most three decimals and is
/// not larger than the value; else the smallest unit, exactly.
pub fn display(value: i128, dim: Dim) -> String {
    let ladder = display_ladder(dim);
    let units = ladder.iter().filter_map(|n| lookup(n));
    let mut chosen = None;
    for u in units.clone().rev() {
        let at_least_one = value.unsigned_abs().saturating_mul(u.den) >= u.num;
        if let Some(text) = exact_decimal(value, u.num, u.den, 3).filter(|_| at_least_one) {
            chosen = Some((text, u.name));
            break;
        }
    }
    let (text, name) = chosen
        .or_else(|| {
            let u = units.clone().next()?;
            Some((exact_decimal(value, u.num, u.den, 40)?, u.name))
        })
        .unwrap_or_else(|| (value.to_string(), "?"));
    if name == "%" {
        format!("{text}%")
    } else {
        format!("{text} {name}")
    }
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
        assert_eq!(conv("200", "\u{3bc}s"), 200);
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
        assert!(matches!(
            Decimal::parse("1."),
            Err(NumberError::Malformed(_))
        ));
        assert!(matches!(Decimal::parse(""), Err(NumberError::Malformed(_))));
    }

    #[test]
    fn scientific_notation_is_exact() {
        assert_eq!(conv("1.2e9", "op"), 1_200_000_000);
        assert_eq!(conv("2e-3", "s"), 2_000);
        assert_eq!(conv("5E6", "B"), 5_000_000);
        assert_eq!(conv("1.5e+2", "ms"), 150_000);
        assert_eq!(conv("-2.5e1", "m"), -25_000);
        assert_eq!(conv("0e999999", "s"), 0);
        assert_eq!(conv("120e-2", "m"), 1_200);
        let d = Decimal::parse("1.2e9").unwrap();
        assert_eq!((d.digits, d.scale), (1_200_000_000, 0));
        let d = Decimal::parse("2.50e-3").unwrap();
        assert_eq!((d.digits, d.scale), (250, 5));
    }

    #[test]
    fn bad_scientific_literals_say_why() {
        for bad in [
            "1e", "1e+", "1e-", "1.2e9.3", "1.2.3", "1e3e4", "1.e3", "e3",
        ] {
            assert!(
                matches!(Decimal::parse(bad), Err(NumberError::Malformed(_))),
                "{bad}: {:?}",
                Decimal::parse(bad)
            );
        }
        assert_eq!(Decimal::parse("1e999999"), Err(NumberError::TooLarge));
        assert_eq!(Decimal::parse("1e39"), Err(NumberError::TooLarge));
        assert_eq!(
            Decimal::parse("1e99999999999999999999"),
            Err(NumberError::TooLarge)
        );
        // Tiny values round to zero instead of overflowing the denominator.
        for unit in UNITS {
            for tiny in ["1e-999999", "999999999999999999999999999999e-45", "1e-39"] {
                let s = Decimal::parse(tiny).unwrap().scaled(unit.num, unit.den);
                assert_eq!(
                    s,
                    Some(Scaled {
                        value: 0,
                        exact: false
                    }),
                    "{tiny} {}",
                    unit.name
                );
            }
        }
    }

    #[test]
    fn finer_than_the_base_unit_is_told_apart_from_unit_rounding() {
        let finer = |text: &str, unit: &str| {
            let u = lookup(unit).unwrap();
            Decimal::parse(text).unwrap().finer_than(u.num, u.den)
        };
        assert!(finer("2.5", "µs"));
        assert!(finer("1.0000005", "s"));
        assert!(finer("2.5e-6", "s"));
        assert!(finer("1500", "ns"));
        assert!(!finer("1.000001", "s"));
        assert!(!finer("10", "km/h"));
        assert!(!finer("12.34", "%"));
        assert!(finer("12.345", "%"));
    }

    #[test]
    fn only_material_rounding_is_refused() {
        let material = |text: &str, unit: &str| {
            let u = lookup(unit).unwrap();
            Decimal::parse(text)
                .unwrap()
                .rounding_is_material(u.num, u.den)
        };
        assert!(material("2.5", "µs"));
        assert!(material("2.5e-6", "s"));
        assert!(material("1500", "ns"));
        assert!(material("0.125", "%"));
        assert!(!material("1.0000005", "s"));
        assert!(!material("12.345", "%"));
        assert!(!material("1", "km/h"));
        assert!(!material("3", "µs"));
    }

    #[test]
    fn the_unit_meant_is_found_across_dimensions() {
        let meant_for =
            |given: &str, dim: Dim| meant(lookup(given).unwrap(), &[dim]).map(|u| u.name);
        assert_eq!(meant_for("m", Dim::Time), Some("min"));
        assert_eq!(meant_for("W", Dim::Energy), Some("Wh"));
        assert_eq!(meant_for("kW", Dim::Energy), Some("kWh"));
        assert_eq!(meant_for("Wh", Dim::Power), Some("W"));
        assert_eq!(meant_for("MB", Dim::Bandwidth), Some("MB/s"));
        assert_eq!(meant_for("MB/s", Dim::Data), Some("MB"));
        assert_eq!(meant_for("m", Dim::Speed), Some("m/s"));
        assert_eq!(meant_for("km", Dim::Speed), Some("km/h"));
        assert_eq!(meant_for("m/s", Dim::Length), Some("m"));
        assert_eq!(meant_for("s", Dim::Length), None);
        assert_eq!(meant_for("GHz", Dim::Work), None);
    }

    #[test]
    fn values_display_in_user_units() {
        assert_eq!(display(2_500, Dim::Length), "2.5 m");
        assert_eq!(display(300_000, Dim::Length), "300 m");
        assert_eq!(display(9_900, Dim::Percent), "99%");
        assert_eq!(display(1, Dim::Energy), "0.001 mJ");
        assert_eq!(display(74 * 3_600_000_000, Dim::Energy), "74 Wh");
        assert_eq!(display(10_000_000_000, Dim::Frequency), "10 GHz");
        assert_eq!(display(90_000_000, Dim::Time), "1.5 min");
        assert_eq!(display(1, Dim::Time), "1 µs");
        assert_eq!(display(100, Dim::Length), "100 mm");
        assert_eq!(display(2_778, Dim::Speed), "2.778 m/s");
        assert_eq!(display(1_000_000, Dim::Charge), "1 Ah");
        assert_eq!(display(0, Dim::Time), "0 µs");
        assert_eq!(display(-2_000, Dim::Length), "-2 m");
        let wh = |uj: i128| display_in(uj, "Wh", 2).unwrap();
        assert_eq!(wh(59_940_000_000), "16.65 Wh");
        assert_eq!(wh(49_310_640_000), "13.7 Wh");
        assert_eq!(wh(3_600_000_000), "1 Wh");
        assert_eq!(display_in(2_778, "m/s", 1).as_deref(), Some("2.8 m/s"));
        assert_eq!(display_in(1, "Wh", 2).as_deref(), Some("0 Wh"));
    }

    #[test]
    fn every_unit_is_unique() {
        for (i, a) in UNITS.iter().enumerate() {
            assert!(
                UNITS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
            // The grammar reads `5e…` as the start of an exponent.
            assert!(!a.name.starts_with(['e', 'E']), "{}", a.name);
        }
    }
}
