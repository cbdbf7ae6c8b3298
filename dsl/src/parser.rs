//! Text → [`Mission`] AST. Syntax errors become one [`Diagnostic`] with a
//! human description of what was expected; semantic checks live in
//! [`crate::check`].

use crate::diagnostic::{floor_char_boundary, Code, Diagnostic};
use crate::lexical;
use crate::suggest;
use crate::syntax::*;
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct MissionParser;

/// Missions larger than this are refused before parsing (a 10,000-task
/// mission is about 1 MiB). The limit is where the checking budget holds:
/// any file within it is checked in under 10 s and 1 GB (measured, release
/// build: 8 MiB of valid tasks — 140,000 of them — 3.1 s and 640 MB; 8 MiB
/// of misspelt names and units, 4.8 s and 780 MB; at 16 MiB the same files
/// took 7.2 s / 1.24 GB and 10.9 s / 1.5 GB).
pub const MAX_SOURCE_BYTES: usize = 8 << 20;
/// Deepest bracket nesting accepted; real missions use 3.
pub const MAX_NESTING: usize = 64;

pub fn parse(src: &str) -> Result<Mission, Diagnostic> {
    if src.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            Code::Syntax,
            format!(
                "mission is {} bytes; the limit is {MAX_SOURCE_BYTES} bytes",
                src.len()
            ),
        )
        .label(Span::new(0, 0), "file starts here"));
    }
    check_nesting(src)?;
    let mut pairs = MissionParser::parse(Rule::file, src).map_err(|e| syntax_error(src, e))?;
    let file = pairs
        .next()
        .ok_or_else(|| Diagnostic::error(Code::Syntax, "empty parse"))?;
    let mission = file
        .into_inner()
        .find(|p| p.as_rule() == Rule::mission)
        .ok_or_else(|| Diagnostic::error(Code::Syntax, "expected `mission`"))?;
    Ok(build_mission(mission))
}

/// At most this many syntax errors are reported for one file.
pub const MAX_SYNTAX_ERRORS: usize = 20;

/// [`parse`], reporting every syntax error rather than the first: after
/// each one, parsing resumes after the mission-level statement holding it,
/// on the rest of the file alone (under a stand-in `mission` header, with
/// positions shifted back), so each error costs a parse of what follows it,
/// not of the whole file again. Stops at an error outside any statement, at
/// one that does not move past the previous, or after [`MAX_SYNTAX_ERRORS`].
pub fn parse_all(src: &str) -> Result<Mission, Vec<Diagnostic>> {
    /// Opens the body the rest of the file is parsed in; it ends in a
    /// newline, so the rest starts a line at bracket depth 1.
    const RESUME: &str = "mission _ {\n";
    let mut errors: Vec<Diagnostic> = Vec::new();
    // The text being parsed, and what to add to its positions to get the
    // source's (the text is `src` itself, or `RESUME` + a suffix of it).
    let mut text = std::borrow::Cow::Borrowed(src);
    let mut shift = 0usize;
    loop {
        let mut err = match parse(&text) {
            Ok(m) if errors.is_empty() => return Ok(m),
            Ok(_) => return Err(errors),
            Err(d) => d,
        };
        let at = err.labels.first().map(|l| l.span.start);
        if shift > 0 {
            // An error about the stand-in header (an unclosed brace of it)
            // is not the user's; the first full parse reported the real one.
            if err.labels.iter().any(|l| l.span.start < RESUME.len()) {
                return Err(errors);
            }
            for l in &mut err.labels {
                l.span = Span::new(l.span.start + shift, l.span.end + shift);
            }
        }
        errors.push(err);
        let Some(range) = at.and_then(|p| statement_around(&text, p)) else {
            return Err(errors);
        };
        if errors.len() >= MAX_SYNTAX_ERRORS || range.end >= text.len() {
            return Err(errors);
        }
        // Resume at the line after the statement (a line boundary of `src`).
        let resume_in_src = range.end + shift;
        if resume_in_src < RESUME.len() {
            return Err(errors);
        }
        text = std::borrow::Cow::Owned(format!("{RESUME}{}", &src[resume_in_src..]));
        shift = resume_in_src - RESUME.len();
    }
}

/// The whole lines of the mission-level statement that holds byte `pos`:
/// from the line where it starts (the nearest line beginning at bracket
/// depth 1) to the line before the next statement, which is the next line
/// indented less, or as much and not closing a bracket (as the formatter
/// lays missions out; brackets alone would run past an unclosed `(` to the
/// end of the file). `None` outside the mission's body.
fn statement_around(src: &str, pos: usize) -> Option<std::ops::Range<usize>> {
    let bytes = src.as_bytes();
    let pos = pos.min(bytes.len());
    // Bracket depth at the start of each line (code only).
    let mut depth_at = std::collections::BTreeMap::new();
    let mut d = 0i64;
    depth_at.insert(0, 0);
    for (i, b, region) in lexical::regions(src) {
        match (b, region) {
            (b'\n', _) => {
                depth_at.insert(i + 1, d);
            }
            (b'{' | b'(' | b'[', lexical::Region::Code) => d += 1,
            (b'}' | b')' | b']', lexical::Region::Code) => d -= 1,
            _ => {}
        }
    }
    let line_start = |i: usize| {
        bytes[..i]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1)
    };
    let depth = |line: usize| depth_at.get(&line).copied().unwrap_or(0);
    let mut start = line_start(pos);
    while depth(start) > 1 && start > 0 {
        start = line_start(start - 1);
    }
    if depth(start) != 1 {
        return None;
    }
    let indent = |line: usize| {
        bytes[line..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    };
    let own = indent(start);
    let mut end = bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| start + n);
    while end < bytes.len() {
        let next = end + 1;
        let first = bytes.get(next + indent(next)).copied();
        let blank = matches!(first, None | Some(b'\n' | b'\r'))
            || bytes[next + indent(next)..].starts_with(b"//");
        let closes = matches!(first, Some(b'}' | b')' | b']'));
        if !blank && (indent(next) < own || (indent(next) == own && !closes)) {
            break;
        }
        end = bytes[next..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| next + n);
    }
    (end >= pos && start < end).then_some(start..end)
}

/// Bounds recursion in the parser and the AST builder on hostile input.
///
/// Counts `{`, `(` and the `<` of a list type (`list<…>`, the only rule of
/// the grammar that recurses into itself). A `<` anywhere else is a
/// comparison (`require exec_time(t) < 1 s`) and a `>` that closes no list
/// is a comparison or part of `->`: counting those rejected valid missions
/// with many requirements.
fn check_nesting(src: &str) -> Result<(), Diagnostic> {
    let mut open: Vec<u8> = Vec::new();
    // The last word before the current byte when nothing but whitespace
    // (or comments, which `code` skips) came after it; empty otherwise.
    let mut word = 0..0;
    let mut word_ended = false;
    for (i, b) in lexical::code(src) {
        let after_list = &src.as_bytes()[word.clone()] == b"list";
        if b.is_ascii_alphanumeric() || b == b'_' {
            if word_ended || word.end != i {
                word = i..i;
            }
            word.end = i + 1;
            word_ended = false;
            continue;
        }
        if b.is_ascii_whitespace() {
            word_ended = !word.is_empty();
            continue;
        }
        word = 0..0;
        word_ended = false;
        match b {
            b'{' | b'(' => open.push(b),
            b'<' if after_list => open.push(b),
            b'>' if open.last() == Some(&b'<') => {
                open.pop();
            }
            b'}' | b')' => {
                // An unclosed `list<` ends with the bracket around it.
                while open.last() == Some(&b'<') {
                    open.pop();
                }
                open.pop();
            }
            _ => {}
        }
        if open.len() > MAX_NESTING {
            return Err(Diagnostic::error(
                Code::Syntax,
                format!("brackets nested more than {MAX_NESTING} deep"),
            )
            .label(Span::new(i, i + 1), "too deep here"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- errors

fn rule_description(rule: Rule) -> Option<String> {
    let name = format!("{rule:?}");
    if let Some(kw) = name.strip_prefix("k_") {
        return Some(format!("`{kw}`"));
    }
    let text = match rule {
        Rule::EOI => "end of file",
        Rule::ident => "a name",
        Rule::int => "a whole number",
        Rule::number => "a number",
        Rule::quantity => "a quantity (number and unit)",
        Rule::money => "an amount like `$2`",
        Rule::rate_unit => "a rate unit like `hour` or `GB-s`",
        Rule::resolution => "a resolution like `640x360`",
        Rule::factor => "a factor like `2x`",
        Rule::percentile => "a percentile like `p99`",
        Rule::cmp => "a comparison (`<`, `<=`, `>`, `>=`)",
        Rule::string => "a quoted string",
        Rule::unit => "a unit",
        Rule::point => "a point like `(10 m, 20 m)`",
        Rule::data_type | Rule::image_type | Rule::list_type | Rule::blob_type => {
            "a data type (like `image 640x360` or `boxes 4 KB`)"
        }
        Rule::channels => "a channel layout (`gray`, `rgb`, `rgba`, `depth`)",
        Rule::params => "`(`",
        Rule::outputs => "`->`",
        Rule::pin => "`on <fleet>` or `at cloud`/`at edge`",
        Rule::sensor => "a sensor",
        Rule::flow_step => "a task or `(task, task)`",
        Rule::event_arg => "a threshold",
        Rule::output | Rule::param => "a name",
        _ => return None,
    };
    Some(text.to_string())
}

fn syntax_error(src: &str, err: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let mut pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<String> = Vec::new();
    let mut keywords: Vec<&'static str> = Vec::new();
    // The plain error stops at the start of the failing rule; the detailed
    // attempts (collected only on this slow path) know the furthest point
    // reached and the literal tokens expected there, such as a missing `,`.
    if let Some(attempts) = detailed_error(src).and_then(|e| e.parse_attempts()) {
        if attempts.max_position >= pos {
            pos = attempts.max_position;
            for stack in attempts.call_stacks() {
                if let Some(r) = stack.deepest.get_rule().filter(|r| is_token_rule(**r)) {
                    note_rule(*r, &mut expected, &mut keywords);
                }
            }
            for t in attempts.expected_tokens() {
                let text = t.to_string();
                // `;` is always optional and whitespace/comments are trivia.
                if text.trim().is_empty()
                    || text == "//"
                    || text == ";"
                    || text.starts_with('\u{feff}')
                {
                    continue;
                }
                if let Some(&(_, kw)) = KEYWORDS.iter().find(|(_, w)| *w == text) {
                    keywords.push(kw);
                }
                let shown = format!("`{text}`");
                if !expected.contains(&shown) {
                    expected.push(shown);
                }
            }
        }
    }
    if expected.is_empty() {
        if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
            for r in positives {
                note_rule(*r, &mut expected, &mut keywords);
            }
        }
    }
    let pos = floor_char_boundary(src, pos.min(src.len()));
    if let Some(d) = non_ascii_name(src, pos) {
        return d;
    }
    let (found, found_span) = token_at(src, pos);
    let expected_text = join_alternatives(&expected);

    if found_span.is_empty() {
        if let Some(open) = unclosed_bracket(src) {
            let ch = &src[open..open + 1];
            return Diagnostic::error(Code::UnclosedBlock, format!("`{ch}` is never closed"))
                .label(
                    Span::new(open, open + 1),
                    "opened here; the file ends before its match",
                )
                .help(format!(
                    "add the matching `{}`",
                    if ch == "{" { "}" } else { ")" }
                ));
        }
    }
    let is_word = found
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    if is_word && !keywords.is_empty() {
        let hint = suggest::did_you_mean(&found, keywords.iter().copied());
        return Diagnostic::error(
            Code::UnknownKeyword,
            format!("unexpected word `{found}`; expected {expected_text}"),
        )
        .label(found_span, "not understood here")
        .maybe_help(hint);
    }
    let found_text = if found_span.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{found}`")
    };
    Diagnostic::error(
        Code::Syntax,
        format!("expected {expected_text}, found {found_text}"),
    )
    .label(found_span, format!("expected {expected_text}"))
}

fn note_rule(r: Rule, expected: &mut Vec<String>, keywords: &mut Vec<&'static str>) {
    if let Some(d) = rule_description(r) {
        if !expected.contains(&d) {
            expected.push(d);
        }
    }
    if let Some(kw) = keyword_text(r) {
        keywords.push(kw);
    }
}

/// Re-parse with pest's detailed error tracking switched on.
fn detailed_error(src: &str) -> Option<pest::error::Error<Rule>> {
    pest::set_error_detail(true);
    let result = MissionParser::parse(Rule::file, src);
    pest::set_error_detail(false);
    result.err()
}

/// Rules that stand for one token (as opposed to a construct), worth naming
/// in "expected …" lists.
fn is_token_rule(rule: Rule) -> bool {
    keyword_text(rule).is_some()
        || matches!(
            rule,
            Rule::EOI
                | Rule::ident
                | Rule::int
                | Rule::number
                | Rule::quantity
                | Rule::money
                | Rule::rate_unit
                | Rule::resolution
                | Rule::factor
                | Rule::percentile
                | Rule::cmp
                | Rule::string
                | Rule::unit
                | Rule::point
                | Rule::data_type
                | Rule::channels
                | Rule::pin
                | Rule::sensor
                | Rule::flow_step
        )
}

fn keyword_text(rule: Rule) -> Option<&'static str> {
    // Keyword rules are named `k_<word>`; the grammar is the source of the words.
    KEYWORDS.iter().find(|(r, _)| *r == rule).map(|(_, w)| *w)
}

macro_rules! keyword_table {
    ($($rule:ident => $word:literal),* $(,)?) => {
        const KEYWORDS: &[(Rule, &str)] = &[$((Rule::$rule, $word)),*];
    };
}
keyword_table! {
    k_mission => "mission", k_area => "area", k_rect => "rect", k_polygon => "polygon",
    k_fleet => "fleet", k_x => "x", k_cloud => "cloud", k_servers => "servers", k_cores => "cores",
    k_each => "each", k_memory => "memory", k_price => "price", k_per => "per", k_fpga => "fpga",
    k_cold_start => "cold_start", k_cpu => "cpu", k_battery => "battery", k_radio => "radio",
    k_range => "range", k_speed => "speed", k_power => "power", k_sensors => "sensors",
    k_home => "home", k_task => "task", k_on => "on", k_at => "at", k_work => "work",
    k_item => "item", k_fn => "fn", k_every => "every", k_once => "once", k_cover => "cover",
    k_lane => "lane", k_goto => "goto", k_return => "return", k_land => "land",
    k_fanout => "fanout", k_gather => "gather", k_all => "all", k_priority => "priority",
    k_needs => "needs", k_out => "out", k_image => "image", k_list => "list", k_flow => "flow",
    k_require => "require", k_latency => "latency", k_exec_time => "exec_time",
    k_cloud_cost => "cloud_cost", k_minimize => "minimize", k_then => "then",
    k_median => "median", k_repartition => "repartition", k_reassign => "reassign",
    k_relaunch => "relaunch", k_retry => "retry", k_backoff => "backoff", k_abort => "abort",
    k_learning => "learning", k_retrain => "retrain", k_off => "off", k_duration => "duration",
    k_sensor => "sensor", k_rate => "rate", k_size => "size", k_route => "route",
    k_patrol => "patrol", k_assign => "assign", k_by => "by", k_shared => "shared",
    k_from => "from", k_model => "model", k_sample => "sample",
}

fn join_alternatives(items: &[String]) -> String {
    match items {
        [] => "something else".into(),
        [one] => one.clone(),
        _ if items.len() > 8 => format!("{}, … ({} choices)", items[..8].join(", "), items.len()),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Names are ASCII (they become function names, topics and file names in
/// later stages, and look-alike letters would make look-alike names
/// differ): a parse stopped by a non-ASCII letter inside or at the start
/// of a word gets that said plainly, with an ASCII spelling when the
/// letters are accented Latin ones.
fn non_ascii_name(src: &str, pos: usize) -> Option<Diagnostic> {
    let c = src[pos..].chars().next()?;
    if c.is_ascii() || !c.is_alphabetic() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start = src[..pos]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(pos, |(i, _)| i);
    let end = src[pos..]
        .find(|c: char| !is_word(c))
        .map_or(src.len(), |n| pos + n);
    let word = &src[start..end];
    let ascii: Option<String> = word.chars().map(ascii_spelling).collect();
    let help = match ascii {
        Some(a) if a.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
            format!("write `{a}`")
        }
        _ => "spell the name in ASCII; comments (`// …`) and quoted strings may hold any text"
            .to_string(),
    };
    Some(
        Diagnostic::error(
            Code::NonAsciiName,
            format!(
                "`{}` is not a valid name: names are ASCII letters, digits and `_`, starting with a letter or `_`",
                word.chars().take(40).collect::<String>()
            ),
        )
        .label(
            Span::new(pos, pos + c.len_utf8()),
            format!("`{c}` is not an ASCII letter"),
        )
        .help(help),
    )
}

/// The ASCII spelling of a letter: itself, or an accented Latin letter
/// without its accent; `None` for other scripts.
fn ascii_spelling(c: char) -> Option<String> {
    if c.is_ascii() {
        return Some(c.to_string());
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let base = match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ı' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    };
    Some(if c.is_uppercase() {
        base.to_uppercase()
    } else {
        base.to_string()
    })
}

/// The word or character at `pos`, and its span.
fn token_at(src: &str, pos: usize) -> (String, Span) {
    let rest = &src[pos..];
    let Some(first) = rest.chars().next() else {
        return (String::new(), Span::new(pos, pos));
    };
    let len = if first.is_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    let text: String = rest[..len].chars().take(40).collect();
    (text, Span::new(pos, pos + len))
}

/// The innermost `{` or `(` left open at end of input, ignoring comments and strings.
fn unclosed_bracket(src: &str) -> Option<usize> {
    let mut stack = Vec::new();
    for (i, b) in lexical::code(src) {
        match b {
            b'{' | b'(' => stack.push(i),
            b'}' | b')' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop()
}

// ---------------------------------------------------------------- building

/// The pair's span without trailing whitespace and comments: pest includes
/// the trivia it skipped while trying an optional element that was absent.
fn span_of(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    Span::new(
        s.start(),
        s.start() + without_trailing_trivia(p.as_str()).len(),
    )
}

fn without_trailing_trivia(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_end();
        let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        match comment_start(&trimmed[line_start..]) {
            Some(i) => text = &trimmed[..line_start + i],
            None => return trimmed,
        }
    }
}

/// Byte offset of a `//` comment in one line, ignoring `//` inside strings.
fn comment_start(line: &str) -> Option<usize> {
    lexical::comments(line).first().map(|c| c.start)
}

fn ident(p: Pair<Rule>) -> Ident {
    Ident {
        name: p.as_str().to_string(),
        span: span_of(&p),
    }
}

fn int(p: Pair<Rule>) -> Int {
    Int {
        text: p.as_str().to_string(),
        span: span_of(&p),
    }
}

fn number(p: Pair<Rule>) -> Number {
    Number {
        text: p.as_str().to_string(),
        span: span_of(&p),
    }
}

fn quantity(p: Pair<Rule>) -> Quantity {
    let span = span_of(&p);
    let mut num = None;
    let mut unit = None;
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::number => num = Some(number(c)),
            Rule::unit => unit = Some(ident(c)),
            _ => {}
        }
    }
    Quantity {
        number: num.unwrap_or(Number {
            text: "0".into(),
            span,
        }),
        unit,
        span,
    }
}

fn money(p: Pair<Rule>) -> Money {
    let span = span_of(&p);
    let n = p
        .into_inner()
        .find(|c| c.as_rule() == Rule::number)
        .map(number);
    Money {
        number: n.unwrap_or(Number {
            text: "0".into(),
            span,
        }),
        span,
    }
}

fn resolution(p: Pair<Rule>) -> Resolution {
    let span = span_of(&p);
    let mut ints = p.into_inner().filter(|c| c.as_rule() == Rule::int).map(int);
    let width = ints.next().unwrap_or(Int {
        text: "0".into(),
        span,
    });
    let height = ints.next().unwrap_or(Int {
        text: "0".into(),
        span,
    });
    Resolution {
        width,
        height,
        span,
    }
}

fn point(p: Pair<Rule>) -> Point {
    let span = span_of(&p);
    let mut qs = p
        .into_inner()
        .filter(|c| c.as_rule() == Rule::quantity)
        .map(quantity);
    let x = qs.next();
    let y = qs.next();
    let zero = || Quantity {
        number: Number {
            text: "0".into(),
            span,
        },
        unit: None,
        span,
    };
    Point {
        x: x.unwrap_or_else(zero),
        y: y.unwrap_or_else(zero),
        span,
    }
}

fn percentile(p: Pair<Rule>) -> Percentile {
    let span = span_of(&p);
    let n = p
        .into_inner()
        .find(|c| c.as_rule() == Rule::number)
        .map(number);
    Percentile {
        number: n.unwrap_or(Number {
            text: "0".into(),
            span,
        }),
        span,
    }
}

fn cmp(p: Pair<Rule>) -> Cmp {
    match p.as_str() {
        "<=" => Cmp::Le,
        ">=" => Cmp::Ge,
        ">" => Cmp::Gt,
        _ => Cmp::Lt,
    }
}

fn first_of<'i>(p: &Pair<'i, Rule>, rule: Rule) -> Option<Pair<'i, Rule>> {
    p.clone().into_inner().find(|c| c.as_rule() == rule)
}

fn has(p: &Pair<Rule>, rule: Rule) -> bool {
    first_of(p, rule).is_some()
}

fn build_mission(p: Pair<Rule>) -> Mission {
    let span = span_of(&p);
    let mut name = Ident {
        name: String::new(),
        span,
    };
    let mut decls = Vec::new();
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::ident => name = ident(c),
            Rule::duration_decl => {
                let span = span_of(&c);
                if let Some(q) = first_of(&c, Rule::quantity) {
                    decls.push(Decl::Duration(DurationDecl {
                        value: quantity(q),
                        span,
                    }));
                }
            }
            Rule::area_decl => decls.push(Decl::Area(build_area(c))),
            Rule::sensor_decl => decls.push(Decl::Sensor(build_sensor_decl(c))),
            Rule::fleet_decl => decls.push(Decl::Fleet(build_fleet(c))),
            Rule::cloud_decl => {
                let span = span_of(&c);
                let props = c.into_inner().filter_map(build_prop).collect();
                decls.push(Decl::Cloud(CloudDecl { props, span }));
            }
            Rule::task_decl => decls.push(Decl::Task(build_task(c))),
            Rule::flow_decl => decls.push(Decl::Flow(build_flow(c))),
            Rule::require_decl => decls.push(Decl::Require(build_require(c))),
            Rule::minimize_decl => {
                let span = span_of(&c);
                let objectives = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::ident)
                    .map(ident)
                    .collect();
                decls.push(Decl::Minimize(MinimizeDecl { objectives, span }));
            }
            Rule::policy_decl => decls.push(Decl::Policy(build_policy(c))),
            Rule::learning_decl => decls.push(Decl::Learning(build_learning(c))),
            _ => {}
        }
    }
    Mission { name, decls, span }
}

fn build_sensor_decl(p: Pair<Rule>) -> SensorDecl {
    let span = span_of(&p);
    let mut name = Ident {
        name: String::new(),
        span,
    };
    let mut props = Vec::new();
    for c in p.into_inner() {
        let s = span_of(&c);
        let rule = c.as_rule();
        if rule == Rule::ident {
            name = ident(c);
            continue;
        }
        let Some(value) = first_of(&c, Rule::quantity).map(quantity) else {
            continue;
        };
        props.push(match rule {
            Rule::rate_prop => SensorProp::Rate { value, span: s },
            Rule::size_prop => SensorProp::Size { value, span: s },
            Rule::sensor_every => SensorProp::Every { value, span: s },
            _ => continue,
        });
    }
    SensorDecl { name, props, span }
}

fn build_area(p: Pair<Rule>) -> AreaDecl {
    let span = span_of(&p);
    let mut name = Ident {
        name: String::new(),
        span,
    };
    let mut shape = Shape::Polygon {
        points: Vec::new(),
        span,
    };
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::ident => name = ident(c),
            Rule::rect => {
                let s = span_of(&c);
                let qs: Vec<Quantity> = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::quantity)
                    .map(quantity)
                    .collect();
                if let Ok(corners) = <[Quantity; 4]>::try_from(qs) {
                    shape = Shape::Rect {
                        corners: Box::new(corners),
                        span: s,
                    };
                }
            }
            Rule::polygon => {
                let s = span_of(&c);
                let points = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::point)
                    .map(point)
                    .collect();
                shape = Shape::Polygon { points, span: s };
            }
            _ => {}
        }
    }
    AreaDecl { name, shape, span }
}

fn build_fleet(p: Pair<Rule>) -> FleetDecl {
    let span = span_of(&p);
    let mut idents = Vec::new();
    let mut count = Int {
        text: "0".into(),
        span,
    };
    let mut props = Vec::new();
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::ident => idents.push(ident(c)),
            Rule::int => count = int(c),
            _ => props.extend(build_prop(c)),
        }
    }
    let mut idents = idents.into_iter();
    let blank = Ident {
        name: String::new(),
        span,
    };
    let name = idents.next().unwrap_or_else(|| blank.clone());
    let class = idents.next().unwrap_or(blank);
    FleetDecl {
        name,
        class,
        count,
        props,
        span,
    }
}

fn sensor(p: Pair<Rule>) -> Sensor {
    let span = span_of(&p);
    let name = first_of(&p, Rule::ident).map(ident).unwrap_or(Ident {
        name: String::new(),
        span,
    });
    let resolution = first_of(&p, Rule::resolution).map(resolution);
    Sensor {
        name,
        resolution,
        span,
    }
}

fn build_prop(p: Pair<Rule>) -> Option<DeviceProp> {
    let span = span_of(&p);
    let rule = p.as_rule();
    let q = first_of(&p, Rule::quantity).map(quantity);
    let qs = || {
        p.clone()
            .into_inner()
            .filter(|x| x.as_rule() == Rule::quantity)
            .map(quantity)
            .collect::<Vec<_>>()
    };
    let i = first_of(&p, Rule::int).map(int);
    let prop = match rule {
        Rule::cpu_prop => DeviceProp::Cpu {
            clock: q?,
            cores: i,
            span,
        },
        Rule::battery_prop => {
            let mut v = qs().into_iter();
            DeviceProp::Battery {
                capacity: v.next()?,
                voltage: v.next(),
                span,
            }
        }
        Rule::radio_prop => {
            let mut v = qs().into_iter();
            DeviceProp::Radio {
                bandwidth: v.next()?,
                range: v.next(),
                shared: has(&p, Rule::k_shared),
                span,
            }
        }
        Rule::speed_prop => DeviceProp::Speed { value: q?, span },
        Rule::power_prop => DeviceProp::Power { value: q?, span },
        Rule::memory_prop => DeviceProp::Memory { value: q?, span },
        Rule::sensors_prop => {
            let sensors = p
                .into_inner()
                .filter(|x| x.as_rule() == Rule::sensor)
                .map(sensor)
                .collect();
            DeviceProp::Sensors { sensors, span }
        }
        Rule::home_prop => DeviceProp::Home {
            point: point(first_of(&p, Rule::point)?),
            span,
        },
        Rule::servers_prop => DeviceProp::Servers { count: i?, span },
        Rule::cores_prop => DeviceProp::Cores { count: i?, span },
        Rule::price_prop => DeviceProp::Price {
            dollars: money(first_of(&p, Rule::money)?),
            per: ident(first_of(&p, Rule::rate_unit)?),
            span,
        },
        Rule::fpga_prop => DeviceProp::Fpga { boards: i, span },
        Rule::cold_start_prop => DeviceProp::ColdStart { value: q?, span },
        _ => return None,
    };
    Some(prop)
}

fn data_type(p: Pair<Rule>) -> Option<DataType> {
    let inner = p.into_inner().next()?;
    let span = span_of(&inner);
    Some(match inner.as_rule() {
        Rule::image_type => DataType::Image {
            resolution: resolution(first_of(&inner, Rule::resolution)?),
            channels: first_of(&inner, Rule::channels).map(ident),
            span,
        },
        Rule::list_type => DataType::List {
            element: Box::new(data_type(first_of(&inner, Rule::data_type)?)?),
            max_items: int(first_of(&inner, Rule::int)?),
            span,
        },
        Rule::blob_type => DataType::Blob {
            kind: ident(first_of(&inner, Rule::ident)?),
            size: first_of(&inner, Rule::quantity).map(quantity),
            span,
        },
        _ => return None,
    })
}

fn named_typed(p: Pair<Rule>) -> (Ident, Option<DataType>, Span) {
    let span = span_of(&p);
    let name = first_of(&p, Rule::ident).map(ident).unwrap_or(Ident {
        name: String::new(),
        span,
    });
    let ty = first_of(&p, Rule::data_type).and_then(data_type);
    (name, ty, span)
}

fn output(p: Pair<Rule>) -> Output {
    let (name, ty, span) = named_typed(p);
    Output { name, ty, span }
}

fn pin(p: Pair<Rule>) -> Pin {
    let span = span_of(&p);
    let kind = if has(&p, Rule::k_on) {
        PinKind::On
    } else {
        PinKind::At
    };
    let target = first_of(&p, Rule::ident).map(ident).unwrap_or(Ident {
        name: String::new(),
        span,
    });
    Pin { kind, target, span }
}

fn build_task(p: Pair<Rule>) -> TaskDecl {
    let span = span_of(&p);
    let mut task = TaskDecl {
        name: Ident {
            name: String::new(),
            span,
        },
        params: None,
        pins: Vec::new(),
        outputs: Vec::new(),
        items: Vec::new(),
        span,
    };
    for c in p.into_inner() {
        let s = span_of(&c);
        match c.as_rule() {
            Rule::ident => task.name = ident(c),
            Rule::params => {
                let params = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::param)
                    .map(|x| {
                        let (name, ty, span) = named_typed(x);
                        Param { name, ty, span }
                    })
                    .collect();
                task.params = Some(params);
            }
            Rule::outputs => task.outputs.extend(
                c.into_inner()
                    .filter(|x| x.as_rule() == Rule::output)
                    .map(output),
            ),
            Rule::pin => task.pins.push(pin(c)),
            Rule::out_item => task.outputs.extend(first_of(&c, Rule::output).map(output)),
            Rule::work_item => {
                if let Some(q) = first_of(&c, Rule::quantity) {
                    let per_item = has(&c, Rule::k_per);
                    task.items.push(TaskItem::Work {
                        amount: quantity(q),
                        per_item,
                        span: s,
                    });
                }
            }
            Rule::fn_item => {
                let target = if let Some(i) = first_of(&c, Rule::ident) {
                    FnRef::Name(ident(i))
                } else if let Some(st) = first_of(&c, Rule::string) {
                    let text = st.as_str();
                    FnRef::Quoted {
                        text: text[1..text.len() - 1].to_string(),
                        span: span_of(&st),
                    }
                } else {
                    continue;
                };
                task.items.push(TaskItem::Fn { target, span: s });
            }
            Rule::every_item => {
                if let Some(q) = first_of(&c, Rule::quantity) {
                    task.items.push(TaskItem::Every {
                        period: quantity(q),
                        span: s,
                    });
                }
            }
            Rule::once_item => task.items.push(TaskItem::Once { span: s }),
            Rule::cover_item => {
                if let Some(i) = first_of(&c, Rule::ident) {
                    task.items.push(TaskItem::Cover {
                        area: ident(i),
                        span: s,
                    });
                }
            }
            Rule::lane_item => {
                if let Some(q) = first_of(&c, Rule::quantity) {
                    task.items.push(TaskItem::Lane {
                        width: quantity(q),
                        span: s,
                    });
                }
            }
            Rule::goto_item => {
                let target = if let Some(pt) = first_of(&c, Rule::point) {
                    GotoTarget::Point(point(pt))
                } else if let Some(i) = first_of(&c, Rule::ident) {
                    GotoTarget::Area(ident(i))
                } else {
                    continue;
                };
                task.items.push(TaskItem::Goto { target, span: s });
            }
            Rule::return_item => task.items.push(TaskItem::Return { span: s }),
            Rule::land_item => task.items.push(TaskItem::Land { span: s }),
            Rule::fanout_item => {
                let how = match first_of(&c, Rule::int) {
                    Some(i) => FanOut::Count(int(i)),
                    None => FanOut::PerItem,
                };
                task.items.push(TaskItem::FanOut { how, span: s });
            }
            Rule::gather_item => {
                let how = match first_of(&c, Rule::int) {
                    Some(i) => Gather::Count(int(i)),
                    None => Gather::All,
                };
                task.items.push(TaskItem::Gather { how, span: s });
            }
            Rule::priority_item => {
                if let Some(i) = first_of(&c, Rule::ident) {
                    task.items.push(TaskItem::Priority {
                        level: ident(i),
                        span: s,
                    });
                }
            }
            Rule::route_item | Rule::patrol_item => {
                let looping = c.as_rule() == Rule::patrol_item;
                let waypoints = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::point)
                    .map(point)
                    .collect();
                task.items.push(TaskItem::Route {
                    waypoints,
                    looping,
                    span: s,
                });
            }
            Rule::assign_item => {
                let rule = first_of(&c, Rule::ident)
                    .or_else(|| first_of(&c, Rule::k_battery))
                    .map(ident);
                if let (Some(n), Some(rule)) = (first_of(&c, Rule::int), rule) {
                    task.items.push(TaskItem::Assign {
                        count: int(n),
                        rule,
                        span: s,
                    });
                }
            }
            Rule::needs_item => {
                let sensors = c
                    .into_inner()
                    .filter(|x| x.as_rule() == Rule::sensor)
                    .map(sensor)
                    .collect();
                task.items.push(TaskItem::Needs { sensors, span: s });
            }
            _ => {}
        }
    }
    task
}

fn build_flow(p: Pair<Rule>) -> FlowDecl {
    let span = span_of(&p);
    let steps = p
        .into_inner()
        .filter(|x| x.as_rule() == Rule::flow_step)
        .map(|s| {
            let sp = span_of(&s);
            let grouped = s.as_str().starts_with('(');
            let tasks = s
                .into_inner()
                .filter(|x| x.as_rule() == Rule::ident)
                .map(ident)
                .collect();
            FlowStep {
                tasks,
                grouped,
                span: sp,
            }
        })
        .collect();
    FlowDecl { steps, span }
}

fn build_require(p: Pair<Rule>) -> RequireDecl {
    let span = span_of(&p);
    let fallback = Requirement::CloudCost {
        cmp: Cmp::Lt,
        dollars: Money {
            number: Number {
                text: "0".into(),
                span,
            },
            span,
        },
        per: Ident {
            name: "hour".into(),
            span,
        },
    };
    let Some(r) = p.into_inner().find(|x| x.as_rule() != Rule::k_require) else {
        return RequireDecl {
            req: fallback,
            span,
        };
    };
    let idents: Vec<Ident> = r
        .clone()
        .into_inner()
        .filter(|x| x.as_rule() == Rule::ident)
        .map(ident)
        .collect();
    let c = first_of(&r, Rule::cmp).map(cmp).unwrap_or(Cmp::Lt);
    let pct = first_of(&r, Rule::percentile).map(percentile);
    let bound = first_of(&r, Rule::quantity).map(quantity);
    let req = match (r.as_rule(), bound) {
        (Rule::latency_req, Some(bound)) if idents.len() == 2 => {
            let mut it = idents.into_iter();
            let from = it.next().unwrap_or_else(|| Ident {
                name: String::new(),
                span,
            });
            let to = it.next().unwrap_or_else(|| Ident {
                name: String::new(),
                span,
            });
            Requirement::Latency {
                from,
                to,
                percentile: pct,
                cmp: c,
                bound,
            }
        }
        (Rule::exec_req, Some(bound)) => Requirement::ExecTime {
            task: idents.into_iter().next(),
            percentile: pct,
            cmp: c,
            bound,
        },
        (Rule::battery_req, Some(bound)) => Requirement::Battery {
            fleet: idents.into_iter().next(),
            cmp: c,
            bound,
        },
        (Rule::cost_req, _) => match (first_of(&r, Rule::money), first_of(&r, Rule::rate_unit)) {
            (Some(m), Some(u)) => Requirement::CloudCost {
                cmp: c,
                dollars: money(m),
                per: ident(u),
            },
            _ => fallback,
        },
        _ => fallback,
    };
    RequireDecl { req, span }
}

fn build_policy(p: Pair<Rule>) -> PolicyDecl {
    let span = span_of(&p);
    let mut event = Ident {
        name: String::new(),
        span,
    };
    let mut arg = None;
    let mut actions = Vec::new();
    for c in p.into_inner() {
        let s = span_of(&c);
        match c.as_rule() {
            Rule::ident => event = ident(c),
            Rule::event_arg => {
                let a = if let Some(f) = first_of(&c, Rule::factor) {
                    first_of(&f, Rule::number).map(|n| EventArg::FactorOfMedian(number(n)))
                } else if let Some(pc) = first_of(&c, Rule::percentile) {
                    Some(EventArg::Percentile(percentile(pc)))
                } else {
                    first_of(&c, Rule::quantity).map(|q| EventArg::Quantity(quantity(q)))
                };
                arg = a.map(|value| EventArgument { value, span: s });
            }
            Rule::repartition_act => actions.push(Action::Repartition {
                area: first_of(&c, Rule::ident).map(ident),
                span: s,
            }),
            Rule::reassign_act => actions.push(Action::Reassign { span: s }),
            Rule::relaunch_act => actions.push(Action::Relaunch { span: s }),
            Rule::retry_act => {
                if let Some(times) = first_of(&c, Rule::int) {
                    actions.push(Action::Retry {
                        times: int(times),
                        backoff: first_of(&c, Rule::quantity).map(quantity),
                        span: s,
                    });
                }
            }
            Rule::abort_act => actions.push(Action::Abort { span: s }),
            Rule::return_act => actions.push(Action::Return { span: s }),
            Rule::land_act => actions.push(Action::Land { span: s }),
            _ => {}
        }
    }
    PolicyDecl {
        event,
        arg,
        actions,
        span,
    }
}

fn build_learning(p: Pair<Rule>) -> LearningDecl {
    let span = span_of(&p);
    let enabled = has(&p, Rule::k_on);
    let has_body = p.as_str().contains('{');
    let retrain: Vec<Retrain> = p
        .into_inner()
        .filter(|x| x.as_rule() == Rule::retrain_item)
        .filter_map(|r| {
            let s = span_of(&r);
            let part = |rule: Rule| r.clone().into_inner().find(|x| x.as_rule() == rule);
            Some(Retrain {
                task: ident(first_of(&r, Rule::ident)?),
                every: quantity(first_of(&r, Rule::quantity)?),
                from: part(Rule::retrain_from)
                    .and_then(|x| first_of(&x, Rule::ident))
                    .map(ident),
                model: part(Rule::retrain_model)
                    .and_then(|x| first_of(&x, Rule::quantity))
                    .map(quantity),
                work: part(Rule::retrain_work)
                    .and_then(|x| first_of(&x, Rule::quantity))
                    .map(quantity),
                span: s,
            })
        })
        .collect();
    LearningDecl {
        enabled,
        retrain: has_body.then_some(retrain),
        span,
    }
}
