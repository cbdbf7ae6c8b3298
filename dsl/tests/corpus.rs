//! Data-driven tests over `tests/data/{ok,err}/*.hm`.
//!
//! * `ok/`: must compile without errors or warnings; the IR is snapshotted.
//! * `err/<code>.hm`: the first line says `// expect hm::<code>: …`; that code
//!   must be among the diagnostics; the rendered diagnostics are snapshotted.
//! * Every diagnostic code has an `err/` file.

use hivemind_dsl::diagnostic::{render, Style};
use hivemind_dsl::{compile, format, Code};
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "hm"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({ snapshot_path => "data/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, value);
    });
}

fn assert_spans_valid(src: &str, diags: &[hivemind_dsl::Diagnostic], file: &str) {
    for d in diags {
        assert!(!d.labels.is_empty(), "{file}: {} has no label", d.code);
        for l in &d.labels {
            assert!(
                l.span.start <= l.span.end && l.span.end <= src.len(),
                "{file}: bad span {:?}",
                l.span
            );
            assert!(
                src.is_char_boundary(l.span.start) && src.is_char_boundary(l.span.end),
                "{file}: span splits a char"
            );
        }
    }
}

#[test]
fn ok_corpus_compiles_cleanly_and_ir_is_stable() {
    let files = corpus("ok");
    assert!(files.len() >= 5);
    for (stem, src) in files {
        let name = format!("ok/{stem}.hm");
        let out = compile(&src, &name);
        let msgs: Vec<_> = out
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(msgs.is_empty(), "{name}: {msgs:#?}");
        let graph = out.graph.expect("graph");
        graph.validate().expect("valid ids");
        snapshot(&format!("ok__{stem}"), &graph.to_json_pretty());
    }
}

#[test]
fn err_corpus_reports_the_expected_code() {
    let files = corpus("err");
    assert!(files.len() >= 40, "at least 40 error cases");
    for (stem, src) in files {
        let name = format!("err/{stem}.hm");
        let expect = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// expect "))
            .and_then(|l| l.split(": ").next())
            .unwrap_or_else(|| panic!("{name}: first line must be `// expect hm::<code>: ...`"));
        let out = compile(&src, &name);
        assert!(!out.diagnostics.is_empty(), "{name}: no diagnostic");
        let codes: Vec<String> = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
        assert!(
            codes.iter().any(|c| c == expect),
            "{name}: expected {expect}, got {codes:?}"
        );
        // Warning-only files still compile; error files do not.
        assert_eq!(out.graph.is_none(), out.has_errors(), "{name}");
        assert_spans_valid(&src, &out.diagnostics, &name);
        snapshot(
            &format!("err__{stem}"),
            &render(&out.diagnostics, &name, &src, Style::Plain),
        );
    }
}

#[test]
fn every_diagnostic_code_has_an_error_case() {
    let files = corpus("err");
    let missing: Vec<_> = Code::ALL
        .iter()
        .filter(|c| c.from_checker() && !files.iter().any(|(stem, _)| stem == c.name()))
        .map(|c| c.name())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without err/<code>.hm: {missing:?}"
    );
}

#[test]
fn all_errors_are_collected_in_one_pass() {
    let (_, src) = corpus("err")
        .into_iter()
        .find(|(s, _)| s == "many-errors")
        .expect("many-errors.hm");
    let out = compile(&src, "many-errors.hm");
    let codes: Vec<_> = out.errors().map(|d| d.code.name()).collect();
    assert_eq!(
        codes,
        [
            "unknown-unit",
            "wrong-unit",
            "unknown-data",
            "unknown-pin-target"
        ]
    );
}

#[test]
fn ok_corpus_is_in_canonical_form_or_formats_idempotently() {
    for (stem, src) in corpus("ok") {
        let once = format::format_source(&src).expect("formats");
        let twice = format::format_source(&once).expect("formats again");
        assert_eq!(once, twice, "ok/{stem}.hm: fmt is not idempotent");
        let a = hivemind_dsl::parser::parse(&src).expect("parse");
        let b = hivemind_dsl::parser::parse(&once).expect("parse formatted");
        let pretty = |m| serde_json::to_string_pretty(&format::structure(m)).expect("json");
        assert_eq!(
            pretty(&a),
            pretty(&b),
            "ok/{stem}.hm: fmt changed the meaning"
        );
    }
}

#[test]
fn formatting_keeps_comments_in_order() {
    let (_, src) = corpus("ok")
        .into_iter()
        .find(|(s, _)| s == "comments_and_commas")
        .expect("file");
    let comments = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.find("//").map(|i| l[i..].trim_end().to_string()))
            .collect()
    };
    let formatted = format::format_source(&src).expect("formats");
    assert_eq!(comments(&src), comments(&formatted));
    snapshot("fmt__comments_and_commas", &formatted);
}

#[test]
fn every_diagnostic_code_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md"))
            .expect("docs/language.md");
    let missing: Vec<_> = Code::ALL
        .iter()
        .filter(|c| !doc.contains(&format!("`hm::{}`", c.name())))
        .collect();
    assert!(missing.is_empty(), "undocumented codes: {missing:?}");
}
