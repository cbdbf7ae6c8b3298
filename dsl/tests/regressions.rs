//! Defects new users hit, one test per report: what they wrote and what the
//! compiler must say (or accept).

#[path = "support/messages.rs"]
mod support;

use hivemind_dsl::{compile, Code, Compiled};
use support::messages;

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
        hivemind_dsl::ir::Trigger::Window { period_us: 2_000 },
        "`every` on a task with inputs is a window"
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

// ---- 4: help that suggests what the user meant

fn help_of(out: &Compiled, code: Code) -> String {
    out.diagnostics
        .iter()
        .find(|d| d.code == code)
        .and_then(|d| d.help.clone())
        .unwrap_or_else(|| panic!("no {code} in\n{}", messages(out)))
}

#[test]
fn a_period_in_metres_suggests_minutes() {
    let out = compile(
        &mission(
            "  task poll on drones -> p: ping 8 B { every 2 m }\n  task log(p) { work 1 Mop }",
        ),
        "p.hm",
    );
    assert_eq!(codes(&out), [Code::WrongUnit], "{}", messages(&out));
    assert_eq!(help_of(&out, Code::WrongUnit), "did you mean `2 min`?");
}

#[test]
fn a_battery_in_watts_suggests_watt_hours() {
    let src = mission("").replace("battery 1500 mAh @ 11.1 V", "battery 74 W");
    let out = compile(&src, "b.hm");
    assert_eq!(codes(&out), [Code::WrongUnit], "{}", messages(&out));
    assert_eq!(help_of(&out, Code::WrongUnit), "did you mean `74 Wh`?");
}

#[test]
fn a_battery_fraction_suggests_a_percentage() {
    let out = compile(&mission("  require battery >= 0.2"), "r.hm");
    assert_eq!(codes(&out), [Code::MissingUnit], "{}", messages(&out));
    assert_eq!(
        help_of(&out, Code::MissingUnit),
        "write `20%` (a fraction of 0.2 is 20%)"
    );
    let out = compile(&mission("  on low_battery(0.25) { return }"), "r.hm");
    assert_eq!(
        help_of(&out, Code::MissingUnit),
        "write `25%` (a fraction of 0.25 is 25%)"
    );
    let out = compile(&mission("  require battery(drones) >= 20"), "r.hm");
    assert_eq!(help_of(&out, Code::MissingUnit), "write `20%`");
}

#[test]
fn unused_output_help_never_suggests_a_self_loop() {
    // `report` produces the unused output: the help must not tell it to
    // read its own output.
    let src = mission("").replace(
        "task report(boxes) { work 1 Mop }",
        "task report(boxes) -> summary: text 1 KB { work 1 Mop }",
    );
    let out = compile(&src, "u.hm");
    let help = help_of(&out, Code::UnusedOutput);
    assert!(!help.contains("report("), "{help}");
    assert_eq!(
        help,
        "read it in a task (`task use_summary(summary) { ... }`) or remove it"
    );
    // With a sink that runs on inputs, the output is added to its inputs.
    let src = mission("  task count(boxes) -> total: counter 8 B { work 1 Mop }");
    let out = compile(&src, "u.hm");
    assert_eq!(
        help_of(&out, Code::UnusedOutput),
        "read it where it is needed, e.g. `task report(boxes, total)`, or remove it"
    );
}

#[test]
fn messages_use_the_users_units() {
    for (body, needle) in [
        (
            "  require battery >= 100%",
            "the largest accepted battery reserve is 99%",
        ),
        (
            "  task s2 on drones { cover field; lane 500 m }",
            "lane of 500 m is wider than area `field`",
        ),
        (
            "  task s2 on drones { cover field; lane 500 m }",
            "the area is 300 m across at its narrowest",
        ),
        (
            "  task s2 on drones { cover field; lane 1 mm }",
            "the smallest accepted lane width is 100 mm",
        ),
        (
            "  require exec_time < 0.3 us",
            "a time is kept in steps of 1 µs",
        ),
    ] {
        let out = compile(&mission(body), "units.hm");
        let text = messages(&out);
        assert!(text.contains(needle), "{needle}\n{text}");
        for internal in ["basis point", "µJ", "µAh", "IR's units", "base unit"] {
            assert!(!text.contains(internal), "{internal} in\n{text}");
        }
    }
}

// ---- 4: one error per mistake, no follow-on errors

#[test]
fn a_bad_cover_area_is_one_error() {
    let out = compile(
        &mission("  task s2 on drones { cover feild; lane 10 m }"),
        "c.hm",
    );
    assert_eq!(codes(&out), [Code::UnknownArea], "{}", messages(&out));
    // The lane still gets its own errors.
    let out = compile(
        &mission("  task s2 on drones { cover feild; lane 10 s }"),
        "c.hm",
    );
    assert_eq!(
        codes(&out),
        [Code::UnknownArea, Code::WrongUnit],
        "{}",
        messages(&out)
    );
}

#[test]
fn an_unknown_fleet_is_one_error_with_every_use() {
    let body = "  task a on drone -> x: blob 1 KB { every 1 s }
  task b(x) on drone -> y: blob 1 KB { work 1 Mop }
  task c(y) on drone { work 1 Mop }
  require battery(drone) >= 20%";
    let out = compile(&mission(body), "f.hm");
    assert_eq!(codes(&out), [Code::UnknownFleet], "{}", messages(&out));
    let d = &out.diagnostics[0];
    assert_eq!(d.labels.len(), 4);
    assert_eq!(d.help.as_deref(), Some("did you mean `drones`?"));
    // Used more often than labelled: counted in the message.
    let many: String = (0..8)
        .map(|i| format!("  task m{i}(boxes) on drone {{ work 1 Mop }}\n"))
        .collect();
    let out = compile(&mission(&many), "f.hm");
    assert_eq!(codes(&out), [Code::UnknownFleet], "{}", messages(&out));
    assert_eq!(
        out.diagnostics[0].message,
        "unknown fleet `drone` (used 8 times)"
    );
}

#[test]
fn unknown_data_is_one_error_and_hides_list_checks() {
    let body = "  task a(boxs) { work 1 Mop per item; fanout per item }
  task b(boxs) { gather all }";
    let out = compile(&mission(body), "d.hm");
    assert_eq!(codes(&out), [Code::UnknownData], "{}", messages(&out));
    assert_eq!(out.diagnostics[0].labels.len(), 2);
}

#[test]
fn no_fleet_is_one_error() {
    let src = "mission m {
  task a on drones -> x: blob 1 KB { every 1 s }
  task b(x) on drones { work 1 Mop }
}";
    let out = compile(src, "n.hm");
    assert_eq!(codes(&out), [Code::NoFleet], "{}", messages(&out));
}

#[test]
fn no_cloud_and_no_speed_are_one_error_each() {
    let src = mission(
        "  task up(boxes) at cloud -> u: blob 1 KB { work 1 Mop }
  task up2(u) at cloud { work 1 Mop }
  task go on drones { goto (10 m, 10 m) }",
    )
    .replace("  cloud { servers 2; cores 8 each }\n", "")
    .replace("    speed 5 m/s\n", "");
    let out = compile(&src, "n.hm");
    assert_eq!(
        codes(&out),
        [Code::MissingProperty, Code::NoCloud],
        "{}",
        messages(&out)
    );
    assert_eq!(
        out.diagnostics[0].message,
        "fleet `drones` has no `speed`, but tasks `sweep`, `go` move it"
    );
    assert_eq!(out.diagnostics[0].labels.len(), 2);
    assert_eq!(
        out.diagnostics[1].message,
        "2 tasks run in the cloud, but the mission has no cloud"
    );
    assert_eq!(out.diagnostics[1].labels.len(), 2);
}

#[test]
fn a_broken_fleet_line_hides_what_tasks_lack_from_it() {
    let src = mission("")
        .replace(
            "sensors camera(640x360), gps",
            "sensors camra(640x360), gps",
        )
        .replace("speed 5 m/s", "speed 5 m");
    let out = compile(&src, "s.hm");
    assert_eq!(
        codes(&out),
        [Code::WrongUnit, Code::UnknownSensor],
        "{}",
        messages(&out)
    );
    assert_eq!(help_of(&out, Code::WrongUnit), "did you mean `5 m/s`?");
}

#[test]
fn a_task_declared_twice_is_one_error() {
    let out = compile(
        &mission("  task detect(frame) -> boxes: boxes 4 KB { work 0.5 Gop }"),
        "t.hm",
    );
    assert_eq!(codes(&out), [Code::DuplicateName], "{}", messages(&out));
}

// ---- 5: rendering many diagnostics is linear

#[test]
fn thousands_of_warnings_render_in_linear_time() {
    use hivemind_dsl::diagnostic::{render, to_json_all, Style};
    use std::time::Instant;
    let mut per_warning = Vec::new();
    for tasks in [1_000, 10_000] {
        let src = hivemind_dsl::synthetic::mission(tasks);
        let out = compile(&src, "big.hm");
        assert!(!out.has_errors());
        let warnings = out.diagnostics.len();
        assert!(warnings >= tasks / 5, "{tasks} tasks: {warnings} warnings");
        let t0 = Instant::now();
        let text = render(&out.diagnostics, "big.hm", &src, Style::Plain);
        let text_s = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let json = to_json_all(&out.diagnostics, "big.hm", &src);
        let json_s = t0.elapsed().as_secs_f64();
        println!(
            "{tasks} tasks, {warnings} warnings: text {text_s:.3} s ({} bytes), json {json_s:.3} s",
            text.len()
        );
        assert_eq!(json.len(), warnings);
        // The text draws the first ones and counts the rest.
        let drawn = warnings.min(hivemind_dsl::diagnostic::MAX_RENDERED);
        assert_eq!(text.matches("hm::unused-output").count(), drawn);
        if warnings > drawn {
            assert!(text.contains(&format!("… and {} more", warnings - drawn)));
        }
        // Line numbers come from the one index: the last warning is on a
        // late line, as the text says.
        let last = &json[warnings - 1]["labels"][0];
        let line = last["line"].as_u64().expect("line") as usize;
        assert_eq!(
            src.lines().nth(line - 1).map(|l| l.contains("task t")),
            Some(true)
        );
        assert!(
            text_s + json_s < 5.0,
            "{tasks} tasks took {text_s} + {json_s} s"
        );
        per_warning.push((text_s + json_s) / warnings as f64);
    }
    // Linear: the time per warning does not grow tenfold with the file
    // (quadratic rendering made it grow ~8x); generous for noisy machines.
    println!("seconds per warning: {per_warning:?}");
    assert!(
        per_warning[1] < per_warning[0] * 4.0 + 1e-4,
        "{per_warning:?}"
    );
}

#[test]
fn repeated_unknown_sensors_pins_and_priorities_are_one_error_each() {
    let src = mission(
        "  fleet more: drone x 2 { cpu 1 GHz; battery 20 Wh; radio 20 Mbit/s; sensors camra }
  task a(boxes) at clod { work 1 Mop; priority hihg }
  task b(boxes) at clod { work 1 Mop; priority hihg }
  task c on more -> x: blob 1 KB { every 1 s; needs camera }
  task d(x) { work 1 Mop }",
    )
    .replace(
        "sensors camera(640x360), gps",
        "sensors camra(640x360), gps",
    );
    let out = compile(&src, "s.hm");
    assert_eq!(
        codes(&out),
        [
            Code::UnknownSensor,
            Code::UnknownPinTarget,
            Code::UnknownPriority
        ],
        "{}",
        messages(&out)
    );
    assert!(out.diagnostics.iter().all(|d| d.labels.len() == 2));
}

// ---- declared sensors, routes, data-driven goto and assign: bad input is
// one clear error each, never a panic

#[test]
fn declared_sensors_refuse_bad_input_plainly() {
    let (code, msg, _) = only_error("  sensor rfid { rate 20 KB, size 10 KB }");
    assert_eq!(code, Code::WrongUnit, "{msg}");
    let (code, msg, help) = only_error("  sensor rfid { rate 20 Hz, size 10 s }");
    assert_eq!(code, Code::WrongUnit, "{msg} {help:?}");
    let (code, msg, _) = only_error("  sensor rfid { rate 0.5 Hz, size 1 KB }");
    assert!(
        matches!(code, Code::TooPrecise | Code::NotPositive),
        "{code:?} {msg}"
    );
    let (code, msg, _) = only_error("  sensor rfid { rate 5 GHz, size 1 KB }");
    assert_eq!(code, Code::Absurd, "{msg}");
    let (code, msg, _) = only_error("  sensor camera { rate 30 Hz, size 1 MB }");
    assert_eq!(code, Code::DuplicateName);
    assert_eq!(msg, "`camera` is a built-in sensor");
    let (code, _, _) = only_error("  sensor a { size 1 KB }\n  sensor a { size 2 KB }");
    assert_eq!(code, Code::DuplicateName);
    // A reading type needs the sensor's size.
    let (code, msg, help) =
        only_error("  sensor rfid { rate 2 Hz }\n  task t(boxes) -> r: rfid { work 1 Mop }");
    assert_eq!(code, Code::MissingType);
    assert_eq!(msg, "data type `rfid` has no size");
    assert!(help.unwrap_or_default().contains("sensor rfid { size"));
    let (code, msg, _) = only_error("  task t(boxes) -> r: blob { work 1 Mop }");
    assert_eq!(
        (code, msg.as_str()),
        (Code::MissingType, "data type `blob` has no size")
    );
    // An unknown sensor's help names the way to declare one.
    let (code, _, help) = only_error("  task t on drones { needs rfidd; every 1 s }");
    assert_eq!(code, Code::UnknownSensor);
    assert!(help.unwrap_or_default().contains("sensor rfidd { rate"));
}

#[test]
fn routes_and_assign_refuse_bad_input_plainly() {
    let (code, msg, _) = only_error("  task r on drones { route (0 m, 0 s) }");
    assert_eq!(code, Code::WrongUnit, "{msg}");
    let (code, _, _) = only_error("  task r on drones { patrol (0 m, 0 m), (9999 km, 0 m) }");
    assert_eq!(code, Code::Absurd);
    let (code, _, _) =
        only_error("  task r on drones { patrol (0 m, 0 m), (1 m, 0 m); goto field }");
    assert_eq!(code, Code::BehaviourConflict);
    let (code, msg, help) = only_error("  task g(boxes) on drones { assign 2 by charge }");
    assert_eq!(code, Code::UnknownAssignRule, "{msg}");
    assert!(help.is_some());
    let (_, _, help) = only_error("  task g(boxes) on drones { assign 2 batery }");
    assert_eq!(help.as_deref(), Some("did you mean `by battery`?"));
    let (code, _, _) = only_error("  task g(boxes) on drones { assign 0 nearest }");
    assert_eq!(code, Code::NotPositive);
    let (code, msg, _) = only_error("  task g(boxes) at cloud { assign 1 nearest; work 1 Mop }");
    assert_eq!(code, Code::PinConflict);
    assert_eq!(
        msg,
        "task `g` is assigned to devices, so it cannot run in the cloud"
    );
    // `goto` an input that is also an area's name is ambiguous.
    let (code, msg, _) = only_error(
        "  task f(boxes) -> field: spot 8 B { work 1 Mop }\n  task g(field) on drones { goto field }",
    );
    assert_eq!(code, Code::DuplicateName);
    assert!(
        msg.contains("both an input of the task and an area"),
        "{msg}"
    );
    // Truncated: a syntax error, no panic.
    let out = compile(&mission("  task r on drones { route (0 m, "), "t.hm");
    assert!(out.has_errors());
    let out = compile(&mission("  task r on drones { assign }"), "t.hm");
    assert!(out.has_errors());
    let out = compile(&mission("  sensor { rate 1 Hz }"), "t.hm");
    assert!(out.has_errors());
}

#[test]
fn goto_an_input_is_per_value_on_the_nearest_device_by_default() {
    let out = compile(
        &mission("  task go(boxes) on drones { goto boxes; work 1 Mop }"),
        "g.hm",
    );
    let g = out.graph.expect("compiles");
    let t = g.task("go").expect("task");
    assert_eq!(t.trigger, hivemind_dsl::ir::Trigger::Upstream);
    assert_eq!(
        t.behaviour,
        Some(hivemind_dsl::ir::Behaviour::GotoInput { input: 0 })
    );
    assert_eq!(
        t.assign,
        Some(hivemind_dsl::ir::Assign {
            count: 1,
            by: hivemind_dsl::ir::AssignBy::Nearest
        })
    );
}

// ---- bounded costs: small files must not cost minutes or gigabytes
// (loose time bounds; `benches/compile.rs` holds the precise figures)

fn tasks_mission(body: &str) -> String {
    format!(
        "mission big {{\n  fleet drones: drone x 4 {{ cpu 1 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s; sensors camera }}\n  cloud {{ servers 2; cores 8 each }}\n{body}}}\n"
    )
}

#[test]
fn a_flow_step_over_the_edge_limit_is_one_error_not_millions_of_edges() {
    let mut body = String::new();
    for i in 0..400 {
        body.push_str(&format!(
            "  task a{i} {{ every 1 s; work 1 Mop }}\n  task b{i} {{ work 1 Mop }}\n"
        ));
    }
    let a: Vec<String> = (0..400).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..400).map(|i| format!("b{i}")).collect();
    body.push_str(&format!(
        "  flow ({}) -> ({})\n",
        a.join(", "),
        b.join(", ")
    ));
    let t = std::time::Instant::now();
    let out = compile(&tasks_mission(&body), "flow.hm");
    let errors: Vec<_> = out.errors().collect();
    assert_eq!(errors.len(), 1, "{}", messages(&out));
    assert_eq!(errors[0].code, Code::Absurd);
    assert!(
        errors[0].message.contains("160000 ordering edges"),
        "{}",
        errors[0].message
    );
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}

#[test]
fn a_long_cycle_is_summarised_in_a_few_labels() {
    let n = 5_000;
    let body: String = (0..n)
        .map(|i| {
            format!(
                "  task c{i}(v{}) -> v{i}: x 1 B {{ work 1 Mop }}\n",
                (i + n - 1) % n
            )
        })
        .collect();
    let t = std::time::Instant::now();
    let out = compile(&tasks_mission(&body), "cycle.hm");
    let errors: Vec<_> = out.errors().collect();
    assert_eq!(errors.len(), 1, "one cycle, one error");
    assert_eq!(errors[0].code, Code::Cycle);
    assert!(
        errors[0]
            .message
            .starts_with("tasks form a cycle of 5000 tasks: c0 -> c1"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].labels.len() <= 6,
        "{} labels",
        errors[0].labels.len()
    );
    let rendered = hivemind_dsl::diagnostic::render(
        &out.diagnostics,
        "cycle.hm",
        &tasks_mission(&body),
        hivemind_dsl::diagnostic::Style::Plain,
    );
    assert!(rendered.len() < 10_000, "{} bytes rendered", rendered.len());
    assert!(t.elapsed().as_secs() < 30, "{:?}", t.elapsed());
}

#[test]
fn twenty_syntax_errors_at_the_end_of_a_large_file_parse_once_each() {
    let mut body: String = (0..20_000)
        .map(|i| format!("  task t{i} -> o{i}: x 1 B {{ every 1 s; work 1 Mop }}\n"))
        .collect();
    for i in 0..25 {
        body.push_str(&format!("  task e{i} {{ every 1 s; work 1 Mop;; ) }}\n"));
    }
    let src = tasks_mission(&body);
    let t = std::time::Instant::now();
    let errs = hivemind_dsl::parser::parse_all(&src).expect_err("errors");
    assert_eq!(errs.len(), hivemind_dsl::parser::MAX_SYNTAX_ERRORS);
    // Each error points into its own statement, in order, mapped back to
    // the whole file's positions.
    for (i, e) in errs.iter().enumerate() {
        let at = e.labels[0].span.start;
        let line_start = src[..at].rfind('\n').map_or(0, |n| n + 1);
        assert!(
            src[line_start..].starts_with(&format!("  task e{i} ")),
            "error {i} at {:?}",
            &src[line_start..at]
        );
    }
    assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
}

#[test]
fn many_unused_outputs_are_checked_in_linear_time() {
    // 30,000 sources whose outputs nobody reads: one warning each, with a
    // suggested reader name checked against the task names (it was a scan
    // of every task per warning: 110,000 tasks took 4 minutes).
    let body: String = (0..30_000)
        .map(|i| format!("  task t{i} -> o{i}: x 1 B {{ every 1 s; work 1 Mop }}\n"))
        .collect();
    let t = std::time::Instant::now();
    let out = compile(&tasks_mission(&body), "many.hm");
    assert!(!out.has_errors());
    assert_eq!(out.diagnostics.len(), 30_000);
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}

#[test]
fn many_misspelt_inputs_are_checked_in_linear_time() {
    // 20,000 tasks each reading an input nobody produces, among 20,000
    // produced names: every unknown name searched every known one for a
    // suggestion (and scanned every task), so a file at the size limit
    // took minutes. Now each search looks at a bounded number of names.
    let body: String = (0..20_000)
        .map(|i| {
            format!("  task t{i} -> o{i}: x 1 B {{ every 1 s }}\n  task u{i}(nope{i}) {{ work 1 Mop }}\n")
        })
        .collect();
    let t = std::time::Instant::now();
    let out = compile(&tasks_mission(&body), "typos.hm");
    let unknown = out
        .diagnostics
        .iter()
        .filter(|d| d.code == hivemind_dsl::Code::UnknownData)
        .count();
    assert_eq!(unknown, 20_000);
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}
