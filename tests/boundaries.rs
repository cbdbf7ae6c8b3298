//! The "must not depend on" lines of ARCHITECTURE.md, as a test over
//! `cargo metadata`: a crate's normal (non-dev, non-build) dependencies,
//! followed transitively, must not reach what it is forbidden.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// (crate, forbidden packages). IO runtimes are forbidden to every library.
const RULES: &[(&str, &[&str])] = &[
    (
        "hivemind-ir",
        &[
            "pest",
            "miette",
            "toml",
            "z3",
            "hivemind-dsl",
            "hivemind-cost",
            "hivemind-synth",
            "hivemind-controller",
        ],
    ),
    (
        "hivemind-vehicle",
        &[
            "pest",
            "miette",
            "toml",
            "z3",
            "hivemind-dsl",
            "hivemind-cost",
            "hivemind-synth",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
    (
        "hivemind-cost",
        &[
            "pest",
            "miette",
            "z3",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-controller",
        ],
    ),
    (
        "hivemind-dsl",
        &[
            "z3",
            "toml",
            "hivemind-cost",
            "hivemind-synth",
            "hivemind-controller",
        ],
    ),
    ("hivemind-synth", &["hivemind-controller", "hivemind-sim"]),
    (
        "hivemind-controller",
        &["z3", "pest", "miette", "hivemind-dsl", "hivemind-synth"],
    ),
    (
        "hivemind-sim",
        &["z3", "pest", "miette", "hivemind-dsl", "hivemind-synth"],
    ),
    // No pest here: rumqttd reaches it through `config` -> json5.
    (
        "hivemind-telemetry",
        &[
            "z3",
            "miette",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
    (
        "hivemind-net",
        &[
            "z3",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
    (
        "hivemind-functions",
        &[
            "z3",
            "pest",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
    (
        "hivemind-runtime",
        &["z3", "hivemind-dsl", "hivemind-synth"],
    ),
    (
        "hivemind-edge-agent",
        &[
            "z3",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
            "hivemind-runtime",
        ],
    ),
    (
        "hivemind-proto",
        &[
            "z3",
            "pest",
            "miette",
            "toml",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
    (
        "hivemind-fpga",
        &[
            "z3",
            "pest",
            "miette",
            "hivemind-dsl",
            "hivemind-synth",
            "hivemind-cost",
            "hivemind-controller",
            "hivemind-sim",
        ],
    ),
];

/// IO policy belongs to binaries and runtimes, never to these libraries.
const IO: &[&str] = &[
    "tokio",
    "quinn",
    "rumqttc",
    "rumqttd",
    "mavlink",
    "async-nats",
];

/// Crates whose job is IO: the rules above apply to them, the IO list not.
const IO_OWNERS: &[&str] = &[
    "hivemind-telemetry",
    "hivemind-net",
    "hivemind-functions",
    "hivemind-runtime",
    "hivemind-edge-agent",
];

#[test]
fn crates_depend_only_on_what_architecture_allows() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // Normal dependencies of each package id.
    let mut normal: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().unwrap_or("");
        let list = normal.entry(id).or_default();
        for d in node["deps"].as_array().into_iter().flatten() {
            let is_normal = d["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if is_normal {
                if let Some(p) = d["pkg"].as_str() {
                    list.push(p);
                }
            }
        }
    }
    let mut violations = Vec::new();
    for &(krate, forbidden) in RULES {
        let Some((&root, _)) = names.iter().find(|(_, &n)| n == krate) else {
            violations.push(format!("{krate} is not in the workspace"));
            continue;
        };
        // Everything reachable over normal edges, with the path that reached it.
        let mut via: BTreeMap<&str, &str> = BTreeMap::new();
        let mut todo = vec![root];
        let mut seen = BTreeSet::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            for &d in normal.get(id).map(Vec::as_slice).unwrap_or_default() {
                via.entry(d).or_insert(id);
                todo.push(d);
            }
        }
        for id in seen.iter().filter(|&&id| id != root) {
            let name = names.get(id).copied().unwrap_or("?");
            if forbidden.contains(&name) || (IO.contains(&name) && !IO_OWNERS.contains(&krate)) {
                let parent = via.get(id).and_then(|p| names.get(p)).unwrap_or(&"?");
                violations.push(format!("{krate} depends on {name} (through {parent})"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "crate boundaries broken (see ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
}
