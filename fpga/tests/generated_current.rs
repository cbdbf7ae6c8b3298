//! The committed generated files equal what `fpga-gen` writes now.

#[test]
fn generated_files_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, want) in hivemind_fpga::generate::all() {
        let have = std::fs::read_to_string(dir.join(rel)).unwrap_or_default();
        if have != want {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo run -p hivemind-fpga --bin fpga-gen`"
    );
}
