//! Property tests: untrusted text never panics the compiler, and the
//! formatter's laws hold. Failing cases print their inputs (the seed and the
//! base file for mutations) so they can be replayed.

use hivemind_dsl::diagnostic::{render, Style};
use hivemind_dsl::{compile, format, parser};
use proptest::prelude::*;
use std::path::Path;

/// Every valid mission we have: the ok corpus and the S1–S10 examples.
fn valid_missions() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("tests/data/ok"),
        root.join("../examples/missions"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hm"))
            .collect();
        paths.sort();
        for p in paths {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            ));
        }
    }
    assert!(out.len() >= 5, "expected the ok corpus at least");
    out
}

/// The compiler's contract on any input: a graph, or at least one error, and
/// every label inside the text on character boundaries; rendering works.
fn assert_contract(src: &str) {
    let out = compile(src, "prop.hm");
    assert_eq!(
        out.graph.is_some(),
        !out.has_errors(),
        "graph iff no errors"
    );
    for d in &out.diagnostics {
        assert!(!d.labels.is_empty(), "{} without a label", d.code);
        for l in &d.labels {
            assert!(
                l.span.start <= l.span.end && l.span.end <= src.len(),
                "span {:?} outside {} bytes",
                l.span,
                src.len()
            );
            assert!(
                src.is_char_boundary(l.span.start) && src.is_char_boundary(l.span.end),
                "span {:?} splits a character",
                l.span
            );
        }
    }
    // Syntax errors (recovered statement by statement) come in source
    // order, each past the previous one, and at most the cap of them.
    let syntax: Vec<usize> = out
        .diagnostics
        .iter()
        .filter(|d| d.code == hivemind_dsl::Code::Syntax)
        .map(|d| d.labels[0].span.start)
        .collect();
    assert!(syntax.len() <= parser::MAX_SYNTAX_ERRORS, "{syntax:?}");
    assert!(syntax.windows(2).all(|w| w[0] < w[1]), "{syntax:?}");
    let _ = render(&out.diagnostics, "prop.hm", src, Style::Plain);
    if let Some(g) = out.graph {
        g.validate().expect("IR ids consistent");
    }
}

/// The formatter's laws on anything that parses.
fn assert_fmt_laws(src: &str) {
    let Ok(ast) = parser::parse(src) else { return };
    let once = format::format_mission(&ast, src);
    let reparsed = parser::parse(&once)
        .unwrap_or_else(|d| panic!("formatted text does not parse: {}\n---\n{once}", d.message));
    assert_eq!(
        format::structure(&ast),
        format::structure(&reparsed),
        "fmt changed the AST\n---\n{once}"
    );
    let twice = format::format_mission(&reparsed, &once);
    assert_eq!(once, twice, "fmt is not idempotent");
}

/// Split into tokens, keeping whitespace runs as tokens so mutations keep
/// most of the layout.
fn tokens(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut kind = 0u8;
    for (i, c) in src.char_indices() {
        let k = if c.is_whitespace() {
            1
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            2
        } else {
            3 + (i as u8 % 2) // punctuation: one char per token
        };
        if i > start && (k != kind || k >= 3) {
            out.push(&src[start..i]);
            start = i;
        }
        kind = k;
    }
    if start < src.len() {
        out.push(&src[start..]);
    }
    out
}

/// Apply `n` seeded token mutations: delete, duplicate, swap, or replace with
/// another token of the same file.
fn mutate(src: &str, seed: u64, n: usize) -> String {
    let mut toks: Vec<&str> = tokens(src);
    let mut x = seed | 1;
    let mut rnd = |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m.max(1) as u64) as usize
    };
    for _ in 0..n {
        if toks.is_empty() {
            break;
        }
        let i = rnd(toks.len());
        match rnd(4) {
            0 => {
                toks.remove(i);
            }
            1 => toks.insert(i, toks[i]),
            2 => {
                let j = rnd(toks.len());
                toks.swap(i, j);
            }
            _ => {
                let j = rnd(toks.len());
                toks[i] = toks[j];
            }
        }
    }
    toks.concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let text = String::from_utf8_lossy(&bytes);
        assert_contract(&text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,400}") {
        assert_contract(&text);
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(prop::sample::select(vec![
        "mission", "m", "{", "}", "(", ")", "<", ">", ",", ";", ":", "->", "=", "@", "$2", "per", "hour",
        "fleet", "d", "drone", "x", "4", "cpu", "1", "GHz", "battery", "mAh", "V", "radio", "Mbit/s",
        "task", "t", "on", "at", "cloud", "edge", "every", "1 s", "work", "Gop", "item", "image", "640x360",
        "list", "blob", "KB", "require", "latency", "p99", "<", "ms", "minimize", "energy", "then",
        "straggler", "2x", "median", "relaunch", "learning", "retrain", "from", "model", "sample", "area", "a", "rect", "0 m",
        "polygon", "cover", "lane", "flow", "gather", "all", "fanout", "\n", " ", "// c\n", "\"s\"",
        "-1", "0.0000001", "99999999999999999999999999", "µs", "%", "cloud_cost", "battery(d)", ">=",
    ]), 0..120)) {
        let text = words.join(" ");
        assert_contract(&text);
        assert_fmt_laws(&text);
    }

    #[test]
    fn mutated_missions_never_panic(seed in any::<u64>(), pick in any::<prop::sample::Index>(), n in 1usize..6) {
        let missions = valid_missions();
        let (name, src) = &missions[pick.index(missions.len())];
        let mutated = mutate(src, seed, n);
        // On failure proptest prints seed, pick and n; the base file is:
        let _ = name;
        assert_contract(&mutated);
        assert_fmt_laws(&mutated);
    }
}

#[test]
fn every_valid_mission_obeys_the_fmt_laws() {
    for (name, src) in valid_missions() {
        let out = compile(&src, &name);
        assert!(!out.has_errors(), "{name} should compile");
        assert_fmt_laws(&src);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let src = format!(
        "mission m {{ task t -> x: {}blob 1 B{} {{ once }} }}",
        "list<".repeat(10_000),
        "> x 2".repeat(10_000)
    );
    let out = compile(&src, "deep.hm");
    assert!(out.has_errors());
    assert!(
        out.diagnostics[0].message.contains("nested"),
        "{}",
        out.diagnostics[0].message
    );
    let parens = format!("mission m {{ area a = rect{} }}", "(".repeat(100_000));
    assert!(compile(&parens, "deep.hm").has_errors());
}

#[test]
fn huge_generated_mission_compiles() {
    let src = hivemind_dsl::synthetic::mission(3_000);
    let out = compile(&src, "gen.hm");
    assert!(!out.has_errors());
    assert_eq!(out.graph.map(|g| g.tasks.len()), Some(3_002));
}

#[test]
fn oversized_source_is_refused_cleanly() {
    let src = format!(
        "mission m {{ {} }}",
        "// padding\n".repeat(hivemind_dsl::parser::MAX_SOURCE_BYTES / 11 + 10)
    );
    let out = compile(&src, "big.hm");
    assert!(out.has_errors());
    assert!(out.diagnostics[0].message.contains("limit"));
}

/// After a syntax error the parser goes on with the next statement: every
/// broken statement is reported once, in order, and nothing else (no
/// cascade from the blanked statement, such as an "unclosed" mission).
#[test]
fn every_broken_statement_is_reported() {
    let src = "mission multi {
  duration 10 min
  fleet drones: drone x 4 {
    cpu 1 GHz x
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    sensors camera
  }
  task capture on drones -> frame: jpeg 120 KB { every 1 s; needs camera }
  task detect(frame) -> boxes: list<box 32 B> x 4 { work 0.1 Gop; fn det }
  task classify(boxes -> kinds: list<kind 8 B> x 4 { work 1 Gop }
  require latency(capture -> classify) p99 < 2 s
  require cloud_cost < $ per hour
}
";
    let out = compile(src, "multi.hm");
    let lines: Vec<usize> = out
        .diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.code, hivemind_dsl::Code::Syntax, "{d:?}");
            src[..d.labels[0].span.start].matches('\n').count() + 1
        })
        .collect();
    // The count missing after `x` on line 4 shows at the next token (line 5).
    assert_eq!(lines, vec![5, 11, 13], "{:#?}", out.diagnostics);
    assert!(out.graph.is_none());
}

/// A file of nothing but broken statements stops at the cap.
#[test]
fn syntax_errors_stop_at_the_cap() {
    let mut src = String::from("mission many {\n");
    for i in 0..3 * parser::MAX_SYNTAX_ERRORS {
        src.push_str(&format!("  require cloud_cost < $ per hour {i}\n"));
    }
    src.push_str("}\n");
    let out = compile(&src, "many.hm");
    assert_eq!(out.diagnostics.len(), parser::MAX_SYNTAX_ERRORS);
}
