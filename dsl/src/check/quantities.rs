//! Literal → integer base units, with the unit and range checks every
//! property shares.

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::suggest;
use crate::syntax::{Int, Money, Number, Percentile, Quantity};
use crate::units::{self, display, Decimal, Dim, NumberError};

/// The accepted range of a measured property, in base units.
#[derive(Clone, Copy)]
pub(crate) struct Range {
    /// Smallest allowed value; 1 means "must be positive".
    pub min: i128,
    pub max: i128,
}

pub(crate) const POSITIVE: i128 = 1;

pub(crate) const fn range(min: i128, max: i128) -> Range {
    Range { min, max }
}

impl Ctx<'_> {
    pub(crate) fn decimal(&mut self, n: &Number) -> Option<Decimal> {
        match Decimal::parse(&n.text) {
            Ok(d) => Some(d),
            Err(NumberError::TooLong) => {
                self.push(
                    Diagnostic::error(
                        Code::Absurd,
                        format!(
                            "`{}` has more digits than any real quantity",
                            short(&n.text)
                        ),
                    )
                    .label(n.span, "too many digits"),
                );
                None
            }
            Err(NumberError::TooLarge) => {
                self.push(
                    Diagnostic::error(
                        Code::Absurd,
                        format!("`{}` is far too large for any quantity", short(&n.text)),
                    )
                    .label(n.span, "exponent too large"),
                );
                None
            }
            Err(NumberError::Malformed(why)) => {
                self.push(
                    Diagnostic::error(
                        Code::Syntax,
                        format!("`{}` is not a number: {why}", short(&n.text)),
                    )
                    .label(n.span, "malformed number")
                    .help("write a decimal like `1500`, `0.8` or `1.2e9` (1.2 × 10⁹)"),
                );
                None
            }
        }
    }

    /// Convert `q` to the base unit of `dim` and check it lies in `range`.
    /// `what` names the property in messages ("radio bandwidth").
    pub(crate) fn measure(
        &mut self,
        q: &Quantity,
        dim: Dim,
        what: &str,
        range: Range,
    ) -> Option<i128> {
        self.measure_any(q, &[dim], what, range).map(|(v, _)| v)
    }

    /// Like [`Ctx::measure`] for properties that accept several dimensions
    /// (a battery is a charge or an energy).
    pub(crate) fn measure_any(
        &mut self,
        q: &Quantity,
        dims: &[Dim],
        what: &str,
        range: Range,
    ) -> Option<(i128, Dim)> {
        let dim0 = dims[0];
        let Some(unit_ident) = &q.unit else {
            let help = if dim0 == Dim::Percent {
                percent_help(&q.number.text)
            } else {
                format!("write `{} {}`", q.number.text, dim0.example_unit())
            };
            self.push(
                Diagnostic::error(Code::MissingUnit, format!("{what} needs a unit"))
                    .label(q.span, format!("expected {}", dim0.describe()))
                    .help(help),
            );
            return None;
        };
        let Some(unit) = units::lookup(&unit_ident.name) else {
            let same_dim = units::UNITS
                .iter()
                .filter(|u| dims.contains(&u.dim))
                .map(|u| u.name);
            let hint = suggest::did_you_mean(&unit_ident.name, same_dim)
                .or_else(|| suggest::did_you_mean(&unit_ident.name, units::names()));
            let accepted: Vec<_> = units::UNITS
                .iter()
                .filter(|u| dims.contains(&u.dim))
                .map(|u| u.name)
                .collect();
            self.push(
                Diagnostic::error(
                    Code::UnknownUnit,
                    format!("unknown unit `{}`", short(&unit_ident.name)),
                )
                .label(unit_ident.span, "not a unit")
                .help(hint.unwrap_or_else(|| format!("{what} takes {}", accepted.join(", ")))),
            );
            return None;
        };
        if !dims.contains(&unit.dim) {
            let expected: Vec<_> = dims.iter().map(|d| d.describe()).collect();
            self.push(
                Diagnostic::error(
                    Code::WrongUnit,
                    format!(
                        "{what} must be {}, but `{}` is a {}",
                        expected.join(" or "),
                        unit.name,
                        unit.dim
                    ),
                )
                .label(unit_ident.span, format!("a {}", unit.dim))
                .help(match units::meant(unit, dims) {
                    Some(m) => format!("did you mean `{} {}`?", q.number.text, m.name),
                    None => format!("write it in {} units, e.g. `{}`", dim0, dim0.example_unit()),
                }),
            );
            return None;
        }
        let d = self.decimal(&q.number)?;
        let Some(scaled) = d.scaled(unit.num, unit.den) else {
            self.push(
                Diagnostic::error(
                    Code::Absurd,
                    format!("{what} {} is far too large", q_text(q)),
                )
                .label(q.span, "too large")
                .help(format!(
                    "the largest accepted {what} is {}",
                    display(range.max, unit.dim)
                )),
            );
            return None;
        };
        self.check_range(scaled.value, d.is_zero(), q, what, range, unit.dim)?;
        if d.rounding_is_material(unit.num, unit.den) {
            // Rounding would change what was written (`2.5 µs` -> 3 µs).
            let (below, above) = d
                .neighbours(unit.num, unit.den)
                .unwrap_or((scaled.value, scaled.value));
            self.push(
                Diagnostic::error(
                    Code::TooPrecise,
                    format!(
                        "{what} {} is more precise than a mission can state",
                        q_text(q)
                    ),
                )
                .label(q.span, format!("finer than {}", display(1, unit.dim)))
                .help(format!(
                    "a {} is kept in steps of {}: write `{}` or `{}`",
                    unit.dim,
                    display(1, unit.dim),
                    display(below, unit.dim),
                    display(above, unit.dim)
                )),
            );
            return None;
        }
        Some((scaled.value, unit.dim))
    }

    fn check_range(
        &mut self,
        value: i128,
        literal_zero: bool,
        q: &Quantity,
        what: &str,
        range: Range,
        dim: Dim,
    ) -> Option<()> {
        if value == 0 && !literal_zero && range.min <= 0 {
            return Some(());
        }
        if value == 0 && !literal_zero {
            self.push(
                Diagnostic::error(
                    Code::TooPrecise,
                    format!("{what} {} rounds to zero", q_text(q)),
                )
                .label(q.span, "too small to represent")
                .help(format!(
                    "a {dim} is kept in steps of {}; the smallest accepted {what} is {}",
                    display(1, dim),
                    display(range.min.max(1), dim)
                )),
            );
            return None;
        }
        if value < range.min {
            let d = if value <= 0 && range.min >= POSITIVE {
                Diagnostic::error(
                    Code::NotPositive,
                    format!("{what} must be greater than zero"),
                )
                .label(q.span, "here")
            } else {
                Diagnostic::error(
                    Code::Absurd,
                    format!("{what} of {} is implausibly small", q_text(q)),
                )
                .label(q.span, "out of range")
                .help(format!(
                    "the smallest accepted {what} is {}",
                    display(range.min, dim)
                ))
            };
            self.push(d);
            return None;
        }
        if value > range.max {
            self.push(
                Diagnostic::error(
                    Code::Absurd,
                    format!("{what} of {} is implausibly large", q_text(q)),
                )
                .label(q.span, "out of range")
                .help(format!(
                    "the largest accepted {what} is {}",
                    display(range.max, dim)
                )),
            );
            return None;
        }
        Some(())
    }

    /// A whole-number count in `[min, max]`.
    pub(crate) fn count(&mut self, i: &Int, what: &str, min: u64, max: u64) -> Option<u64> {
        let value = if i.text.len() > 19 {
            None
        } else {
            i.text.parse::<u64>().ok()
        };
        match value {
            Some(v) if v < min && v == 0 => {
                self.push(
                    Diagnostic::error(Code::NotPositive, format!("{what} must be at least {min}"))
                        .label(i.span, "zero"),
                );
                None
            }
            Some(v) if v < min => {
                self.push(
                    Diagnostic::error(Code::Absurd, format!("{what} must be at least {min}"))
                        .label(i.span, "too small"),
                );
                None
            }
            Some(v) if v <= max => Some(v),
            _ => {
                self.push(
                    Diagnostic::error(
                        Code::Absurd,
                        format!("{what} of {} is implausibly large", short(&i.text)),
                    )
                    .label(i.span, format!("at most {max}")),
                );
                None
            }
        }
    }

    /// `$` amounts in nano-dollars.
    pub(crate) fn dollars(&mut self, m: &Money, what: &str, max_nusd: i128) -> Option<i128> {
        let d = self.decimal(&m.number)?;
        let Some(s) = d.scaled(1_000_000_000, 1) else {
            self.push(
                Diagnostic::error(Code::Absurd, format!("{what} is far too large"))
                    .label(m.span, "too large"),
            );
            return None;
        };
        if d.is_zero() || d.negative {
            self.push(
                Diagnostic::error(
                    Code::NotPositive,
                    format!("{what} must be greater than zero"),
                )
                .label(m.span, "here"),
            );
            return None;
        }
        if d.rounding_is_material(1_000_000_000, 1) {
            self.push(
                Diagnostic::error(
                    Code::TooPrecise,
                    format!(
                        "{what} `${}` is more precise than a mission can state",
                        short(&m.number.text)
                    ),
                )
                .label(m.span, "too precise")
                .help("amounts are kept to the nano-dollar ($0.000000001)"),
            );
            return None;
        }
        if s.value > max_nusd {
            self.push(
                Diagnostic::error(Code::Absurd, format!("{what} is implausibly large"))
                    .label(m.span, "out of range")
                    .help(format!(
                        "the largest accepted {what} is ${}",
                        max_nusd / 1_000_000_000
                    )),
            );
            return None;
        }
        Some(s.value)
    }

    /// `p99.9` → 9990 basis points; the default is every instance.
    pub(crate) fn percentile(&mut self, p: Option<&Percentile>) -> Option<u32> {
        let Some(p) = p else {
            return Some(crate::ir::defaults::PERCENTILE_BP);
        };
        let d = self.decimal(&p.number)?;
        let s = d.scaled(100, 1).unwrap_or(units::Scaled {
            value: i128::MAX,
            exact: false,
        });
        if !s.exact || s.value <= 0 || s.value > 10_000 {
            self.push(
                Diagnostic::error(Code::BadPercentile, format!("`p{}` is not a percentile", short(&p.number.text)))
                    .label(p.span, "expected p1 … p100")
                    .help("a percentile is greater than 0 and at most 100, with at most two decimals (`p99.99`)"),
            );
            return None;
        }
        Some(s.value as u32)
    }
}

/// A percentage written without `%`: a fraction below 1 (`0.2`) is most
/// likely meant as a share (20%), not as 0.2%.
fn percent_help(number: &str) -> String {
    let fraction = Decimal::parse(number)
        .ok()
        .filter(|d| !d.negative && !d.is_zero())
        .and_then(|d| d.scaled(10_000, 1).filter(|s| s.exact && s.value < 10_000));
    match fraction {
        Some(s) => format!(
            "write `{}` (a fraction of {number} is {})",
            display(s.value, Dim::Percent),
            display(s.value, Dim::Percent)
        ),
        None => format!("write `{number}%`"),
    }
}

fn q_text(q: &Quantity) -> String {
    match &q.unit {
        Some(u) => format!("`{} {}`", short(&q.number.text), u.name),
        None => format!("`{}`", short(&q.number.text)),
    }
}

/// Long literals are cut in messages.
pub(crate) fn short(s: &str) -> String {
    if s.chars().count() > 24 {
        format!("{}…", s.chars().take(24).collect::<String>())
    } else {
        s.to_string()
    }
}
