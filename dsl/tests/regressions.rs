//! Defects new users hit, one test per report: what they wrote and what the
//! compiler must say (or accept).

use hivemind_dsl::{compile, Code, Compiled};

/// A valid mission head (fleet, cloud, a sweep and a periodic capture) with
/// `body` inserted before the closing brace.
fn mission(body: &str) -> String {
    format!(
        "mission m {{
  area field = rect(0 m, 0 m, 400 m, 300 m)
  fleet drones: drone x 4 {{
    cpu 1 GHz x 2
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    speed 5 m/s
    sensors camera(640x360), gps
  }}
  cloud {{ servers 2; cores 8 each }}
  task sweep on drones {{ cover field; lane 10 m }}
  task capture on drones -> frame: image 640x360 {{ every 1 s; needs camera }}
  task detect(frame) -> boxes: boxes 4 KB {{ work 0.5 Gop }}
  task report(boxes) {{ work 1 Mop }}
{body}
}}
"
    )
}

fn codes(out: &Compiled) -> Vec<Code> {
    out.diagnostics.iter().map(|d| d.code).collect()
}

fn messages(out: &Compiled) -> String {
    out.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}: {} [help: {}]\n",
                d.code,
                d.message,
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect()
}

// ---- 1: the bracket-depth pre-scan counts only real brackets

#[test]
fn many_comparisons_are_not_nesting() {
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!(
            "  task t{i}(boxes) {{ work 1 Mop }}\n  require exec_time(t{i}) < 1 s\n"
        ));
    }
    body.push_str("  require latency(capture -> report) p99 <= 2 s\n");
    let out = compile(&mission(&body), "many.hm");
    assert!(!out.has_errors(), "{}", messages(&out));
    assert_eq!(out.graph.map(|g| g.requirements.len()), Some(101));
}

#[test]
fn list_types_still_count_as_nesting() {
    // Nested list types are the grammar's only recursion; a shallow one is fine.
    let shallow = mission("  task deep(boxes) -> l: list<list<list<box 4 B> x 2> x 2> x 2 { work 1 Mop }\n  task use(l) { work 1 Mop }");
    let out = compile(&shallow, "shallow.hm");
    assert!(!out.has_errors(), "{}", messages(&out));
    let deep = mission(&format!(
        "  task deep(boxes) -> l: {}box 4 B{} {{ work 1 Mop }}",
        "list < ".repeat(70),
        "> x 2".repeat(70)
    ));
    let out = compile(&deep, "deep.hm");
    assert_eq!(codes(&out), [Code::Syntax], "{}", messages(&out));
    assert!(out.diagnostics[0].message.contains("nested"));
}

// ---- 2: numbers in scientific notation

#[test]
fn scientific_notation_is_exact_everywhere() {
    let src = mission(
        "  task big(boxes) -> b: blob 5E6 B { work 1.2e9 op; every 2e-3 s }\n  task use(b) at cloud { work 1e+6 op }\n  require latency(capture -> report) p9.99e1 < 1.5e-1 s\n  require battery >= 2e1%",
    );
    let out = compile(&src, "sci.hm");
    assert!(!out.has_errors(), "{}", messages(&out));
    let g = out.graph.expect("graph");
    let big = g.tasks.iter().find(|t| t.name == "big").expect("big");
    assert_eq!(big.work.map(|w| w.ops), Some(1_200_000_000));
    assert_eq!(big.outputs[0].ty.bytes, 5_000_000);
    assert_eq!(
        big.trigger,
        hivemind_dsl::ir::Trigger::Periodic { period_us: 2_000 }
    );
}

/// The one error `body` gives, as `code: message`.
fn only_error(body: &str) -> (Code, String, Option<String>) {
    let out = compile(&mission(body), "bad.hm");
    let errors: Vec<_> = out.errors().collect();
    assert_eq!(errors.len(), 1, "{}", messages(&out));
    (
        errors[0].code,
        errors[0].message.clone(),
        errors[0].help.clone(),
    )
}

#[test]
fn bad_scientific_numbers_are_clear_errors() {
    let (code, msg, _) = only_error("  task w(boxes) { work 1e op }");
    assert_eq!(code, Code::Syntax);
    assert_eq!(
        msg,
        "`1e` is not a number: the exponent after `e` has no digits"
    );
    let (code, msg, _) = only_error("  task w(boxes) { work 1e999999 op }");
    assert_eq!(code, Code::Absurd);
    assert_eq!(msg, "`1e999999` is far too large for any quantity");
    let (code, msg, _) = only_error("  task w(boxes) { work 1.2e9.3 op }");
    assert_eq!(code, Code::Syntax);
    assert_eq!(
        msg,
        "`1.2e9.3` is not a number: the exponent after `e` is a whole number"
    );
    let (code, msg, _) = only_error("  task w(boxes) { work 1e30 op }");
    assert_eq!(code, Code::Absurd, "{msg}");
    let (code, msg, _) = only_error("  require exec_time < 1e-999999 s");
    assert_eq!(code, Code::TooPrecise, "{msg}");
    // Rounding that would change the value is refused, with the two
    // values the mission can say instead.
    let (code, msg, help) = only_error("  require exec_time(report) < 2.5e-6 s");
    assert_eq!(code, Code::TooPrecise);
    assert_eq!(
        msg,
        "execution-time bound `2.5e-6 s` is more precise than a mission can state"
    );
    assert_eq!(
        help.as_deref(),
        Some("a time is kept in steps of 1 µs: write `2 µs` or `3 µs`")
    );
}

// ---- 3: names are ASCII, and the error says so

#[test]
fn non_ascii_names_are_refused_plainly() {
    for (body, word, help) in [
        ("  task détection {}", "détection", "write `detection`"),
        (
            "  task 検出 {}",
            "検出",
            "spell the name in ASCII; comments (`// …`) and quoted strings may hold any text",
        ),
        (
            "  task Straße(boxes) { work 1 Mop }",
            "Straße",
            "write `Strasse`",
        ),
    ] {
        let out = compile(&mission(body), "names.hm");
        assert_eq!(codes(&out), [Code::NonAsciiName], "{}", messages(&out));
        let d = &out.diagnostics[0];
        assert_eq!(
            d.message,
            format!("`{word}` is not a valid name: names are ASCII letters, digits and `_`, starting with a letter or `_`")
        );
        assert_eq!(d.help.as_deref(), Some(help));
    }
    // Any text in comments and strings.
    let out = compile(
        &mission("  // détection, 検出\n  task d(boxes) { fn \"détecte-visages\"; work 1 Mop }"),
        "names.hm",
    );
    assert!(!out.has_errors(), "{}", messages(&out));
}

#[test]
fn greek_mu_is_the_micro_sign() {
    let out = compile(
        &mission("  require exec_time(report) < 200 \u{3bc}s"),
        "mu.hm",
    );
    assert!(!out.has_errors(), "{}", messages(&out));
}
