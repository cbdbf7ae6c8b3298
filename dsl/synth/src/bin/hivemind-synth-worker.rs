//! A z3 worker for `hivemind_synth` and nothing else: serves one z3 stage
//! from stdin when started by the synthesizer (`Worker::Child`). Programs
//! that synthesize call `hivemind_synth::worker::main_if_worker` and are
//! their own workers; this one is for the crate's tests and for programs
//! that cannot.

fn main() {
    hivemind_synth::worker::main_if_worker();
    eprintln!(
        "hivemind-synth-worker serves the synthesizer's z3 stages; it is started by it, with {} set",
        hivemind_synth::worker::WORKER_ENV
    );
    std::process::exit(2);
}
