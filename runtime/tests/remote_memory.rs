//! A `RemoteMemory` hand-off moves real bytes through remote memory: the
//! producer (placed on the FPGA) has its result written into the
//! accelerator's memory (the software fallback here, no board), and its
//! consumer's input is read back from there, byte for byte.

use bytes::Bytes;
use hivemind_cost::Profile;
use hivemind_functions::{Backend, Ctx, InProcess, Registry, Request, Response};
use hivemind_ir::plan::{assemble, ChannelKind, Modality};
use hivemind_runtime::Figures;
use std::sync::{Arc, Mutex};

#[path = "common/driver.rs"]
mod common;

const MISSION: &str = "mission rm {
  duration 2 s
  fleet drones: drone x 1 { cpu 1 GHz; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s }
  cloud { servers 1; cores 4 each; fpga }
  task make at cloud -> frame: blob 100 KB { work 1 op; every 100 ms; fn make }
  task use(frame) at cloud { work 1 op; fn use }
}
";

/// 100 KB that name the instance that made them.
fn frame(instance: u64) -> Vec<u8> {
    (0..100_000u32)
        .map(|i| (instance as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

#[test]
fn a_remote_memory_hand_off_reads_the_producers_bytes_back() {
    let graph = hivemind_dsl::compile(MISSION, "rm.hm")
        .graph
        .expect("mission compiles");
    let synthesized = hivemind_synth::synthesize(&graph, Profile::default(), &Default::default())
        .expect("synthesis")
        .plan
        .expect("a plan");
    // The producer on the FPGA: its edge becomes a remote-memory channel.
    let make = graph.tasks.iter().find(|t| t.name == "make").unwrap().id;
    let modalities: Vec<Modality> = graph
        .tasks
        .iter()
        .map(|t| {
            if t.id == make {
                Modality::CloudFpga
            } else {
                Modality::Cloud
            }
        })
        .collect();
    let plan = assemble(
        &graph,
        &modalities,
        synthesized.strategy.clone(),
        &synthesized.profile_sha256,
    );
    assert_eq!(plan.channels[0].kind, ChannelKind::CloudRemoteMemory);
    let figures = Figures::new(&graph, &plan, Profile::default()).expect("figures");

    // Per consumer run: whether its input was a whole frame.
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let mut registry = Registry::new();
    registry.register("make", |_: &Ctx, req: &Request| {
        Ok(Response::new(Bytes::from(frame(req.instance)), 1))
    });
    {
        let seen = seen.clone();
        registry.register("use", move |_: &Ctx, req: &Request| {
            // A frame's bytes count up from its first one: anything else
            // (zeros, a cut, another payload) is not what was produced.
            let first = req.input.first().copied().unwrap_or(0);
            let ok = req.input.len() == 100_000
                && req
                    .input
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == first.wrapping_add(i as u8));
            seen.lock().unwrap().push(ok);
            Ok(Response::new(Bytes::new(), 1))
        });
    }
    let backend: Arc<dyn Backend> = Arc::new(InProcess::new(registry));
    let dir = tempfile::tempdir().expect("temp dir");
    let (driver, _, tx, _rt) = common::open(dir.path(), graph, plan, figures, backend);
    tx.send(hivemind_runtime::Input::Operator(
        hivemind_controller::Command::Start,
    ))
    .expect("queued");
    let outcome = driver.run(false).expect("run");
    let s = &outcome.stats;
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 5, "the consumer ran: {s:?}");
    assert!(
        seen.iter().all(|&ok| ok),
        "every input was its producer's frame: {seen:?}"
    );
    assert!(s.remote_puts >= seen.len() as u64, "{s:?}");
    assert_eq!(s.remote_fallbacks, 0, "{s:?}");
    assert_eq!(s.store_misses, 0, "{s:?}");
}
