//! `hivemind-net` is shared by the controller runtime and the edge agent:
//! its normal dependencies must not reach the controller core, the
//! simulator, the language front end or the synthesizer (nor z3, pest).

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "hivemind-controller",
    "hivemind-sim",
    "hivemind-dsl",
    "hivemind-synth",
    "hivemind-cost",
    "hivemind-examples",
    "z3",
    "pest",
    "miette",
];

#[test]
fn net_depends_on_no_controller_sim_or_language_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "-p",
            "hivemind-net",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"quinn"),
        "unexpected cargo tree output:\n{text}"
    );
    let bad: Vec<&&str> = names.iter().filter(|n| FORBIDDEN.contains(n)).collect();
    assert!(bad.is_empty(), "hivemind-net depends on {bad:?}");
}
