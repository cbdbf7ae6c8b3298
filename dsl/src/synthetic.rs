//! Generated missions of any size, for benchmarks and property tests.

use std::fmt::Write;

/// A valid mission with `tasks` tasks: a periodic capture per fleet feeding
/// layers of detect/classify tasks, each reading one or two earlier outputs,
/// with requirements on a few paths. Deterministic for a given `tasks`.
pub fn mission(tasks: usize) -> String {
    let tasks = tasks.max(2);
    let mut s = String::with_capacity(tasks * 110 + 1_000);
    s.push_str(
        "mission generated {\n  duration 30 min\n  area field = rect(0 m, 0 m, 400 m, 300 m)\n\n  fleet drones: drone x 16 {\n    cpu 1.2 GHz x 4\n    battery 5000 mAh @ 15.2 V\n    radio 20 Mbit/s\n    speed 8 m/s\n    sensors camera(1280x720), gps\n  }\n  cloud { servers 12; cores 40 each; price $0.0000166 per GB-s }\n\n  task sweep on drones { cover field; lane 12 m }\n  task t0 on drones -> d0: image 1280x720 { every 1 s; needs camera }\n",
    );
    // Small xorshift so the shape varies but stays reproducible.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 1..tasks {
        let a = next() as usize % i;
        let b = next() as usize % i;
        let inputs = if a == b || i < 3 {
            format!("d{a}")
        } else {
            format!("d{a}, d{b}")
        };
        let work = 1 + next() % 900;
        let pin = match next() % 4 {
            0 => " at cloud",
            1 => " at edge",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  task t{i}({inputs}){pin} -> d{i}: boxes {} KB {{ work {work} Mop; fn f{} }}",
            1 + next() % 64,
            i % 10
        );
    }
    let _ = writeln!(s, "  task sink(d{}) {{ work 1 Mop }}", tasks - 1);
    for k in 0..(tasks / 100).max(1) {
        let target = (k * 97 + 7) % tasks;
        if target > 0 {
            let _ = writeln!(s, "  require latency(t0 -> t{target}) p99 < 5 s");
        }
    }
    s.push_str("  require cloud_cost < $5 per hour\n  minimize energy then latency\n  on device_failure { repartition field }\n  on straggler(2x median) { relaunch }\n}\n");
    s
}

/// Heap accounting for benchmarks: install with
/// `#[global_allocator] static A: PeakAlloc = PeakAlloc::new();`.
pub struct PeakAlloc {
    current: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl PeakAlloc {
    pub const fn new() -> Self {
        PeakAlloc {
            current: std::sync::atomic::AtomicUsize::new(0),
            peak: std::sync::atomic::AtomicUsize::new(0),
        }
    }
    pub fn current(&self) -> usize {
        self.current.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Forget the old peak: the next [`PeakAlloc::peak`] is measured from now.
    pub fn reset_peak(&self) {
        self.peak
            .store(self.current(), std::sync::atomic::Ordering::Relaxed);
    }
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Default for PeakAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: forwards to the system allocator and only adds counters.
unsafe impl std::alloc::GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            let now = self.current.fetch_add(layout.size(), Relaxed) + layout.size();
            self.peak.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        self.current
            .fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Figures for compiling one generated mission.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CompileFigures {
    pub tasks: usize,
    pub source_bytes: usize,
    pub runs: usize,
    /// Median over the runs, milliseconds.
    pub parse_ms: f64,
    pub check_ms: f64,
    pub total_ms: f64,
    pub tasks_per_s: f64,
    /// Peak heap above the level before compiling, bytes (0 without a [`PeakAlloc`]).
    pub peak_heap_bytes: usize,
}

/// Compile a generated `tasks`-task mission `runs` times and report medians.
pub fn measure_compile(tasks: usize, runs: usize, alloc: Option<&PeakAlloc>) -> CompileFigures {
    use std::time::Instant;
    let src = mission(tasks);
    let runs = runs.max(1);
    let mut parse = Vec::with_capacity(runs);
    let mut check = Vec::with_capacity(runs);
    let mut peak = 0;
    for _ in 0..runs {
        let base = alloc.map_or(0, |a| {
            a.reset_peak();
            a.current()
        });
        let t0 = Instant::now();
        let ast = crate::parser::parse(&src);
        let t1 = Instant::now();
        let graph_ok = match &ast {
            Ok(m) => crate::check::check(m, &src, "generated.hm").graph.is_some(),
            Err(_) => false,
        };
        let t2 = Instant::now();
        assert!(graph_ok, "generated mission must compile");
        if let Some(a) = alloc {
            peak = peak.max(a.peak().saturating_sub(base));
        }
        drop(ast);
        parse.push((t1 - t0).as_secs_f64() * 1e3);
        check.push((t2 - t1).as_secs_f64() * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut total: Vec<f64> = parse.iter().zip(&check).map(|(a, b)| a + b).collect();
    let total_ms = median(&mut total);
    CompileFigures {
        tasks,
        source_bytes: src.len(),
        runs,
        parse_ms: median(&mut parse),
        check_ms: median(&mut check),
        total_ms,
        tasks_per_s: tasks as f64 / (total_ms / 1e3),
        peak_heap_bytes: peak,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_missions_compile_cleanly() {
        for n in [2, 10, 150] {
            let src = super::mission(n);
            let out = crate::compile(&src, "gen.hm");
            let errors: Vec<_> = out.errors().map(|d| d.message.clone()).collect();
            assert!(errors.is_empty(), "{n} tasks: {errors:?}");
            assert_eq!(out.graph.map(|g| g.tasks.len()), Some(n + 2));
        }
    }
}

/// A placement problem of `tasks` tasks where every compute task may run at
/// all three modalities (edge, cloud, cloud+FPGA): a sensing task per fleet
/// feeding a random layered DAG, latency requirements on a few paths, a
/// cloud budget (5 + tasks/10 $/h, which all-cloud placements meet) and a
/// battery reserve. Deterministic for (`tasks`, `seed`).
pub fn placement_mission(tasks: usize, seed: u64) -> String {
    placement_mission_with_budget(tasks, seed, 5 + tasks as u64 / 10)
}

/// [`placement_mission`] with a cloud budget of `usd_per_hour`: below what
/// an all-cloud placement costs, the budget binds and work must move to the
/// devices (a knapsack between energy and money).
pub fn placement_mission_with_budget(tasks: usize, seed: u64, usd_per_hour: u64) -> String {
    let tasks = tasks.max(2);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let mut s = String::with_capacity(tasks * 120 + 1_000);
    s.push_str("mission placement {\n  duration 10 min\n");
    s.push_str("  fleet drones: drone x 16 { cpu 1.2 GHz x 4; battery 5000 mAh @ 15.2 V; radio 20 Mbit/s; sensors camera }\n");
    s.push_str("  fleet cars: car x 14 { cpu 1.2 GHz x 4; battery 50 Wh; radio 50 Mbit/s; sensors lidar }\n");
    s.push_str("  cloud { servers 12; cores 40 each; price $0.0000166667 per GB-s; fpga }\n");
    s.push_str("  task cam on drones -> d0: jpeg 120 KB { every 1 s; needs camera }\n");
    s.push_str("  task scan on cars -> d1: scan 400 KB { every 2 s; needs lidar }\n");
    // Layers of ~8 tasks, each reading one or two outputs of earlier layers.
    // `root[i]` is the sensing task that task i descends from (via its first input).
    let mut root: Vec<&str> = vec!["cam", "scan"];
    for i in 2..tasks {
        let layer_start = if i < 10 { 0 } else { i - 8 - (i % 8) };
        let a = layer_start + next((i - layer_start) as u64) as usize;
        let b = layer_start + next((i - layer_start) as u64) as usize;
        let inputs = if a != b && next(3) == 0 {
            format!("d{a}, d{b}")
        } else {
            format!("d{a}")
        };
        root.push(root[a]);
        let _ = writeln!(
            s,
            "  task t{i}({inputs}) -> d{i}: blob {} KB {{ work {} Mop; fn f{} }}",
            1 + next(200),
            5 + next(400),
            i % 20
        );
    }
    for k in 0..(tasks / 25).max(1) {
        let target = 2 + (k * 37 + 11) % (tasks - 2).max(1);
        if target < tasks {
            // About 150 ms per layer of depth, so the deadlines are tight but possible.
            let depth = 1 + target as u64 / 8;
            let _ = writeln!(
                s,
                "  require latency({} -> t{target}) p95 < {} ms",
                root[target],
                300 + 150 * depth + next(1500)
            );
        }
    }
    let _ = writeln!(s, "  require cloud_cost < ${usd_per_hour} per hour");
    s.push_str("  require battery(drones) >= 10%\n  minimize energy then latency\n}\n");
    s
}

#[cfg(test)]
mod placement_tests {
    #[test]
    fn placement_missions_compile_cleanly() {
        for n in [10, 12, 50, 200] {
            let src = super::placement_mission(n, 7);
            let out = crate::compile(&src, "p.hm");
            let errors: Vec<_> = out
                .errors()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect();
            assert!(errors.is_empty(), "{n}: {errors:?}\n{src}");
            assert_eq!(out.graph.map(|g| g.tasks.len()), Some(n));
        }
    }
}

/// SplitMix64, so generated missions are the same on every platform.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A random valid placement problem with `n` tasks, for property tests
/// against the exhaustive oracle: one or two fleets, random pins, sizes and
/// work; random latency, execution-time, cost and battery requirements, a
/// sometimes tiny cloud (so CPU capacity binds), and a random order of
/// objectives. Deterministic for (`seed`, `n`).
pub fn random_mission(seed: u64, n: usize) -> String {
    let mut r = Rng(seed);
    let mut s = String::new();
    let minutes = 2 + r.below(20);
    let _ = writeln!(s, "mission rand {{\n  duration {minutes} min");
    let two_fleets = r.below(2) == 0;
    let _ = writeln!(
        s,
        "  fleet f0: drone x {} {{ cpu {} MHz; battery {} mAh @ 11.1 V; radio {} Mbit/s; sensors camera }}",
        1 + r.below(16),
        400 + r.below(1600),
        1000 + r.below(9000),
        1 + r.below(50)
    );
    if two_fleets {
        let _ = writeln!(
            s,
            "  fleet f1: car x {} {{ cpu {} MHz x 4; battery {} Wh; radio {} Mbit/s; sensors lidar }}",
            1 + r.below(14),
            600 + r.below(1200),
            5 + r.below(50),
            5 + r.below(100)
        );
    }
    let fpga = if r.below(2) == 0 { "; fpga" } else { "" };
    let _ = writeln!(
        s,
        "  cloud {{ servers {}; cores {} each; price $0.0000{} per GB-s{fpga} }}",
        1 + r.below(4),
        if r.below(6) == 0 { 1 } else { 16 },
        10 + r.below(90)
    );
    let _ = writeln!(
        s,
        "  task t0 on f0 -> d0: frame {} KB {{ every {} ms; needs camera }}",
        1 + r.below(300),
        100 + r.below(2000)
    );
    for i in 1..n {
        let a = r.below(i as u64);
        let b = r.below(i as u64);
        let inputs = if a != b && r.below(3) == 0 {
            format!("d{a}, d{b}")
        } else {
            format!("d{a}")
        };
        let pin = match r.below(8) {
            0 => " at cloud",
            1 => " at edge",
            2 if two_fleets => " on f1",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  task t{i}({inputs}){pin} -> d{i}: blob {} KB {{ work {} Mop; fn f{i} }}",
            1 + r.below(500),
            1 + r.below(3000)
        );
    }
    let paths = if n > 1 { 1 + r.below(2) } else { 0 };
    for _ in 0..paths {
        let target = 1 + r.below(n as u64 - 1);
        let pct = ["p50", "p95", "p99", ""][r.below(4) as usize];
        let _ = writeln!(
            s,
            "  require latency(t0 -> t{target}) {pct} < {} ms",
            20 + r.below(4000)
        );
    }
    if n > 1 && r.below(4) == 0 {
        let _ = writeln!(
            s,
            "  require exec_time(t{}) p95 < {} ms",
            1 + r.below(n as u64 - 1),
            1 + r.below(20_000)
        );
    }
    if r.below(5) == 0 {
        // The mission's duration plus up to a minute for its critical path.
        let _ = writeln!(s, "  require exec_time <= {} s", minutes * 60 + r.below(60));
    }
    if r.below(2) == 0 {
        let cents = 1 + r.below(300);
        let _ = writeln!(
            s,
            "  require cloud_cost < ${}.{:02} per hour",
            cents / 100,
            cents % 100
        );
    }
    match r.below(6) {
        0 | 1 => {
            let _ = writeln!(s, "  require battery >= {}%", 1 + r.below(60));
        }
        2 if two_fleets => {
            let _ = writeln!(s, "  require battery(f1) > {}%", 1 + r.below(90));
        }
        _ => {}
    }
    let mut objectives = ["latency", "energy", "cost", "bytes", "exec_time"];
    for i in (1..objectives.len()).rev() {
        objectives.swap(i, r.below(i as u64 + 1) as usize);
    }
    let k = 1 + r.below(3) as usize;
    let _ = writeln!(s, "  minimize {}", objectives[..k].join(" then "));
    // Continuous learning, drawn last so the rest of a seed's mission is
    // what it was before learning had an effect.
    if n > 1 && r.below(3) == 0 {
        let _ = writeln!(
            s,
            "  learning on {{ retrain t{} every {} min from t{} model {} MB work {} Mop per sample }}",
            1 + r.below(n as u64 - 1),
            1 + r.below(10),
            r.below(n as u64),
            1 + r.below(100),
            1 + r.below(50)
        );
    }
    s.push_str("}\n");
    s
}
