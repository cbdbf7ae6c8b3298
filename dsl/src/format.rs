//! Canonical form: `hivemind fmt`.
//!
//! Layout rules: two-space indentation; one declaration or property per line;
//! fleet and cloud bodies always multi-line; task, policy and learning bodies
//! on one line (`{ a; b }`) when they have at most three items, no comments
//! and fit in 100 columns; quantities as `1 s`; pins before outputs in task
//! headers; body `out` lines move into the header. Comments are kept: a
//! comment on its own line stays before the item that follows it, a comment
//! after code stays at the end of that line. One blank line between items is
//! kept where the source had one or more.
//!
//! Properties (tested): `parse(format(x)) == parse(x)` up to spans, and
//! `format(format(x)) == format(x)`.

use crate::diagnostic::Diagnostic;
use crate::parser;
use crate::syntax::*;

const WIDTH: usize = 100;
const INLINE_ITEMS: usize = 3;

/// Parse `src` and print it in canonical form.
pub fn format_source(src: &str) -> Result<String, Diagnostic> {
    let mission = parser::parse(src)?;
    Ok(format_mission(&mission, src))
}

/// Print an already parsed mission; `src` supplies comments and blank lines.
pub fn format_mission(m: &Mission, src: &str) -> String {
    let mut p = Printer {
        src,
        comments: comments(src),
        next: 0,
        out: String::new(),
        last_end: 0,
        block_start: true,
    };
    p.open(0, &format!("mission {}", m.name.name), m.span);
    for d in &m.decls {
        decl(&mut p, d, 1);
    }
    p.close(m.span, 0);
    p.leading(usize::MAX, 0);
    p.out
}

struct Comment {
    start: usize,
    end: usize,
}

/// Every `//` comment outside string literals.
fn comments(src: &str) -> Vec<Comment> {
    crate::lexical::comments(src)
        .into_iter()
        .map(|r| Comment {
            start: r.start,
            end: r.end,
        })
        .collect()
}

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    next: usize,
    out: String,
    /// Source offset of the last thing printed, for blank-line detection.
    last_end: usize,
    /// No blank line before the first thing in a block.
    block_start: bool,
}

impl Printer<'_> {
    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
    }

    fn blank_line_before(&mut self, pos: usize) {
        if self.block_start {
            self.block_start = false;
            return;
        }
        let gap = self.src.get(self.last_end.min(pos)..pos).unwrap_or("");
        let mut newlines = 0;
        for c in gap.chars() {
            if c == '\n' {
                newlines += 1;
                if newlines >= 2 {
                    self.out.push('\n');
                    return;
                }
            } else if !c.is_whitespace() && c != ';' {
                newlines = 0;
            }
        }
    }

    /// Own-line comments that start before `pos`.
    fn leading(&mut self, pos: usize, level: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos {
                break;
            }
            let (start, end) = (c.start, c.end);
            self.next += 1;
            self.blank_line_before(start);
            self.indent(level);
            self.out.push_str(self.src[start..end].trim_end());
            self.out.push('\n');
            self.last_end = end;
        }
    }

    /// A comment after `end` on the same source line, appended to the current line.
    fn trailing(&mut self, end: usize) {
        if let Some(c) = self.comments.get(self.next) {
            let between = self.src.get(end..c.start).unwrap_or("\n");
            if c.start >= end && !between.contains('\n') {
                let (start, cend) = (c.start, c.end);
                self.next += 1;
                self.out.push(' ');
                self.out.push_str(self.src[start..cend].trim_end());
                self.last_end = cend;
            }
        }
    }

    /// One line of code for the item at `span`.
    fn line(&mut self, level: usize, text: &str, span: Span) {
        self.leading(span.start, level);
        self.blank_line_before(span.start);
        self.indent(level);
        self.out.push_str(text);
        self.last_end = self.last_end.max(span.end);
        self.trailing(span.end);
        self.out.push('\n');
    }

    /// The header line of a multi-line block.
    fn open(&mut self, level: usize, header: &str, span: Span) {
        self.leading(span.start, level);
        self.blank_line_before(span.start);
        self.indent(level);
        self.out.push_str(header);
        self.out.push_str(" {");
        // A comment after the opening brace stays on the header line.
        let brace = self
            .src
            .get(span.start..span.end)
            .and_then(|t| t.find('{'))
            .map_or(span.start, |i| span.start + i + 1);
        self.trailing(brace);
        self.out.push('\n');
        self.last_end = span.start;
        self.block_start = true;
    }

    /// Comments left inside the block, then its `}`.
    fn close(&mut self, span: Span, level: usize) {
        self.leading(span.end.saturating_sub(1), level + 1);
        self.indent(level);
        self.out.push('}');
        self.last_end = span.end;
        self.block_start = false;
        self.trailing(span.end);
        self.out.push('\n');
    }

    fn has_comment_in(&self, span: Span) -> bool {
        self.comments[self.next..]
            .iter()
            .any(|c| c.start >= span.start && c.start < span.end)
    }

    /// A block that goes on one line when it is short and has no comments.
    fn block(
        &mut self,
        level: usize,
        header: &str,
        items: &[(String, Span)],
        span: Span,
        inline_ok: bool,
    ) {
        let inline = format!(
            "{header} {{ {} }}",
            items
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        let fits = inline_ok
            && items.len() <= INLINE_ITEMS
            && level * 2 + inline.len() <= WIDTH
            && !self.has_comment_in(span);
        if items.is_empty() && !self.has_comment_in(span) {
            self.line(level, &format!("{header} {{}}"), span);
        } else if fits {
            self.line(level, &inline, span);
        } else {
            self.open(level, header, span);
            for (text, s) in items {
                self.line(level + 1, text, *s);
            }
            self.close(span, level);
        }
    }
}

fn q(x: &Quantity) -> String {
    match &x.unit {
        Some(u) if u.name == "%" => format!("{}%", x.number.text),
        Some(u) => format!("{} {}", x.number.text, u.name),
        None => x.number.text.clone(),
    }
}

fn point(p: &Point) -> String {
    format!("({}, {})", q(&p.x), q(&p.y))
}

fn sensor(s: &Sensor) -> String {
    match &s.resolution {
        Some(r) => format!("{}({}x{})", s.name.name, r.width.text, r.height.text),
        None => s.name.name.clone(),
    }
}

fn data_type(t: &DataType) -> String {
    match t {
        DataType::Image {
            resolution,
            channels,
            ..
        } => {
            let ch = channels
                .as_ref()
                .map(|c| format!(" {}", c.name))
                .unwrap_or_default();
            format!(
                "image {}x{}{ch}",
                resolution.width.text, resolution.height.text
            )
        }
        DataType::List {
            element, max_items, ..
        } => format!("list<{}> x {}", data_type(element), max_items.text),
        DataType::Blob { kind, size, .. } => match size {
            Some(size) => format!("{} {}", kind.name, q(size)),
            None => kind.name.clone(),
        },
    }
}

fn typed(name: &Ident, ty: &Option<DataType>) -> String {
    match ty {
        Some(t) => format!("{}: {}", name.name, data_type(t)),
        None => name.name.clone(),
    }
}

fn pin(p: &Pin) -> String {
    match p.kind {
        PinKind::On => format!("on {}", p.target.name),
        PinKind::At => format!("at {}", p.target.name),
    }
}

/// `in_cloud`: cloud memory is per server, written `memory 128 GB each`.
fn prop(p: &DeviceProp, in_cloud: bool) -> String {
    match p {
        DeviceProp::Cpu { clock, cores, .. } => match cores {
            Some(c) => format!("cpu {} x {}", q(clock), c.text),
            None => format!("cpu {}", q(clock)),
        },
        DeviceProp::Battery {
            capacity, voltage, ..
        } => match voltage {
            Some(v) => format!("battery {} @ {}", q(capacity), q(v)),
            None => format!("battery {}", q(capacity)),
        },
        DeviceProp::Radio {
            bandwidth,
            range,
            shared,
            ..
        } => {
            let range = range
                .as_ref()
                .map(|r| format!(" range {}", q(r)))
                .unwrap_or_default();
            let shared = if *shared { " shared" } else { "" };
            format!("radio {}{range}{shared}", q(bandwidth))
        }
        DeviceProp::Speed { value, .. } => format!("speed {}", q(value)),
        DeviceProp::Power { value, .. } => format!("power {}", q(value)),
        DeviceProp::Memory { value, .. } if in_cloud => format!("memory {} each", q(value)),
        DeviceProp::Memory { value, .. } => format!("memory {}", q(value)),
        DeviceProp::Sensors { sensors, .. } => format!(
            "sensors {}",
            sensors.iter().map(sensor).collect::<Vec<_>>().join(", ")
        ),
        DeviceProp::Home { point: pt, .. } => format!("home {}", point(pt)),
        DeviceProp::Servers { count, .. } => format!("servers {}", count.text),
        DeviceProp::Cores { count, .. } => format!("cores {} each", count.text),
        DeviceProp::Price { dollars, per, .. } => {
            format!("price ${} per {}", dollars.number.text, per.name)
        }
        DeviceProp::Fpga { boards, .. } => match boards {
            Some(b) => format!("fpga {}", b.text),
            None => "fpga".into(),
        },
        DeviceProp::ColdStart { value, .. } => format!("cold_start {}", q(value)),
    }
}

fn item(i: &TaskItem) -> String {
    match i {
        TaskItem::Work {
            amount, per_item, ..
        } => format!(
            "work {}{}",
            q(amount),
            if *per_item { " per item" } else { "" }
        ),
        TaskItem::Fn { target, .. } => match target {
            FnRef::Name(n) => format!("fn {}", n.name),
            FnRef::Quoted { text, .. } => format!("fn \"{text}\""),
        },
        TaskItem::Every { period, .. } => format!("every {}", q(period)),
        TaskItem::Once { .. } => "once".into(),
        TaskItem::Cover { area, .. } => format!("cover {}", area.name),
        TaskItem::Lane { width, .. } => format!("lane {}", q(width)),
        TaskItem::Goto { target, .. } => match target {
            GotoTarget::Point(p) => format!("goto {}", point(p)),
            GotoTarget::Area(a) => format!("goto {}", a.name),
        },
        TaskItem::Return { .. } => "return".into(),
        TaskItem::Land { .. } => "land".into(),
        TaskItem::FanOut { how, .. } => match how {
            FanOut::Count(n) => format!("fanout {}", n.text),
            FanOut::PerItem => "fanout per item".into(),
        },
        TaskItem::Gather { how, .. } => match how {
            Gather::All => "gather all".into(),
            Gather::Count(n) => format!("gather {}", n.text),
        },
        TaskItem::Priority { level, .. } => format!("priority {}", level.name),
        TaskItem::Needs { sensors, .. } => format!(
            "needs {}",
            sensors.iter().map(sensor).collect::<Vec<_>>().join(", ")
        ),
        TaskItem::Route {
            waypoints, looping, ..
        } => format!(
            "{} {}",
            if *looping { "patrol" } else { "route" },
            waypoints.iter().map(point).collect::<Vec<_>>().join(", ")
        ),
        TaskItem::Assign { count, rule, .. } => match rule.name.as_str() {
            "battery" => format!("assign {} by battery", count.text),
            other => format!("assign {} {other}", count.text),
        },
    }
}

fn sensor_prop(x: &SensorProp) -> String {
    match x {
        SensorProp::Rate { value, .. }
        | SensorProp::Every { value, .. }
        | SensorProp::Size { value, .. } => format!("{} {}", x.keyword(), q(value)),
    }
}

fn percentile(p: &Option<Percentile>) -> String {
    p.as_ref()
        .map(|p| format!(" p{}", p.number.text))
        .unwrap_or_default()
}

fn requirement(r: &Requirement) -> String {
    match r {
        Requirement::Latency {
            from,
            to,
            percentile: p,
            cmp,
            bound,
        } => {
            format!(
                "require latency({} -> {}){} {} {}",
                from.name,
                to.name,
                percentile(p),
                cmp.as_str(),
                q(bound)
            )
        }
        Requirement::ExecTime {
            task,
            percentile: p,
            cmp,
            bound,
        } => {
            let t = task
                .as_ref()
                .map(|t| format!("({})", t.name))
                .unwrap_or_default();
            format!(
                "require exec_time{t}{} {} {}",
                percentile(p),
                cmp.as_str(),
                q(bound)
            )
        }
        Requirement::CloudCost { cmp, dollars, per } => format!(
            "require cloud_cost {} ${} per {}",
            cmp.as_str(),
            dollars.number.text,
            per.name
        ),
        Requirement::Battery { fleet, cmp, bound } => {
            let f = fleet
                .as_ref()
                .map(|f| format!("({})", f.name))
                .unwrap_or_default();
            format!("require battery{f} {} {}", cmp.as_str(), q(bound))
        }
    }
}

fn action(a: &Action) -> String {
    match a {
        Action::Repartition { area, .. } => match area {
            Some(a) => format!("repartition {}", a.name),
            None => "repartition".into(),
        },
        Action::Retry { times, backoff, .. } => match backoff {
            Some(b) => format!("retry {} backoff {}", times.text, q(b)),
            None => format!("retry {}", times.text),
        },
        other => other.keyword().into(),
    }
}

fn decl(p: &mut Printer, d: &Decl, level: usize) {
    match d {
        Decl::Duration(x) => p.line(level, &format!("duration {}", q(&x.value)), x.span),
        Decl::Area(a) => {
            let shape = match &a.shape {
                Shape::Rect { corners, .. } => format!(
                    "rect({})",
                    corners.iter().map(q).collect::<Vec<_>>().join(", ")
                ),
                Shape::Polygon { points, .. } => format!(
                    "polygon({})",
                    points.iter().map(point).collect::<Vec<_>>().join(", ")
                ),
            };
            p.line(level, &format!("area {} = {shape}", a.name.name), a.span);
        }
        Decl::Sensor(x) => {
            let items: Vec<_> = x.props.iter().map(|x| (sensor_prop(x), x.span())).collect();
            let header = format!("sensor {}", x.name.name);
            if p.has_comment_in(x.span) {
                p.block(level, &header, &items, x.span, false);
            } else {
                let body: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
                p.line(
                    level,
                    &format!("{header} {{ {} }}", body.join(", ")),
                    x.span,
                );
            }
        }
        Decl::Fleet(f) => {
            let items: Vec<_> = f.props.iter().map(|x| (prop(x, false), x.span())).collect();
            let header = format!("fleet {}: {} x {}", f.name.name, f.class.name, f.count.text);
            p.block(level, &header, &items, f.span, false);
        }
        Decl::Cloud(c) => {
            let items: Vec<_> = c.props.iter().map(|x| (prop(x, true), x.span())).collect();
            p.block(level, "cloud", &items, c.span, false);
        }
        Decl::Task(t) => {
            let mut header = format!("task {}", t.name.name);
            if let Some(params) = &t.params {
                let ps: Vec<_> = params.iter().map(|x| typed(&x.name, &x.ty)).collect();
                header.push_str(&format!("({})", ps.join(", ")));
            }
            if let Some(first) = t.pins.first() {
                header.push(' ');
                header.push_str(&pin(first));
            }
            match t.outputs.as_slice() {
                [] => {}
                [one] => header.push_str(&format!(" -> {}", typed(&one.name, &one.ty))),
                many => {
                    let os: Vec<_> = many.iter().map(|o| typed(&o.name, &o.ty)).collect();
                    header.push_str(&format!(" -> ({})", os.join(", ")));
                }
            }
            let mut items: Vec<(String, Span)> =
                t.pins.iter().skip(1).map(|x| (pin(x), x.span)).collect();
            items.extend(t.items.iter().map(|i| (item(i), i.span())));
            items.sort_by_key(|(_, s)| s.start);
            p.block(level, &header, &items, t.span, true);
        }
        Decl::Flow(f) => {
            let steps: Vec<_> = f
                .steps
                .iter()
                .map(|s| {
                    let names: Vec<_> = s.tasks.iter().map(|t| t.name.as_str()).collect();
                    if s.grouped {
                        format!("({})", names.join(", "))
                    } else {
                        names.join(", ")
                    }
                })
                .collect();
            p.line(level, &format!("flow {}", steps.join(" -> ")), f.span);
        }
        Decl::Require(r) => p.line(level, &requirement(&r.req), r.span),
        Decl::Minimize(m) => {
            let names: Vec<_> = m.objectives.iter().map(|o| o.name.as_str()).collect();
            p.line(level, &format!("minimize {}", names.join(" then ")), m.span);
        }
        Decl::Policy(pd) => {
            let arg = match pd.arg.as_ref().map(|a| &a.value) {
                Some(EventArg::FactorOfMedian(n)) => format!("({}x median)", n.text),
                Some(EventArg::Percentile(pc)) => format!("(p{})", pc.number.text),
                Some(EventArg::Quantity(x)) => format!("({})", q(x)),
                None => String::new(),
            };
            let items: Vec<_> = pd.actions.iter().map(|a| (action(a), a.span())).collect();
            p.block(
                level,
                &format!("on {}{arg}", pd.event.name),
                &items,
                pd.span,
                true,
            );
        }
        Decl::Learning(l) => match (&l.retrain, l.enabled) {
            (_, false) => p.line(level, "learning off", l.span),
            (None, true) => p.line(level, "learning on", l.span),
            (Some(rs), true) => {
                let items: Vec<_> = rs
                    .iter()
                    .map(|r| {
                        let mut line = format!("retrain {} every {}", r.task.name, q(&r.every));
                        if let Some(from) = &r.from {
                            line.push_str(&format!(" from {}", from.name));
                        }
                        if let Some(model) = &r.model {
                            line.push_str(&format!(" model {}", q(model)));
                        }
                        if let Some(work) = &r.work {
                            line.push_str(&format!(" work {} per sample", q(work)));
                        }
                        (line, r.span)
                    })
                    .collect();
                p.block(level, "learning on", &items, l.span, true);
            }
        },
    }
}

/// The AST as JSON with every `span` removed: two missions with equal
/// structure say the same thing, however they are laid out.
pub fn structure(m: &Mission) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
    strip(&mut v);
    v
}
