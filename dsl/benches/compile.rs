//! `cargo bench -p hivemind-dsl`: compile generated missions of 1k and 10k
//! tasks and print tasks/s, peak heap and the 10k/1k ratio.

use hivemind_dsl::synthetic::{measure_compile, PeakAlloc};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test` run one quick round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (r1, r10) = if quick { (1, 1) } else { (15, 7) };
    let _ = measure_compile(1_000, 1, None);
    let small = measure_compile(1_000, r1, Some(&ALLOC));
    let large = measure_compile(10_000, r10, Some(&ALLOC));
    for f in [&small, &large] {
        println!(
            "compile {:>6} tasks: {:>8.2} ms (parse {:.2}, check {:.2}), {:>9.0} tasks/s, peak heap {:.1} MiB",
            f.tasks,
            f.total_ms,
            f.parse_ms,
            f.check_ms,
            f.tasks_per_s,
            f.peak_heap_bytes as f64 / (1 << 20) as f64
        );
    }
    println!(
        "ratio 10k/1k: {:.2} (10.0 = linear); target 10k < 200 ms: {}",
        large.total_ms / small.total_ms,
        large.total_ms < 200.0
    );
}
