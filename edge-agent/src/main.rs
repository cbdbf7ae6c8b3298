//! `hive-agent`: the program that runs on a vehicle.
//!
//! Placeholder: the link to the controller, local function execution and the
//! MAVLink vehicle adapter arrive with the network-runtime issue.

use clap::Parser;

/// Edge agent for a HiveMind vehicle (not yet functional: see the README).
#[derive(Parser)]
#[command(version)]
struct Args {}

fn main() {
    let _ = Args::parse();
    eprintln!("hive-agent: the edge agent is not implemented yet (network-runtime issue)");
    std::process::exit(2);
}
