//! Throughput of the controller core (not a timed test: prints numbers).
//!
//! 1. A deterministic world runs a mission on 10,000 devices until 1,000,000
//!    task instances were created, recording every call into the core
//!    (events and timeouts).
//! 2. The recorded calls are replayed through a fresh core, timing each
//!    `handle` / `handle_timeout` (+ draining its effects): calls/s and p99
//!    per call.
//! 3. Heap bytes of controller state per idle (joined, heartbeating) device,
//!    measured with a counting allocator.
//! 4. Journal appends with group commit (one fsync per 1,000 records).
//!
//! Targets: >= 1,000,000 events/s, < 2 KiB per idle device, >= 100,000
//! journal records/s.

// A benchmark measures wall time; the core itself never reads the clock.
#![allow(clippy::disallowed_methods)]

use hivemind_controller::journal::Journal;
use hivemind_controller::{Config, Controller, DeviceId, Epoch, Event, Micros, Record};
use hivemind_ir::{FleetId, PointMm};
use hivemind_sim::{simple_plan, Input, World, WorldConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// (on-CPU, waiting-for-a-CPU) nanoseconds of this thread so far, from
/// Linux's schedstat: on a shared machine wall time includes the time the
/// benchmark was runnable but not running, which is not the core's cost.
fn sched_ns() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut f = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
}

/// `cargo bench` passes `--bench`; under `cargo test` (no flag) the same
/// code runs at a small scale as a smoke test.
fn full_scale() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn devices() -> u32 {
    if full_scale() {
        10_000
    } else {
        200
    }
}

fn instances() -> u64 {
    if full_scale() {
        1_000_000
    } else {
        20_000
    }
}

fn mission() -> hivemind_dsl::TaskGraph {
    let devices = devices();
    let src = format!(
        "mission bench {{
  area field = rect(0 m, 0 m, 10000 m, 10000 m)
  fleet drones: drone x {devices} {{
    cpu 1.0 GHz x 1
    battery 1500 mAh @ 11.1 V
    radio 20 Mbit/s
    speed 5 m/s
    sensors camera(640x360), gps
  }}
  task sweep on drones {{ cover field; lane 25 m }}
  task capture on drones -> frame: jpeg 10 KB {{ every 1 s; needs camera }}
  task detect(frame) on drones -> boxes: boxes 100 B {{ work 10 Mop }}
  on device_failure {{ repartition field }}
  on straggler(2x median) {{ relaunch }}
}}
"
    );
    hivemind_dsl::compile(&src, "bench.hm")
        .graph
        .expect("bench mission compiles")
}

fn controller(graph: &hivemind_dsl::TaskGraph) -> Controller {
    Controller::new(Config::default(), graph.clone(), simple_plan(graph), 1).expect("plan")
}

fn main() {
    let graph = mission();

    // 1. Record a run.
    let t0 = Instant::now();
    let mut w = World::new(controller(&graph), WorldConfig::default());
    w.keep_effects = false;
    let mut t = Micros::ZERO;
    while w.ctl.instances_created() < instances() {
        t = t.plus(1_000_000);
        w.run_until(t);
        w.publications.clear();
    }
    let log = std::mem::take(&mut w.log);
    println!(
        "recorded {} calls ({} events, {} timeouts; {} instances, {} devices, {:.1} s virtual) in {:.1} s",
        log.len(),
        w.events_handled,
        w.timeouts_handled,
        w.ctl.instances_created(),
        devices(),
        t.0 as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    drop(w);

    // 2. Replay through a fresh core.
    let mut c = controller(&graph);
    c.drain_effects().for_each(drop);
    let mut per_event: Vec<u32> = Vec::with_capacity(log.len());
    let mut effects = 0u64;
    let sched0 = sched_ns();
    let start = Instant::now();
    for (at, input) in log.iter() {
        let s = Instant::now();
        match input {
            Input::Event(e) => c.handle(*at, e.clone()),
            Input::Timeout => c.handle_timeout(*at),
        }
        effects += c.drain_effects().count() as u64;
        per_event.push(s.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
    }
    let secs = start.elapsed().as_secs_f64();
    let sched1 = sched_ns();
    let unsorted = per_event.clone();
    per_event.sort_unstable();
    let p = |q: f64| per_event[((per_event.len() as f64 * q) as usize).min(per_event.len() - 1)];
    println!(
        "core: {:.0} calls/s ({} calls, {} effects, {:.2} s); per call p50 {} ns, p99 {} ns, max {} ns",
        log.len() as f64 / secs,
        log.len(),
        effects,
        secs,
        p(0.5),
        p(0.99),
        per_event.last().copied().unwrap_or(0)
    );
    if let (Some((run0, wait0)), Some((run1, wait1))) = (sched0, sched1) {
        let cpu = (run1 - run0) as f64 / 1e9;
        println!(
            "core on CPU: {:.0} calls/s ({:.2} s on CPU, {:.2} s waiting for a CPU)",
            log.len() as f64 / cpu,
            cpu,
            (wait1 - wait0) as f64 / 1e9
        );
    }
    // Where the time goes, by kind of call (the slowest call's kind too).
    let mut by_kind: std::collections::BTreeMap<&str, (u64, u64, u32)> = Default::default();
    for ((_, input), ns) in log.iter().zip(&unsorted) {
        let kind = match input {
            Input::Timeout => "timeout",
            Input::Event(Event::Heartbeat { .. }) => "heartbeat",
            Input::Event(Event::Telemetry { .. }) => "telemetry",
            Input::Event(Event::TaskResult { .. }) => "result",
            Input::Event(_) => "other event",
        };
        let e = by_kind.entry(kind).or_default();
        e.0 += 1;
        e.1 += u64::from(*ns);
        e.2 = e.2.max(*ns);
    }
    for (kind, (n, ns, max)) in by_kind {
        println!(
            "  {kind}: {n} calls, {:.2} s, mean {} ns, max {} ns",
            ns as f64 / 1e9,
            ns / n.max(1),
            max
        );
    }
    drop(c);

    // 3. State per idle device: join 10k devices, start, heartbeat once.
    let before = LIVE.load(Ordering::Relaxed);
    let mut c = controller(&graph);
    c.drain_effects().for_each(drop);
    let base = LIVE.load(Ordering::Relaxed);
    for d in 0..devices() {
        c.handle(
            Micros(0),
            Event::DeviceJoined {
                device: DeviceId(d),
                fleet: FleetId(0),
                battery_uj: 1,
                position: PointMm { x_mm: 0, y_mm: 0 },
            },
        );
        c.drain_effects().for_each(drop);
    }
    for d in 0..devices() {
        c.handle(
            Micros(10),
            Event::Heartbeat {
                device: DeviceId(d),
                epoch: Epoch(1),
            },
        );
    }
    c.drain_effects().for_each(drop);
    let after = LIVE.load(Ordering::Relaxed);
    println!(
        "state per idle device: {} bytes (controller without devices: {} bytes)",
        (after - base) / devices() as isize,
        base - before
    );
    drop(c);

    // 4. Journal appends with group commit.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create(&dir.path().join("bench.journal"), [0; 32]).expect("journal");
    let records: Vec<Record> = log
        .iter()
        .filter_map(|(at, input)| match input {
            // What the core journals: every event but heartbeats.
            Input::Event(Event::Heartbeat { .. }) | Input::Timeout => None,
            Input::Event(e) => Some(Record::Event {
                at: *at,
                event: e.clone(),
            }),
        })
        .take(300_000)
        .collect();
    let start = Instant::now();
    let mut n = 0u64;
    for chunk in records.chunks(1_000) {
        for r in chunk {
            j.append(r);
        }
        n += j.commit().expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "journal: {:.0} records/s ({} records, {} bytes, groups of 1000, fsync per group)",
        n as f64 / secs,
        n,
        j.len()
    );
}
