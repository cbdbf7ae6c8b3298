//! The `hivemind` binary on good and bad input: exit codes, one-line errors,
//! never a panic (exit 101).

use std::path::Path;
use std::process::{Command, Output};

fn hivemind(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hivemind"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run hivemind")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dsl/tests/data")
        .join(name)
        .display()
        .to_string()
}

/// Bad input: exit 2, exactly one line on stderr naming the file, no panic.
fn assert_clean_refusal(path: &Path, needle: &str) {
    for cmd in ["check", "compile", "fmt"] {
        let o = hivemind(&[cmd, &path.display().to_string()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd} {}: {err}", path.display());
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "one line expected, got: {err}"
        );
        assert!(err.contains(needle), "{cmd}: expected `{needle}` in: {err}");
        assert!(
            err.contains(&path.display().to_string()),
            "error names the file: {err}"
        );
    }
}

#[test]
fn empty_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("empty.hm");
    std::fs::write(&p, "").expect("write");
    assert_clean_refusal(&p, "empty");
}

#[test]
fn binary_garbage_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("garbage.hm");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&p, bytes).expect("write");
    let o = hivemind(&["check", &p.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("UTF-8") || err.contains("binary"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn binary_file_with_nul_bytes_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("nul.hm");
    std::fs::write(&p, b"mission m {\0\0\0}").expect("write");
    assert_clean_refusal(&p, "binary");
}

#[test]
fn fifty_megabyte_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("huge.hm");
    let f = std::fs::File::create(&p).expect("create");
    f.set_len(50_000_000).expect("size");
    assert_clean_refusal(&p, "limited to");
}

#[test]
fn invalid_utf8_is_refused_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("latin1.hm");
    std::fs::write(&p, b"mission caf\xe9 {\n}\n").expect("write");
    assert_clean_refusal(&p, "not valid UTF-8 (first bad byte at offset 11, line 1)");
}

#[test]
fn missing_file_is_refused() {
    assert_clean_refusal(Path::new("/nonexistent/mission.hm"), "no such file");
}

#[test]
fn directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_clean_refusal(dir.path(), "directory");
}

#[test]
fn text_garbage_is_a_diagnostic_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("text.hm");
    std::fs::write(&p, "}}} mission {{ ((( 12 km/h").expect("write");
    let o = hivemind(&["check", &p.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hm::syntax"), "{}", stderr(&o));
}

#[test]
fn check_exit_codes_and_json() {
    let ok = hivemind(&["check", &corpus("ok/full_syntax.hm")]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let bad = hivemind(&["check", "--json", &corpus("err/unknown-unit.hm")]);
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "hm::unknown-unit");
    assert_eq!(v["diagnostics"][0]["labels"][0]["line"], 8);
    assert_eq!(v["diagnostics"][0]["help"], "did you mean `Mbit/s`?");
    // Warnings pass unless denied.
    let warn = corpus("err/unused-output.hm");
    assert_eq!(hivemind(&["check", &warn]).status.code(), Some(0));
    assert_eq!(
        hivemind(&["check", "--deny-warnings", &warn]).status.code(),
        Some(1)
    );
}

#[test]
fn every_example_mission_checks_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/missions");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/missions")
        .map(|e| e.expect("entry").path().display().to_string())
        .filter(|p| p.ends_with(".hm"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        hivemind_examples::SCENARIOS.len() + hivemind_examples::SHOWCASES.len(),
        "S1-S10 and the showcases"
    );
    let mut args = vec!["check", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let o = hivemind(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let o = hivemind(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn compile_writes_ir_that_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("graph.json");
    let o = hivemind(&[
        "compile",
        &corpus("ok/full_syntax.hm"),
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).expect("ir");
    let graph = hivemind_dsl::TaskGraph::from_json(&text).expect("reads back");
    assert_eq!(graph.schema_version, hivemind_ir::SCHEMA_VERSION);
    assert_eq!(graph.tasks.len(), 15);
    let bad = hivemind(&["compile", &corpus("err/cycle.hm")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty(), "no IR on error");
}

#[test]
fn fmt_check_and_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("loose.hm");
    std::fs::copy(corpus("ok/comments_and_commas.hm"), &p).expect("copy");
    let path = p.display().to_string();
    assert_eq!(hivemind(&["fmt", "--check", &path]).status.code(), Some(1));
    assert_eq!(hivemind(&["fmt", "--write", &path]).status.code(), Some(0));
    assert_eq!(hivemind(&["fmt", "--check", &path]).status.code(), Some(0));
    let printed = hivemind(&["fmt", &path]);
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout),
        std::fs::read_to_string(&p).expect("read")
    );
}

#[test]
fn help_teaches_with_examples() {
    let top = hivemind(&["--help"]);
    let text = String::from_utf8_lossy(&top.stdout);
    for sub in ["check", "compile", "fmt", "bench"] {
        assert!(text.contains(sub), "--help lists {sub}");
        let o = hivemind(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Examples:"),
            "{sub} --help has examples"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(hivemind(&["check"]).status.code(), Some(2));
    assert_eq!(hivemind(&["frobnicate"]).status.code(), Some(2));
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/missions")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn synth_writes_a_plan_that_evaluates_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("plan.json");
    let mission = example("s02_tree_recognition.hm");
    let o = hivemind(&["synth", &mission, "-o", &plan.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("optimal (proven)")
            && out.contains("centralized")
            && out.contains("decentralized"),
        "{out}"
    );
    let e = hivemind(&["synth", &mission, "--evaluate", &plan.display().to_string()]);
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    let shown = String::from_utf8_lossy(&e.stdout);
    assert!(
        shown.contains("plan evaluated: every requirement met") && !shown.contains("time limit"),
        "{shown}"
    );
    // The same mission from another path still owns the plan.
    let copy = dir.path().join("renamed.hm");
    std::fs::copy(&mission, &copy).expect("copy");
    let e = hivemind(&[
        "synth",
        &copy.display().to_string(),
        "--evaluate",
        &plan.display().to_string(),
    ]);
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    // The same plan for another mission is refused by its identity.
    let other = hivemind(&[
        "synth",
        &example("s01_face_recognition.hm"),
        "--evaluate",
        &plan.display().to_string(),
    ]);
    assert_eq!(other.status.code(), Some(2));
    assert!(
        stderr(&other).contains("run `hivemind synth` again"),
        "{}",
        stderr(&other)
    );
    // Another (measured) profile re-predicts the plan: the README's
    // `synth --profile measured.toml --evaluate plan.json`.
    let prof = dir.path().join("p.toml");
    std::fs::write(&prof, "[cloud]\nrpc_overhead_us = 900\n").expect("write");
    let o = hivemind(&[
        "synth",
        &mission,
        "--profile",
        &prof.display().to_string(),
        "--evaluate",
        &plan.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Truncated plan file.
    let text = std::fs::read_to_string(&plan).expect("plan");
    std::fs::write(&plan, &text[..text.len() / 2]).expect("write");
    let o = hivemind(&["synth", &mission, "--evaluate", &plan.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a HiveMind plan"), "{}", stderr(&o));
}

#[test]
fn synth_explains_infeasible_missions_and_refuses_bad_profiles() {
    let infeasible = corpus("../../synth/tests/data/infeasible/latency_versus_cost.hm");
    let o = hivemind(&["synth", &infeasible]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hm::infeasible"), "{}", stderr(&o));
    let dir = tempfile::tempdir().expect("tempdir");
    let prof = dir.path().join("bad.toml");
    for (text, needle) in [
        ("[fleet.drones]\nradio_bps = 0\n", "greater than zero"),
        ("[cloud]\nbogus = 1\n", "bogus"),
        ("\u{0}", "TOML"),
    ] {
        std::fs::write(&prof, text).expect("write");
        let o = hivemind(&[
            "synth",
            &example("s02_tree_recognition.hm"),
            "--profile",
            &prof.display().to_string(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(needle), "{text}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    let o = hivemind(&[
        "synth",
        &example("s02_tree_recognition.hm"),
        "--timeout",
        "-1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_executes_a_mission_on_the_controller_and_survives_kills() {
    let o = hivemind(&[
        "run",
        &example("s02_tree_recognition.hm"),
        "--duration",
        "90 s",
        "--kill",
        "4",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let run = &r["runs"][0];
    assert_eq!(run["phase"], "finished");
    assert_eq!(run["faults"]["devices_failed"], 4);
    assert!(run["faults"]["repartitions"].as_u64() >= Some(4));
    // Only the killed drones' own captures in flight are lost with them.
    for t in run["tasks"].as_array().expect("tasks") {
        let n = |k: &str| t[k].as_u64().unwrap_or(0);
        assert_eq!(n("created"), n("completed") + n("lost"), "{t}");
        assert!(n("lost") == 0 || t["task"] == "capture", "{t}");
        assert_eq!(t["failed"], 0, "{t}");
    }
    // Same seed, same run.
    let again = hivemind(&[
        "run",
        &example("s02_tree_recognition.hm"),
        "--duration",
        "90 s",
        "--kill",
        "4",
        "--json",
    ]);
    assert_eq!(o.stdout, again.stdout);
    let too_many = hivemind(&["run", &example("s02_tree_recognition.hm"), "--kill", "99"]);
    assert_eq!(too_many.status.code(), Some(2));
}

#[test]
fn compile_summary_is_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("graph.json");
    let o = hivemind(&[
        "compile",
        &corpus("ok/full_syntax.hm"),
        "--summary",
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stderr(&o);
    for line in [
        "mission everything: 30 devices in 2 fleets, 15 tasks, 13 edges, 7 requirements, 45 min",
        "  fleet drones  16 drones, CPU 1 GHz x 1, battery 16.65 Wh, radio 20 Mbit/s",
        "  cloud 12 servers, 40 cores each, 4 FPGA boards",
        "  task sweep      cover field, lanes 12 m ",
        "  task park       goto pad ",
        "  task survey     goto (120 m, 80 m) ",
        "  task home_run   return home ",
        "  task touchdown  land ",
        "  task scan       every 2 s (a window over its predecessors) ",
        "  task calibrate  once at the start ",
        "  require latency(capture -> tally) p99.9 <= 800 ms",
        "  minimize energy, then latency, then cost",
        "  on device failure: repartition field",
        "  on straggler: relaunch when slower than 1.5x the median, first result wins",
        "  on task error: retry 3 times, 200 ms apart, then abort the mission",
        "  on low battery (25%): return home",
        "  learning on: retrain detect every 30 min from detect (model 12 MB, 1.8 Gop per sample), embed every 2 h from tally (model 90 MB, 40 Mop per sample)",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.contains("on frame, critical priority") && text.contains("placed by the synthesizer"),
        "{text}"
    );
    // No Rust debug text, no IR base units.
    for debug in [
        "{",
        "}",
        "_mm",
        "areaid",
        "pointmm",
        "Some(",
        "None",
        "gotopoint",
        "µs",
        "bp",
    ] {
        assert!(!text.contains(debug), "{debug:?} in\n{text}");
    }
    // Defaults are marked as such.
    let o = hivemind(&[
        "compile",
        &corpus("ok/minimal.hm"),
        "--summary",
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(text.contains("(default)"), "{text}");
    assert!(!text.contains('{'), "{text}");
}

/// `hivemind … | head -c 10`: a closed stdout ends the command quietly
/// (exit 0/1, or 141 by SIGPIPE), never with a panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.hm");
    std::fs::write(&big, hivemind_dsl::synthetic::mission(2_000)).expect("write");
    let big = big.display().to_string();
    let s02 = example("s02_tree_recognition.hm");
    let commands: [&[&str]; 6] = [
        &["check", "--json", &big],
        &["compile", &big],
        &["fmt", &big],
        &["synth", &s02, "--json"],
        &["sim", &s02, "--duration", "30 s", "--json"],
        &["bench", "--help"],
    ];
    for args in commands {
        // stderr to a file: warnings must not fill a pipe nobody reads yet.
        let err_path = dir.path().join("stderr");
        let err_file = std::fs::File::create(&err_path).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hivemind"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(err_file)
            .spawn()
            .expect("spawn");
        let mut first = [0u8; 10];
        let mut out = child.stdout.take().expect("stdout");
        let _ = out.read(&mut first);
        drop(out);
        let o = child.wait_with_output().expect("wait");
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(o.status.code(), Some(0 | 1)) || o.status.signal() == Some(13),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}

/// A task name of 70,000 characters is a valid name: the plan table and
/// the summary overflow their columns instead of panicking on a format
/// width over 65,535.
#[test]
fn a_huge_task_name_is_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.hm");
    let name = "t".repeat(70_000);
    let src = format!(
        "mission m {{\n  fleet d: drone x 2 {{ cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s; sensors camera }}\n  cloud {{ servers 1; cores 4 each }}\n  task {name} on d -> f: v 1 KB {{ every 1 s; needs camera }}\n  task r(f) {{ work 1 Mop }}\n  require latency({name} -> r) < 1 s\n}}\n"
    );
    std::fs::write(&path, src).expect("write");
    let p = path.display().to_string();
    for args in [vec!["synth", &p], vec!["compile", "--summary", &p]] {
        let o = hivemind(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&name));
    }
}

/// Continuous learning end to end: `check` → `synth` → `run`. The drones
/// run `detect` and get a new model every minute; results are tagged with
/// the model version that produced them; the synth report prices the
/// training and the pushes, and differs from the same mission without
/// learning.
#[test]
fn learning_runs_end_to_end_and_changes_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mission = |learning: &str, pin: &str| {
        format!(
            "mission learn {{
  duration 4 min
  fleet drones: drone x 4 {{ cpu 1 GHz x 4; battery 100 Wh; radio 20 Mbit/s; sensors camera(640x360) }}
  cloud {{ servers 4; cores 16 each }}
  task capture on drones -> frame: image 640x360 {{ every 1 s; needs camera(640x360) }}
  task detect(frame){pin} -> boxes: list<box 16 B> x 20 {{ work 0.2 Gop; fn detect }}
  task report(boxes) at cloud {{ work 1 Mop; fn report }}
  {learning}
}}
"
        )
    };
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let small =
        "learning on { retrain detect every 1 min from detect model 40 MB work 5 Mop per sample }";
    let on_edge = write("edge.hm", mission(small, " at edge"));
    let o = hivemind(&["check", &on_edge]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = hivemind(&["synth", &on_edge]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("learning: detect 3 jobs x 4800 samples")
            && text.contains("480.0 MB pushed in 12 downloads"),
        "{text}"
    );
    let o = hivemind(&["run", &on_edge, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let c = &r["runs"][0]["controller"];
    let l = &c["learning"][0];
    assert_eq!(l["task"], "detect");
    assert_eq!(l["training_jobs"], 3, "{l}");
    assert_eq!(l["model_version"], 3, "{l}");
    assert_eq!(l["model_bytes_pushed"], 12 * 40_000_000u64, "{l}");
    assert_eq!(c["model_bytes_pushed"], 12 * 40_000_000u64);
    assert_eq!(l["devices_on_latest"], 4, "{l}");
    let versions: Vec<u64> = l["results_by_version"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(versions, [0, 1, 2, 3], "{l}");
    let o = hivemind(&["run", &on_edge]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("learning detect: 3 rounds (0 skipped), 3 training jobs (predicted 3)")
            && text.contains(
                "model v3; 12 pushes, 480.00 MB pushed (predicted 480.00 MB), 4 devices on v3"
            )
            && text.contains("results by model version: v0 "),
        "{text}"
    );
    // Unpinned: a 250 MB model every minute does not fit the drones'
    // radios, so `detect` moves to the cloud; without learning it stays.
    let big = "learning on { retrain detect every 1 min from detect model 250 MB }";
    let with = hivemind(&["synth", &write("big.hm", mission(big, ""))]);
    let without = hivemind(&["synth", &write("none.hm", mission("", ""))]);
    let (with, without) = (
        String::from_utf8_lossy(&with.stdout).into_owned(),
        String::from_utf8_lossy(&without.stdout).into_owned(),
    );
    let chosen = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("detect "))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(chosen(&without), "edge(drones)", "{without}");
    assert_eq!(chosen(&with), "cloud", "{with}");
}

/// Issue #16: a plan whose predicted path latency is 2⁶⁴ µs (and whose p99
/// tail is beyond 2⁶³) once wrapped to "0 µs" and a negative latency, and
/// `--evaluate` exited 0 with every requirement met while z3 called the
/// mission infeasible. Now the figures are "too large", never met.
#[test]
fn evaluate_never_meets_a_requirement_too_large_to_compute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mission = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dsl/synth/tests/data/infeasible/path_latency_beyond_64_bits.hm")
        .display()
        .to_string();
    let o = hivemind(&["synth", &mission, "--json", "--timeout", "5"]);
    assert_eq!(o.status.code(), Some(1), "infeasible: {}", stderr(&o));
    let synthesis: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(synthesis["status"], "infeasible");
    // The baseline that puts everything on the cars: the plan to evaluate.
    let plan = dir.path().join("plan.json");
    let text = serde_json::to_string(&synthesis["decentralized"]).expect("plan");
    std::fs::write(&plan, text).expect("write");
    let plan = plan.display().to_string();
    let e = hivemind(&["synth", &mission, "--evaluate", &plan]);
    let shown = String::from_utf8_lossy(&e.stdout);
    assert_eq!(e.status.code(), Some(1), "{shown}{}", stderr(&e));
    assert!(
        shown.contains("plan evaluated: NOT every requirement met")
            && shown.contains("too large ✗")
            && !shown.contains("0 µs")
            && !shown
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'-' && w[1].is_ascii_digit()),
        "{shown}"
    );
    let j = hivemind(&["synth", &mission, "--evaluate", &plan, "--json"]);
    assert_eq!(j.status.code(), Some(1), "{}", stderr(&j));
    let evaluated: serde_json::Value = serde_json::from_slice(&j.stdout).expect("json");
    let requirements = evaluated["predicted"]["requirements"]
        .as_array()
        .expect("requirements");
    assert_eq!(requirements.len(), 2);
    for r in requirements {
        assert_eq!(r["met"], false, "{r}");
        assert_eq!(r["too_large"], true, "{r}");
    }
}

/// A mission shorter than the controller's drain still ends: every
/// instance completed or failed with a reason (it used to stop in
/// "Draining" with work neither done nor failed).
#[test]
fn a_mission_shorter_than_the_drain_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.hm");
    std::fs::write(
        &path,
        "mission short {\n  duration 5 s\n  fleet d: drone x 2 { cpu 1 GHz; battery 10 Wh; radio 10 Mbit/s; sensors camera }\n  cloud { servers 1; cores 4 each }\n  task cap on d -> f: v 1 KB { every 1 s; needs camera }\n  task r(f) { work 1 Mop; gather 100 }\n}\n",
    )
    .expect("write");
    // `gather 100` never fills in 5 s: its remainder fires at the end of
    // the drain.
    let o = hivemind(&["run", "--json", &path.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["runs"][0]["phase"], "finished", "{v}");
}

/// `sim` with baselines, a fault script and `--out`: three strategies in
/// report.json, five SVG plots; nonsense options are clear errors.
#[test]
fn sim_runs_baselines_with_faults_and_writes_plots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = dir.path().join("faults.txt");
    std::fs::write(
        &faults,
        "# two drones die, one link degrades\nat 20 s kill 2 of drones\nat 10 s for 20 s degrade device 3 loss 10% latency +20 ms\n",
    )
    .expect("write");
    let out = dir.path().join("out");
    let s03 = example("s03_drone_detection.hm");
    let o = hivemind(&[
        "sim",
        &s03,
        "--duration",
        "60 s",
        "--baseline",
        "all",
        "--faults",
        &faults.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("centralized") && text.contains("decentralized"),
        "{text}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    let runs = report["runs"].as_array().expect("runs");
    let names: Vec<&str> = runs.iter().filter_map(|r| r["strategy"].as_str()).collect();
    assert_eq!(names, ["synthesized", "centralized", "decentralized"]);
    assert_eq!(runs[0]["faults"]["kills"], 2);
    for plot in [
        "latency_cdf.svg",
        "battery.svg",
        "bytes_per_device.svg",
        "completions.svg",
        "coverage_map.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(plot)).expect(plot);
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{plot}");
    }
    // Nonsense is refused with the place it is wrong, exit 2.
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "at 5 parsecs kill device 1\n").expect("write");
    for (args, needle) in [
        (vec!["--duration", "5 parsecs"], "time unit"),
        (vec!["--duration", "0.5 s"], "at least 1 s"),
        (
            vec!["--faults", bad.to_str().expect("utf-8")],
            "line 1, column 6",
        ),
        (vec!["--devices", "2000000"], "at most 1000000 devices"),
    ] {
        let mut all = vec!["sim", s03.as_str()];
        all.extend(args);
        let o = hivemind(&all);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{all:?}: {}", stderr(&o));
    }
}

/// Issue #20: `hivemind synth` runs its z3 stages in itself re-invoked as a
/// worker process (killed at the deadline), not in process: a binding
/// 200-task mission whose z3 stages run, within the timeout plus a second.
#[test]
fn synth_runs_z3_stages_in_a_worker_within_the_deadline() {
    let mission = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dsl/synth/tests/data/battery-200-s1.hm")
        .display()
        .to_string();
    let started = std::time::Instant::now();
    let o = hivemind(&["synth", &mission, "--json", "--timeout", "3"]);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["status"], "feasible");
    let runs = s["z3_runs"].as_array().expect("z3 runs");
    assert!(!runs.is_empty(), "{s}");
    for r in runs {
        assert!(r["in_process"].is_null(), "{r}");
    }
}
