//! Writes the generated files (RTL include, driver constants, variant list)
//! under the `fpga/` directory: `fpga-gen [FPGA_DIR]`.

#[path = "common/args.rs"]
mod args;

use std::path::PathBuf;

const USAGE: &str = "usage: fpga-gen [FPGA_DIR]\n\nWrites the generated files (RTL include, C header, Rust constants, variant\nlist) under FPGA_DIR (default: this crate's directory).";

fn main() {
    let dir = args::optional_path(USAGE)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for (rel, text) in hivemind_fpga::generate::all() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                eprintln!("error: {}: {e}", parent.display());
                std::process::exit(1);
            }
        }
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("wrote {}", path.display());
    }
}
