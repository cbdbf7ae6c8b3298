//! Diagnostics are data: a code, a severity, a message, labelled spans and a
//! help line. The checker collects them; callers render them with miette
//! ([`render`]) or emit them as JSON ([`Diagnostic::to_json`]).

use crate::syntax::Span;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($variant:ident => $name:literal: $what:literal,)*) => {
        /// Every distinct diagnostic the compiler can emit. Each has a stable
        /// kebab-case name (shown as `hm::<name>`) and an example in
        /// `dsl/tests/data/err/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }
            /// One line on what the diagnostic means (for `--explain`-style docs).
            pub fn describe(self) -> &'static str {
                match self { $(Code::$variant => $what,)* }
            }
        }
    };
}

codes! {
    Syntax => "syntax": "the text does not follow the grammar",
    UnknownKeyword => "unknown-keyword": "a word where a keyword was expected; usually a typo",
    NonAsciiName => "non-ascii-name": "a name with a letter outside ASCII (names are ASCII letters, digits and `_`)",
    UnclosedBlock => "unclosed-block": "a `{` or `(` is never closed",
    UnknownUnit => "unknown-unit": "a unit the language does not know",
    WrongUnit => "wrong-unit": "a quantity of the wrong kind (time where a length is needed, ...)",
    MissingUnit => "missing-unit": "a number that needs a unit has none",
    NotPositive => "not-positive": "a quantity that must be greater than zero is zero or negative",
    Absurd => "absurd-quantity": "a quantity far outside what real devices or missions have",
    TooPrecise => "too-precise": "a quantity smaller than the IR's resolution, or with digits rounding would change",
    BadPercentile => "bad-percentile": "a percentile outside (0, 100]",
    UnknownTask => "unknown-task": "a reference to a task that is not declared",
    UnknownFleet => "unknown-fleet": "a reference to a fleet that is not declared",
    UnknownArea => "unknown-area": "a reference to an area that is not declared",
    UnknownData => "unknown-data": "a task input that no task outputs",
    DuplicateName => "duplicate-name": "two declarations with the same name",
    DuplicateOutput => "duplicate-output": "two tasks produce data with the same name",
    DuplicateProperty => "duplicate-property": "a property or task item given twice",
    MissingProperty => "missing-property": "a fleet, cloud or `retrain` lacks a property the cost model needs",
    UnknownDeviceClass => "unknown-device-class": "a fleet's device class is not `drone` or `car`",
    UnknownSensor => "unknown-sensor": "a sensor the language does not know",
    SensorRate => "sensor-rate": "a sensor's reading rate given twice over, or a task reading sensors of different rates without `every`",
    UnknownAssignRule => "unknown-assign-rule": "`assign` by a rule other than `nearest` or `by battery`",
    UnknownObjective => "unknown-objective": "an objective other than latency, energy, cost, bytes, exec_time",
    DuplicateObjective => "duplicate-objective": "an objective listed twice in `minimize`",
    UnknownEvent => "unknown-event": "a policy for an event the controller does not raise",
    UnknownPinTarget => "unknown-pin-target": "`at` followed by something other than `cloud` or `edge`",
    UnknownPriority => "unknown-priority": "a priority other than critical, high, normal, low",
    BatteryNeedsVoltage => "battery-needs-voltage": "a battery charge (mAh) without its voltage",
    Cycle => "cycle": "the task graph has a cycle",
    TypeMismatch => "type-mismatch": "a task input's declared type differs from its producer's",
    SizeMismatch => "size-mismatch": "same kind of data but a different size on the two ends of an edge",
    MissingType => "missing-type": "a task output without a type",
    SensorMissing => "sensor-missing": "a task needs a sensor its fleet does not have",
    ResolutionTooLow => "resolution-too-low": "a task needs a higher camera resolution than its fleet has",
    PinConflict => "pin-conflict": "a placement pin that cannot hold with what the task needs",
    NoCloud => "no-cloud": "a task is pinned to the cloud but the mission has no `cloud` block",
    NoFleet => "no-fleet": "the mission has no fleet: nothing can sense or move",
    MultiplePins => "multiple-pins": "a task pinned more than once",
    LaneWithoutCover => "lane-without-cover": "`lane` only makes sense with `cover`",
    LaneTooWide => "lane-too-wide": "a sweep lane wider than the area it sweeps",
    EmptyArea => "empty-area": "a rectangle with no extent",
    BadPolygon => "bad-polygon": "a polygon with fewer than 3 corners or crossing edges",
    PerItemWithoutList => "per-item-without-list": "`per item` on a task with no list input",
    BehaviourConflict => "behaviour-conflict": "two swarm behaviours (cover, goto, return, land) in one task",
    TriggerConflict => "trigger-conflict": "a task both `every` and `once`",
    GatherWithoutInput => "gather-without-input": "`gather` on a task with no inputs",
    NoPath => "no-path": "a latency requirement between tasks with no path between them",
    BoundDirection => "bound-direction": "a requirement bound in the wrong direction (`>` for a latency, ...)",
    DuplicatePolicy => "duplicate-policy": "two policies for the same event",
    InvalidAction => "invalid-action": "an action the event does not allow",
    EventArgument => "event-argument": "an event's threshold is missing, not allowed or of the wrong kind",
    NotLearnable => "not-learnable": "`retrain` of a task that runs no model (`fn`)",
    NoTrainingData => "no-training-data": "`retrain ... from` a task that outputs nothing to train on",
    CloudCpuCores => "cloud-cpu-cores": "`cpu ... x N` inside `cloud`; use `cores`",
    WrongSection => "wrong-section": "a fleet-only property in `cloud` or a cloud-only one in a fleet",
    UnknownRateUnit => "unknown-rate-unit": "a money rate that is not per hour/min/s or per GB-s",
    Infeasible => "infeasible": "no placement meets these requirements together (from `hivemind synth`)",
    UnusedOutput => "unused-output": "warning: an output no task reads",
    NeverTriggered => "never-triggered": "warning: a task with no input, period, `once` or behaviour never runs",
    UnusedDeclaration => "unused-declaration": "warning: an area or fleet that nothing uses",
    MissingWork => "missing-work": "warning: a task calls a function but states no work",
    DuplicateRequirement => "duplicate-requirement": "warning: the same requirement twice",
}

impl Code {
    /// Whether `hivemind check` can report it (the others come from later
    /// stages and have their examples there).
    pub fn from_checker(self) -> bool {
        !matches!(self, Code::Infeasible)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hm::{}", self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// `help` only when there is something to say.
    pub fn maybe_help(self, help: Option<String>) -> Self {
        match help {
            Some(h) => self.help(h),
            None => self,
        }
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    /// Machine-readable form with line/column positions (1-based, columns in
    /// characters) for `--json`. For many diagnostics of one source use
    /// [`to_json_all`], which indexes the lines once.
    pub fn to_json(&self, file: &str, src: &str) -> serde_json::Value {
        self.to_json_indexed(file, src, &LineIndex::new(src))
    }

    /// [`Diagnostic::to_json`] with `src`'s line index built by the caller.
    pub fn to_json_indexed(&self, file: &str, src: &str, index: &LineIndex) -> serde_json::Value {
        let labels: Vec<_> = self
            .labels
            .iter()
            .map(|l| {
                let (line, col) = index.line_col(src, l.span.start);
                let (end_line, end_col) = index.line_col(src, l.span.end);
                serde_json::json!({
                    "start": l.span.start, "end": l.span.end,
                    "line": line, "col": col, "end_line": end_line, "end_col": end_col,
                    "message": l.message,
                })
            })
            .collect();
        serde_json::json!({
            "file": file,
            "code": self.code.to_string(),
            "severity": self.severity,
            "message": self.message,
            "labels": labels,
            "help": self.help,
        })
    }
}

/// Every diagnostic of one source in the form of [`Diagnostic::to_json`],
/// with one line index for all of them (linear in their number).
pub fn to_json_all(diags: &[Diagnostic], file: &str, src: &str) -> Vec<serde_json::Value> {
    let index = LineIndex::new(src);
    diags
        .iter()
        .map(|d| d.to_json_indexed(file, src, &index))
        .collect()
}

/// Byte offset → (line, column) lookups.
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }
    /// 1-based line and character column; offsets past the end clamp to it.
    pub fn line_col(&self, src: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(src, offset.min(src.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let col = src[self.line_starts[line]..offset].chars().count() + 1;
        (line as u32 + 1, col as u32)
    }
}

pub(crate) fn floor_char_boundary(src: &str, mut i: usize) -> usize {
    while i > 0 && !src.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A source as miette reads it, with its lines indexed once: miette's own
/// `SourceCode` for strings scans from the start of the text for every
/// span it reads, which made rendering N diagnostics of a file O(N × size)
/// (3,300 warnings of a 10,000-task mission took 8.6 s). Here each read
/// scans only a window of lines around the span.
struct IndexedSource<'a> {
    name: &'a str,
    src: &'a str,
    /// Byte offset of the start of every line, with line breaks as miette
    /// counts them: `\n`, `\r\n` and a lone `\r`.
    line_starts: Vec<usize>,
}

impl<'a> IndexedSource<'a> {
    fn new(name: &'a str, src: &'a str) -> Self {
        let bytes = src.as_bytes();
        let mut line_starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 1;
                    line_starts.push(i + 1);
                }
                b'\r' | b'\n' => line_starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        IndexedSource {
            name,
            src,
            line_starts,
        }
    }

    /// The line holding byte `offset` (0-based).
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }
}

impl miette::SourceCode for IndexedSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        // miette's scan over a window that starts at a line start at least
        // `context_lines_before` lines before the span and ends two lines
        // past the context after it gives what the scan over the whole text
        // gives, shifted by the window's first line and offset.
        let first = self
            .line_of(span.offset())
            .saturating_sub(context_lines_before + 1);
        let end_offset = span.offset() + span.len().saturating_sub(1);
        let last = self.line_of(end_offset) + context_lines_after + 2;
        let start = self.line_starts[first];
        let end = self
            .line_starts
            .get(last + 1)
            .copied()
            .unwrap_or(self.src.len())
            .max(start);
        let window = &self.src.as_bytes()[start..end];
        let local = miette::SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        let shifted = miette::SourceSpan::new(
            (contents.span().offset() + start).into(),
            contents.span().len(),
        );
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            contents.data(),
            shifted,
            contents.line() + first,
            contents.column(),
            contents.line_count() + first,
        )))
    }
}

/// A diagnostic bound to its source, as miette wants it.
struct Bound<'a> {
    diag: &'a Diagnostic,
    source: &'a IndexedSource<'a>,
    src_len: usize,
}

impl fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostic")
            .field("diag", self.diag)
            .finish()
    }
}
impl fmt::Display for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl std::error::Error for Bound<'_> {}

impl miette::Diagnostic for Bound<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let len = self.src_len;
        Some(Box::new(self.diag.labels.iter().enumerate().map(
            move |(i, l)| {
                let start = l.span.start.min(len);
                let width = l.span.end.min(len).saturating_sub(start);
                let text = (!l.message.is_empty()).then(|| l.message.clone());
                if i == 0 {
                    miette::LabeledSpan::new_primary_with_span(text, (start, width))
                } else {
                    miette::LabeledSpan::new_with_span(text, (start, width))
                }
            },
        )))
    }
}

/// How [`render`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode art without colour: stable, used by snapshots and pipes.
    Plain,
    /// Unicode art with ANSI colour for terminals.
    Color,
}

/// Render diagnostics the way `hivemind check` prints them.
/// Diagnostics rendered with their source; beyond this a line counts the
/// rest (a generated file can have a million, and drawing each with its
/// context took most of a large file's check). `--json` lists every one.
pub const MAX_RENDERED: usize = 500;

pub fn render(diags: &[Diagnostic], file: &str, src: &str, style: Style) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = match style {
        Style::Plain => GraphicalTheme::unicode_nocolor(),
        Style::Color => GraphicalTheme::unicode(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    let source = IndexedSource::new(file, src);
    for d in diags.iter().take(MAX_RENDERED) {
        let bound = Bound {
            diag: d,
            source: &source,
            src_len: src.len(),
        };
        if handler.render_report(&mut out, &bound).is_err() {
            out.push_str(&format!("{}: {}\n", d.code, d.message));
        }
    }
    if let Some(rest) = diags.get(MAX_RENDERED..).filter(|r| !r.is_empty()) {
        let errors = rest.iter().filter(|d| d.is_error()).count();
        out.push_str(&format!(
            "… and {} more diagnostics not shown ({errors} errors, {} warnings); `--json` lists every one\n",
            rest.len(),
            rest.len() - errors
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::SourceCode;

    #[test]
    fn only_the_first_diagnostics_are_drawn_the_rest_counted() {
        let src = "mission m {}\n";
        let d = Diagnostic::error(Code::UnknownData, "x").label(Span { start: 0, end: 7 }, "here");
        let many = vec![d; MAX_RENDERED + 7];
        let out = render(&many, "m.hm", src, Style::Plain);
        assert_eq!(out.matches("× x").count(), MAX_RENDERED);
        assert!(
            out.contains("… and 7 more diagnostics not shown (7 errors, 0 warnings)"),
            "{out}"
        );
    }

    /// The windowed read gives what miette's whole-text read gives, for
    /// every span of texts with `\n`, `\r\n`, lone `\r`, blank lines and
    /// spans at the end.
    #[test]
    fn indexed_source_reads_spans_like_miette() {
        let texts = [
            "a\nbb\n\nccc\r\ndd\reee\n\n\nf".to_string(),
            "one line, no break".to_string(),
            "\n\n\n".to_string(),
            (0..40)
                .map(|i| format!("line {i} {}\n", "x".repeat(i % 7)))
                .collect(),
        ];
        let mut compared = 0;
        for text in &texts {
            let indexed = IndexedSource::new("f.hm", text);
            for start in 0..=text.len() {
                for len in [0, 1, 2, 5, 17] {
                    if start + len > text.len() {
                        continue;
                    }
                    let span = miette::SourceSpan::new(start.into(), len);
                    for (before, after) in [(0, 0), (1, 1), (2, 3), (5, 0)] {
                        let want = text.as_str().read_span(&span, before, after);
                        let got = indexed.read_span(&span, before, after);
                        match (want, got) {
                            (Ok(w), Ok(g)) => {
                                let at = format!("{text:?} {start}+{len} ({before}, {after})");
                                assert_eq!(w.data(), g.data(), "{at}");
                                assert_eq!(w.span(), g.span(), "{at}");
                                assert_eq!(w.line(), g.line(), "{at}");
                                assert_eq!(w.column(), g.column(), "{at}");
                                assert_eq!(w.line_count(), g.line_count(), "{at}");
                                assert_eq!(g.name(), Some("f.hm"));
                                compared += 1;
                            }
                            (Err(_), Err(_)) => {}
                            (w, g) => panic!(
                                "{text:?} {start}+{len}: miette {:?}, indexed {:?}",
                                w.is_ok(),
                                g.is_ok()
                            ),
                        }
                    }
                }
            }
        }
        assert!(compared > 5_000, "{compared}");
    }
}
