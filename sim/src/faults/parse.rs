//! The fault script parser: words per line, one loop per line, no
//! recursion, every number through checked arithmetic.

use super::{
    ErrorKind, Fault, FaultError, FaultLine, FaultScript, Group, LineError, Select, Target,
    MAX_BYTES, MAX_FACTOR_MILLI, MAX_LINES, MAX_TIME_US, MIN_FACTOR_MILLI,
};

/// The fault verbs after `at TIME [for D]`, in the order error messages
/// list them.
pub(super) const VERBS: [&str; 7] = [
    "kill",
    "revive",
    "partition",
    "disconnect",
    "degrade",
    "slow",
    "crash",
];

/// Time units and their length in µs: the mission language's.
const UNITS: [(&str, u64); 6] = [
    ("µs", 1),
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("min", 60_000_000),
    ("h", 3_600_000_000),
];

/// Words that cannot be a bare fleet name (write `fleet NAME`).
const RESERVED: [&str; 12] = [
    "all",
    "at",
    "controller",
    "device",
    "fleet",
    "for",
    "of",
    "per",
    "workers",
    "loss",
    "latency",
    "bandwidth",
];

const TARGET: &str = "a target: `device N`, `all`, a fleet name, `N of FLEET` or `P% of FLEET`";
const TIME: &str = "a time like \"30 s\"";
const DURATION: &str = "a duration like \"30 s\"";
const PERCENT: &str = "a percentage like \"10%\"";
const FACTOR: &str = "a slow-down factor like \"x4\" or \"x1.5\"";
/// Longest excerpt of the input an error message quotes.
const QUOTE_CHARS: usize = 32;

pub(super) fn parse(text: &str) -> Result<FaultScript, FaultError> {
    if text.len() > MAX_BYTES {
        let (line, column) = position_of(text, MAX_BYTES);
        return Err(FaultError {
            errors: vec![LineError {
                line,
                column,
                kind: ErrorKind::TooLarge { bytes: text.len() },
            }],
        });
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        // Fits: at most MAX_LINES + 1 lines are looked at.
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if index >= MAX_LINES {
            return Err(FaultError {
                errors: vec![LineError {
                    line: number,
                    column: 1,
                    kind: ErrorKind::TooManyLines,
                }],
            });
        }
        let content = raw.split('#').next().unwrap_or("");
        let mut words = Words::new(content);
        if words.is_empty() {
            continue;
        }
        match line(&mut words) {
            Ok((fault, column)) => lines.push(FaultLine {
                line: number,
                column,
                fault,
            }),
            Err(Bad { column, kind }) => errors.push(LineError {
                line: number,
                column,
                kind,
            }),
        }
    }
    if errors.is_empty() {
        Ok(FaultScript { lines })
    } else {
        Err(FaultError { errors })
    }
}

/// One time or duration on its own (`90 s`, `10min`, `1.5 h`): the fault
/// script's units and limits, for the command line's `--duration`.
pub(super) fn time(text: &str) -> Result<u64, FaultError> {
    let fail = |Bad { column, kind }| FaultError {
        errors: vec![LineError {
            line: 1,
            column,
            kind,
        }],
    };
    let expected = "a duration like \"30 s\"";
    let mut words = Words::new(text);
    let d = duration(&mut words, expected, false).map_err(fail)?;
    if let Some(extra) = words.peek() {
        return Err(fail(expected_at(extra, "nothing after the duration")));
    }
    Ok(d.us)
}

/// 1-based line and character column of byte `offset` (or of the char
/// that contains it).
fn position_of(text: &str, offset: usize) -> (u32, u32) {
    let mut line = 1u32;
    let mut column = 1u32;
    for (at, c) in text.char_indices() {
        if at >= offset {
            break;
        }
        if c == '\n' {
            line = line.saturating_add(1);
            column = 1;
        } else {
            column = column.saturating_add(1);
        }
    }
    (line, column)
}

/// A problem on the current line.
struct Bad {
    column: u32,
    kind: ErrorKind,
}

#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    /// 1-based character column.
    column: u32,
}

impl Word<'_> {
    fn end_column(&self) -> u32 {
        let chars = u32::try_from(self.text.chars().count()).unwrap_or(u32::MAX);
        self.column.saturating_add(chars)
    }
}

/// The words of one line and a cursor over them.
struct Words<'a> {
    words: Vec<Word<'a>>,
    next: usize,
    /// Column just after the last word: where "end of line" is reported.
    end: u32,
}

impl<'a> Words<'a> {
    fn new(content: &'a str) -> Words<'a> {
        let mut words = Vec::new();
        let mut start: Option<(usize, u32)> = None;
        let mut column = 0u32;
        for (at, c) in content.char_indices() {
            column = column.saturating_add(1);
            if c.is_whitespace() {
                if let Some((from, col)) = start.take() {
                    words.push(Word {
                        text: &content[from..at],
                        column: col,
                    });
                }
            } else if start.is_none() {
                start = Some((at, column));
            }
        }
        if let Some((from, col)) = start {
            words.push(Word {
                text: &content[from..],
                column: col,
            });
        }
        let end = words.last().map_or(1, Word::end_column);
        Words {
            words,
            next: 0,
            end,
        }
    }

    fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn peek(&self) -> Option<Word<'a>> {
        self.words.get(self.next).copied()
    }

    fn peek_is(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|w| w.text == keyword)
    }

    fn bump(&mut self) -> Option<Word<'a>> {
        let word = self.peek();
        if word.is_some() {
            self.next += 1;
        }
        word
    }

    /// The next word, or "expected `expected`, found end of line".
    fn take(&mut self, expected: &str) -> Result<Word<'a>, Bad> {
        match self.bump() {
            Some(word) => Ok(word),
            None => Err(self.expected_here(expected)),
        }
    }

    fn keyword(&mut self, keyword: &str, expected: &str) -> Result<Word<'a>, Bad> {
        let word = self.take(expected)?;
        if word.text == keyword {
            Ok(word)
        } else {
            Err(expected_at(word, expected))
        }
    }

    /// "expected …" at the next word, or at the end of the line.
    fn expected_here(&self, expected: &str) -> Bad {
        match self.peek() {
            Some(word) => expected_at(word, expected),
            None => Bad {
                column: self.end,
                kind: ErrorKind::Expected {
                    expected: expected.to_string(),
                    found: "end of line".to_string(),
                },
            },
        }
    }
}

fn expected_at(word: Word<'_>, expected: &str) -> Bad {
    expected_text(word.column, word.text, expected)
}

fn expected_text(column: u32, found: &str, expected: &str) -> Bad {
    Bad {
        column,
        kind: ErrorKind::Expected {
            expected: expected.to_string(),
            found: quote(found),
        },
    }
}

/// `found` as an error message shows it: quoted, escaped, shortened.
pub(super) fn quote(found: &str) -> String {
    let mut chars = found.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// One non-empty line: the fault and the column [`super::resolve`]
/// reports against.
fn line(words: &mut Words<'_>) -> Result<(Fault, u32), Bad> {
    let first = words.take("`at TIME` or `random`")?;
    let parsed = match first.text {
        "at" => timed(words)?,
        "random" => random(words)?,
        _ => {
            return Err(expected_at(
                first,
                "a fault starting with `at TIME` (like \"at 30 s kill device 3\") or `random`",
            ))
        }
    };
    if let Some(extra) = words.peek() {
        return Err(expected_at(extra, "end of line"));
    }
    Ok(parsed)
}

fn timed(words: &mut Words<'_>) -> Result<(Fault, u32), Bad> {
    let at_us = duration(words, TIME, false)?.us;
    let mut lasting: Option<(u64, Word<'_>)> = None;
    if let Some(word) = words.peek().filter(|w| w.text == "for") {
        words.bump();
        let d = duration(words, DURATION, false)?;
        if d.us == 0 {
            return Err(expected_text(
                d.column,
                &d.shown,
                "a duration above 0 after `for`",
            ));
        }
        lasting = Some((d.us, word));
    }
    let for_us = lasting.map(|(d, _)| d);
    let verb =
        words.take("a fault: kill, revive, partition, disconnect, degrade, slow or crash")?;
    let no_for = |why: &str| -> Result<(), Bad> {
        match lasting {
            Some((_, word)) => Err(Bad {
                column: word.column,
                kind: ErrorKind::Invalid {
                    message: format!("`{}` takes no `for`: {why}", verb.text),
                },
            }),
            None => Ok(()),
        }
    };
    let parsed = match verb.text {
        "kill" => {
            no_for("it lasts until a `revive`")?;
            let (group, column) = group(words)?;
            (Fault::Kill { at_us, group }, column)
        }
        "revive" => {
            no_for("a revived device stays up")?;
            let (group, column) = group(words)?;
            (Fault::Revive { at_us, group }, column)
        }
        "partition" => {
            let (group, column) = group(words)?;
            (
                Fault::Partition {
                    at_us,
                    for_us,
                    group,
                },
                column,
            )
        }
        "disconnect" => {
            let (group, column) = group(words)?;
            (
                Fault::Disconnect {
                    at_us,
                    for_us,
                    group,
                },
                column,
            )
        }
        "degrade" => {
            let (group, column) = group(words)?;
            let (loss_permille, extra_latency_us, bandwidth_permille) = effects(words)?;
            (
                Fault::Degrade {
                    at_us,
                    for_us,
                    group,
                    loss_permille,
                    extra_latency_us,
                    bandwidth_permille,
                },
                column,
            )
        }
        "slow" => {
            if words.peek_is("workers") {
                words.bump();
                let factor_milli = factor(words)?;
                (
                    Fault::SlowWorkers {
                        at_us,
                        for_us,
                        factor_milli,
                    },
                    verb.column,
                )
            } else {
                let (group, column) = group(words)?;
                let factor_milli = factor(words)?;
                (
                    Fault::Slow {
                        at_us,
                        for_us,
                        group,
                        factor_milli,
                    },
                    column,
                )
            }
        }
        "crash" => {
            words.keyword("controller", "`controller` after `crash`")?;
            no_for("the controller recovers from its journal at once")?;
            (Fault::CrashController { at_us }, verb.column)
        }
        other => {
            return Err(Bad {
                column: verb.column,
                kind: ErrorKind::UnknownVerb {
                    found: quote(other),
                    suggestion: closest(other, VERBS.iter().copied()).map(str::to_string),
                },
            })
        }
    };
    Ok(parsed)
}

fn random(words: &mut Words<'_>) -> Result<(Fault, u32), Bad> {
    const KIND: &str = "`failures` or `stragglers` after `random`";
    let kind = words.take(KIND)?;
    if kind.text != "failures" && kind.text != "stragglers" {
        return Err(expected_at(kind, KIND));
    }
    let permille = percent(words, PERCENT)?.0;
    words.keyword("of", "`of` (like \"5% of drones\")")?;
    let (target, column) = fleet_target(words)?;
    if kind.text == "failures" {
        words.keyword("per", "`per` and a time unit (like \"per min\")")?;
        let per_us = match words.peek() {
            Some(word) => match unit(word.text) {
                Some(us) => {
                    words.bump();
                    us
                }
                None => {
                    let d = duration(words, "a time unit or a duration after `per`", false)?;
                    if d.us == 0 {
                        return Err(expected_text(d.column, &d.shown, "a period above 0"));
                    }
                    d.us
                }
            },
            None => return Err(words.expected_here("a time unit like \"min\" after `per`")),
        };
        Ok((
            Fault::RandomFailures {
                target,
                permille,
                per_us,
            },
            column,
        ))
    } else {
        let factor_milli = factor(words)?;
        Ok((
            Fault::RandomStragglers {
                target,
                permille,
                factor_milli,
            },
            column,
        ))
    }
}

/// `device N`, a fleet, or a selection `N of FLEET` / `P% of FLEET`;
/// with the column of the target word.
fn group(words: &mut Words<'_>) -> Result<(Group, u32), Bad> {
    let word = words.peek().ok_or_else(|| words.expected_here(TARGET))?;
    if word.text == "device" {
        words.bump();
        let id = words.take("a device id (a whole number like 3)")?;
        let device = whole(id, "a device id (a whole number like 3)")?;
        return Ok((
            Group {
                select: Select::All,
                target: Target::Device(device),
            },
            word.column,
        ));
    }
    if word
        .text
        .starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        let select = if word.text.ends_with('%')
            || words
                .words
                .get(words.next + 1)
                .is_some_and(|w| w.text == "%")
        {
            Select::Permille(percent(words, PERCENT)?.0)
        } else {
            words.bump();
            Select::Count(whole(
                word,
                "a device count (a whole number like 4) or a percentage",
            )?)
        };
        words.keyword("of", "`of` (like \"4 of cars\")")?;
        let (target, column) = fleet_target(words)?;
        return Ok((Group { select, target }, column));
    }
    if !is_name(word.text) {
        return Err(expected_at(word, TARGET));
    }
    let (target, column) = fleet_target(words)?;
    Ok((
        Group {
            select: Select::All,
            target,
        },
        column,
    ))
}

/// `all`, `NAME` or `fleet NAME`.
fn fleet_target(words: &mut Words<'_>) -> Result<(Target, u32), Bad> {
    const FLEET: &str = "a fleet name or `all`";
    let word = words.take(FLEET)?;
    match word.text {
        "all" => Ok((Target::All, word.column)),
        "fleet" => {
            let name = words.take("a fleet name after `fleet`")?;
            if is_name(name.text) {
                Ok((Target::Fleet(name.text.to_string()), name.column))
            } else {
                Err(expected_at(name, "a fleet name after `fleet`"))
            }
        }
        "device" => Err(expected_at(
            word,
            "a fleet name or `all` (a selection like \"4 of …\" picks from a fleet)",
        )),
        "workers" => Err(Bad {
            column: word.column,
            kind: ErrorKind::Invalid {
                message: "only `slow` applies to `workers` (write `fleet workers` for a fleet of that name)".to_string(),
            },
        }),
        "controller" => Err(Bad {
            column: word.column,
            kind: ErrorKind::Invalid {
                message: "the controller is crashed with `crash controller` (write `fleet controller` for a fleet of that name)".to_string(),
            },
        }),
        text if is_name(text) && !RESERVED.contains(&text) => {
            Ok((Target::Fleet(text.to_string()), word.column))
        }
        _ => Err(expected_at(word, FLEET)),
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `loss P%`, `latency +D`, `bandwidth P%`, each at most once, at least
/// one; unnamed ones keep their nominal value.
fn effects(words: &mut Words<'_>) -> Result<(u32, u64, u32), Bad> {
    const EFFECT: &str = "`loss P%`, `latency +D` or `bandwidth P%`";
    let mut loss: Option<u32> = None;
    let mut latency: Option<u64> = None;
    let mut bandwidth: Option<u32> = None;
    while let Some(word) = words.peek() {
        let twice = |given: bool| -> Result<(), Bad> {
            if given {
                Err(Bad {
                    column: word.column,
                    kind: ErrorKind::Invalid {
                        message: format!("`{}` given twice", word.text),
                    },
                })
            } else {
                Ok(())
            }
        };
        match word.text {
            "loss" => {
                twice(loss.is_some())?;
                words.bump();
                let (permille, column, text) = percent(words, PERCENT)?;
                if permille >= 1_000 {
                    return Err(expected_text(
                        column,
                        &text,
                        "a loss below 100% (cut the link with `partition`)",
                    ));
                }
                loss = Some(permille);
            }
            "latency" => {
                twice(latency.is_some())?;
                words.bump();
                latency = Some(duration(words, "an added latency like \"+50 ms\"", true)?.us);
            }
            "bandwidth" => {
                twice(bandwidth.is_some())?;
                words.bump();
                let (permille, column, text) = percent(words, PERCENT)?;
                if permille == 0 {
                    return Err(expected_text(
                        column,
                        &text,
                        "a bandwidth above 0% (cut the link with `partition`)",
                    ));
                }
                bandwidth = Some(permille);
            }
            _ => return Err(expected_at(word, EFFECT)),
        }
    }
    if loss.is_none() && latency.is_none() && bandwidth.is_none() {
        return Err(words.expected_here(&format!("what to degrade: {EFFECT}")));
    }
    Ok((
        loss.unwrap_or(0),
        latency.unwrap_or(0),
        bandwidth.unwrap_or(1_000),
    ))
}

/// A number and a time unit, in one word (`30s`) or two (`30 s`), at most
/// a year; with the column where it starts. `plus` allows a leading `+`
/// (also as its own word).
struct Duration {
    us: u64,
    column: u32,
    /// As written, for error messages.
    shown: String,
}

fn duration(words: &mut Words<'_>, expected: &str, plus: bool) -> Result<Duration, Bad> {
    let mut word = words.take(expected)?;
    let column = word.column;
    let mut text = word.text;
    if plus {
        if text == "+" {
            word = words.take(expected)?;
            text = word.text;
        } else if let Some(rest) = text.strip_prefix('+') {
            text = rest;
        }
    }
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, attached) = text.split_at(digits);
    if number.is_empty() {
        return Err(expected_at(word, expected));
    }
    let (unit_text, shown) = if attached.is_empty() {
        let after = format!("a time unit (µs, ms, s, min or h) after {}", quote(number));
        let unit_word = words.take(&after)?;
        match unit(unit_word.text) {
            Some(_) => (unit_word.text, format!("{number} {}", unit_word.text)),
            None => return Err(expected_at(unit_word, &after)),
        }
    } else {
        (attached, text.to_string())
    };
    let Some(unit_us) = unit(unit_text) else {
        return Err(expected_at(
            word,
            &format!("{expected} (units: µs, ms, s, min, h)"),
        ));
    };
    let micro = match fixed(number, 6) {
        Ok(v) => v,
        Err(Num::Malformed) => return Err(expected_text(column, &shown, expected)),
        Err(Num::TooFine) => {
            return Err(expected_text(
                column,
                &shown,
                "a time in whole microseconds (at most 6 decimals of a second)",
            ))
        }
        Err(Num::TooLarge) => {
            return Err(expected_text(column, &shown, "a time of at most 1 year"))
        }
    };
    // `micro` millionths of the unit: exact only if whole µs.
    let scaled = micro.checked_mul(u128::from(unit_us));
    let us = match scaled {
        Some(s) if s % 1_000_000 == 0 => s / 1_000_000,
        Some(_) => {
            return Err(expected_text(
                column,
                &shown,
                "a time in whole microseconds",
            ))
        }
        None => return Err(expected_text(column, &shown, "a time of at most 1 year")),
    };
    match u64::try_from(us) {
        Ok(us) if us <= MAX_TIME_US => Ok(Duration { us, column, shown }),
        _ => Err(expected_text(column, &shown, "a time of at most 1 year")),
    }
}

fn unit(text: &str) -> Option<u64> {
    UNITS.iter().find(|(u, _)| *u == text).map(|(_, us)| *us)
}

/// `10%` or `10 %`, 0 to 100%, in permille; with its column and text.
fn percent(words: &mut Words<'_>, expected: &str) -> Result<(u32, u32, String), Bad> {
    let word = words.take(expected)?;
    let (number, shown) = match word.text.strip_suffix('%') {
        Some(number) => (number, word.text.to_string()),
        None => {
            if words.peek_is("%") {
                words.bump();
                (word.text, format!("{} %", word.text))
            } else {
                return Err(expected_at(word, expected));
            }
        }
    };
    let permille = match fixed(number, 1) {
        Ok(v) => v,
        Err(Num::Malformed) => return Err(expected_text(word.column, &shown, expected)),
        Err(Num::TooFine) => {
            return Err(expected_text(
                word.column,
                &shown,
                "a percentage with at most one decimal (like \"0.5%\")",
            ))
        }
        Err(Num::TooLarge) => 1_001,
    };
    match u32::try_from(permille) {
        Ok(p) if p <= 1_000 => Ok((p, word.column, shown)),
        _ => Err(expected_text(
            word.column,
            &shown,
            "a percentage from 0% to 100%",
        )),
    }
}

/// `x4`, `x1.5`, `x 4` or `×4`, from x1 to x1000, in thousandths.
fn factor(words: &mut Words<'_>) -> Result<u32, Bad> {
    let word = words.take(FACTOR)?;
    let Some(rest) = word
        .text
        .strip_prefix('x')
        .or_else(|| word.text.strip_prefix('×'))
    else {
        return Err(expected_at(word, FACTOR));
    };
    let (number, shown) = if rest.is_empty() {
        let number = words.take(FACTOR)?;
        (number.text, format!("{} {}", word.text, number.text))
    } else {
        (rest, word.text.to_string())
    };
    let milli = match fixed(number, 3) {
        Ok(v) => v,
        Err(Num::Malformed) => return Err(expected_text(word.column, &shown, FACTOR)),
        Err(Num::TooFine) => {
            return Err(expected_text(
                word.column,
                &shown,
                "a factor with at most three decimals",
            ))
        }
        Err(Num::TooLarge) => u128::MAX,
    };
    match u32::try_from(milli) {
        Ok(m) if (MIN_FACTOR_MILLI..=MAX_FACTOR_MILLI).contains(&m) => Ok(m),
        _ => Err(expected_text(
            word.column,
            &shown,
            "a factor from x1 to x1000",
        )),
    }
}

/// A whole number that fits a u32 (device ids, counts).
fn whole(word: Word<'_>, expected: &str) -> Result<u32, Bad> {
    let value = if word.text.contains('.') {
        Err(Num::Malformed)
    } else {
        fixed(word.text, 0)
    };
    match value {
        Ok(v) => u32::try_from(v)
            .map_err(|_| expected_at(word, &format!("{expected} of at most {}", u32::MAX))),
        Err(Num::TooLarge) => Err(expected_at(
            word,
            &format!("{expected} of at most {}", u32::MAX),
        )),
        Err(_) => Err(expected_at(word, expected)),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Num {
    Malformed,
    TooFine,
    TooLarge,
}

/// A plain decimal (`12`, `1.5`; no sign, no exponent) as an integer
/// count of 10^-`decimals`: exact, or an error.
pub(super) fn fixed(text: &str, decimals: u32) -> Result<u128, Num> {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(Num::Malformed);
    }
    let mut value: u128 = 0;
    let push = |value: u128, digit: u8| {
        value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(digit - b'0')))
            .ok_or(Num::TooLarge)
    };
    for b in int.bytes() {
        value = push(value, b)?;
    }
    let mut scale = 0;
    for b in frac.unwrap_or("").bytes() {
        if scale < decimals {
            value = push(value, b)?;
            scale += 1;
        } else if b != b'0' {
            return Err(Num::TooFine);
        }
    }
    while scale < decimals {
        value = value.checked_mul(10).ok_or(Num::TooLarge)?;
        scale += 1;
    }
    Ok(value)
}

/// The candidate within edit distance 2 of `word` (the closest, the first
/// on a tie), for "did you mean".
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if let Some(d) = levenshtein(word, candidate, 2) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, candidate));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance (insert, delete, substitute) between `a` and `b` in
/// characters, if it is at most `limit`. Words longer than 64 characters
/// are nobody's typo of a short name and cost nothing.
pub(super) fn levenshtein(a: &str, b: &str, limit: usize) -> Option<usize> {
    const LONGEST: usize = 64;
    let a: Vec<char> = a.chars().take(LONGEST + 1).collect();
    let b: Vec<char> = b.chars().take(LONGEST + 1).collect();
    if a.len() > LONGEST || b.len() > LONGEST || a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= limit).then_some(distance)
}
