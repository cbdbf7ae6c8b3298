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
