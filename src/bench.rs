//! `hivemind bench`: benchmarks that print figures and same-run ratios.

use anyhow::Result;
use hivemind_dsl::synthetic::measure_compile;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Suite {
    /// Compile generated 1,000- and 10,000-task missions.
    Dsl,
    /// Placement synthesis on generated 10-1,000-task missions vs the oracle
    /// and greedy, and families whose constraints bind vs the naive z3 encoding.
    Synth,
    /// The simulator with the real core at 100-100,000 devices, beside ARGoS.
    Sim,
    /// The network runtime on loopback: latency with 1-1,000 agents,
    /// invocations/s, function starts, RSS per agent, brokers.
    Net,
}

/// Target from the foundation issue: 10,000 tasks checked into IR in < 200 ms.
const TARGET_10K_MS: f64 = 200.0;

/// Options only `bench synth` reads.
pub struct SynthBench {
    pub timeout: std::time::Duration,
    pub seeds: u64,
    pub memory_mib: Option<u64>,
}

pub fn run(
    suite: Suite,
    json: bool,
    extra_sizes: &[usize],
    synth: &SynthBench,
) -> Result<ExitCode> {
    match suite {
        Suite::Synth => crate::bench_synth::run(
            json,
            extra_sizes,
            synth.timeout,
            synth.seeds,
            synth.memory_mib,
        ),
        Suite::Sim => crate::bench_sim::run(json, extra_sizes),
        Suite::Net => crate::bench_net::run(json, extra_sizes),
        Suite::Dsl => {
            // Warm up caches and the allocator before measuring.
            let _ = measure_compile(1_000, 1, None);
            let small = measure_compile(1_000, 15, None);
            let large = measure_compile(10_000, 7, None);
            let extra: Vec<_> = extra_sizes
                .iter()
                .map(|&n| measure_compile(n, 3, None))
                .collect();
            let ratio = large.total_ms / small.total_ms;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "suite": "dsl", "runs": [&small, &large], "extra": &extra,
                        "ratio_10k_vs_1k": ratio, "target_10k_ms": TARGET_10K_MS,
                        "meets_target": large.total_ms < TARGET_10K_MS,
                    }))?
                );
            } else {
                println!(
                    "DSL compile benchmark (parse + check + IR, median of runs, {} build)",
                    build_kind()
                );
                println!(
                    "{:>8} {:>10} {:>10} {:>10} {:>10} {:>12}",
                    "tasks", "bytes", "parse ms", "check ms", "total ms", "tasks/s"
                );
                for f in [&small, &large].into_iter().chain(extra.iter()) {
                    println!(
                        "{:>8} {:>10} {:>10.2} {:>10.2} {:>10.2} {:>12.0}",
                        f.tasks, f.source_bytes, f.parse_ms, f.check_ms, f.total_ms, f.tasks_per_s,
                    );
                }
                println!("10k/1k time ratio: {ratio:.2} (10.0 = linear)");
                // The shipped binary keeps the system allocator; peak heap is
                // measured by the benchmark binary, which counts allocations.
                println!("peak heap: `cargo bench -p hivemind-dsl`");
                for f in &extra {
                    let scale = f.tasks as f64 / large.tasks as f64;
                    println!(
                        "{}/10k time ratio: {:.2} ({scale:.1} = linear)",
                        f.tasks,
                        f.total_ms / large.total_ms
                    );
                }
                let verdict = if large.total_ms < TARGET_10K_MS {
                    "meets"
                } else {
                    "MISSES"
                };
                println!(
                    "10k tasks in {:.1} ms: {verdict} the {TARGET_10K_MS} ms target",
                    large.total_ms
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug — use --release for real figures"
    } else {
        "release"
    }
}
