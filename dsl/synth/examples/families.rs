//! Quick runs of the binding families: `cargo run --release -p hivemind-synth
//! --example families -- [timeout_s] [naive] [family=...] [tasks=...] [seeds=...]`;
//! `mission`: print the missions instead (`tests/data/battery-1000-s1.hm` is
//! `families -- mission family=battery tasks=1000 seeds=1`).

use hivemind_synth::bench::{measure, Family};
use hivemind_synth::Options;
use std::time::Duration;

fn main() {
    hivemind_synth::worker::main_if_worker();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let timeout: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let naive = args.iter().any(|a| a == "naive");
    // `trace`: the synthesizer's debug events (RUST_LOG filters them).
    if args.iter().any(|a| a == "trace") {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "hivemind_synth=debug".into()),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let pick = |key: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{key}=")))
            .map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
    };
    let families: Vec<Family> = match pick("family") {
        Some(names) => Family::ALL
            .into_iter()
            .filter(|f| names.iter().any(|n| n == f.name()))
            .collect(),
        None => Family::ALL.to_vec(),
    };
    let sizes: Vec<usize> = pick("tasks")
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect())
        .unwrap_or(vec![50, 200, 1_000]);
    let seeds: Vec<u64> = pick("seeds")
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect())
        .unwrap_or(vec![1, 2, 3]);
    // `inprocess`: z3 stages in this process (no worker), as before.
    let options = Options {
        timeout: Duration::from_secs_f64(timeout),
        z3_worker: if args.iter().any(|a| a == "inprocess") {
            hivemind_synth::Worker::InProcess
        } else {
            hivemind_synth::Worker::Auto
        },
        ..Options::default()
    };
    if args.iter().any(|a| a == "greedy") {
        for f in &families {
            for &n in &sizes {
                for &seed in &seeds {
                    let src = hivemind_synth::bench::mission(*f, n, seed).expect("mission");
                    let graph = hivemind_dsl::compile(&src, "f.hm").graph.expect("graph");
                    let model =
                        hivemind_cost::CostModel::new(&graph, Default::default()).expect("model");
                    for limit in [2.5, 1000.0] {
                        let t = std::time::Instant::now();
                        let g = hivemind_synth::search::greedy_within(
                            &model,
                            Some(t + Duration::from_secs_f64(limit)),
                        );
                        let e = g.as_ref().map(|(_, e)| e);
                        println!("{} {n} {seed} limit {limit}: {:.2}s feasible {:?} unmet {:?} busy {:?} cloud {:?}", f.name(), t.elapsed().as_secs_f64(),
                            e.map(|e| e.feasible()), e.map(|e| e.requirements.iter().filter(|r| !r.met).count()),
                            e.map(|e| e.fleet_busy_permille.clone()), e.map(|e| e.cloud_busy_permille));
                        if let Some(e) = e {
                            for (r, v) in e.requirements.iter().enumerate().filter(|(_, v)| !v.met)
                            {
                                println!(
                                    "  unmet {:?}: predicted {:?} bound {}",
                                    graph.requirements[r].kind, v.predicted, v.bound
                                );
                            }
                        }
                    }
                }
            }
        }
        return;
    }
    // `mission`: print the generated mission texts (the tests' data files).
    if args.iter().any(|a| a == "mission") {
        for f in &families {
            for &n in &sizes {
                for &seed in &seeds {
                    print!(
                        "{}",
                        hivemind_synth::bench::mission(*f, n, seed).expect("mission")
                    );
                }
            }
        }
        return;
    }
    if args.iter().any(|a| a == "show") {
        for f in &families {
            for &n in &sizes {
                for &seed in &seeds {
                    let src = hivemind_synth::bench::mission(*f, n, seed).expect("mission");
                    let graph = hivemind_dsl::compile(&src, "f.hm").graph.expect("graph");
                    let out = hivemind_synth::synthesize(&graph, Default::default(), &options)
                        .expect("synth");
                    let reqs: Vec<&str> = src
                        .lines()
                        .filter(|l| {
                            l.contains("require") || l.contains("minimize") || l.contains("fleet")
                        })
                        .collect();
                    println!(
                        "{}\n{}",
                        reqs.join("\n"),
                        hivemind_synth::report::render(&graph, &out)
                    );
                }
            }
        }
        return;
    }
    for f in &families {
        for &n in &sizes {
            for &seed in &seeds {
                match measure(*f, n, seed, &options, naive) {
                    Ok(r) => println!(
                        "{:>8} {:>5} {:>3} {:>10} gap {:>7} {:>8} {:>6.2}s {:>5}MiB worker {:>4}MiB greedy {:>7} naive {:?} {:>7} {}",
                        f.name(),
                        r.tasks,
                        seed,
                        r.status.map_or(format!("none ({:?})", r.error), |s| format!("{s:?}")),
                        r.gap_percent.map_or("-".into(), |g| format!("{g:.2}%")),
                        r.stopped.map_or("-".into(), |s| format!("{s:?}")),
                        r.seconds,
                        r.peak_rss_mib,
                        r.worker_peak_rss_mib,
                        r.greedy_excess_percent.map_or("-".into(), |g| format!("{g:+.1}%")),
                        r.naive.as_ref().map(|n| (n.status, (n.seconds * 100.0).round() / 100.0, n.peak_rss_mib)),
                        r.naive_excess_percent.map_or("-".into(), |g| format!("{g:+.1}%")),
                        r.z3_cut.join("; "),
                    ),
                    Err(e) => println!("{:>8} {n:>5} {seed:>3} error: {e}", f.name()),
                }
            }
        }
    }
}
