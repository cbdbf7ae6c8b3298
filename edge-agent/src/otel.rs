//! The agent's side of tracing: a task runs in an `execute` span whose
//! parent is the controller's `dispatch` span (from the `RunTask` frame's
//! `traceparent`), and the result carries the `execute` span's context
//! back, so dispatch, execution and result are one trace across the two
//! processes. Export is `hivemind_otel`'s business (`--otlp`).

use hivemind_proto::{DeviceId, Epoch, InstanceId, LocalTask};
use tracing::field::Empty;
use tracing::Span;

/// The span a task attempt runs in, child of the controller's span that
/// `traceparent` names (a root span when it names none).
pub fn execute_span(
    device: DeviceId,
    epoch: Epoch,
    instance: InstanceId,
    task: &LocalTask,
    traceparent: &str,
) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "execute",
        otel.kind = "consumer",
        hivemind.device = hivemind_otel::int(device.0),
        hivemind.epoch = hivemind_otel::int(epoch.0),
        hivemind.instance = hivemind_otel::int(instance.0),
        hivemind.task = %task.name,
        hivemind.function = %task.function,
        hivemind.items = Empty,
        hivemind.output_bytes = Empty,
        hivemind.error = Empty,
        otel.status_code = Empty,
    );
    hivemind_otel::set_parent(&span, traceparent);
    span
}

/// What the result frame carries: the `execute` span's context, or, when
/// this agent exports nothing, the controller's own (so the result still
/// lands in the instance's trace).
pub fn answer_traceparent(span: &Span, incoming: &str) -> String {
    let own = hivemind_otel::traceparent(span);
    if own.is_empty() && hivemind_otel::is_valid(incoming) {
        incoming.to_owned()
    } else {
        own
    }
}

/// Record how the attempt ended on its span.
pub fn record_outcome(span: &Span, outcome: &Result<(bytes::Bytes, u32), String>) {
    match outcome {
        Ok((output, items)) => {
            span.record("hivemind.items", hivemind_otel::int(*items));
            span.record(
                "hivemind.output_bytes",
                hivemind_otel::int(output.len() as u64),
            );
        }
        Err(reason) => {
            span.record("hivemind.error", reason.as_str());
            span.record("otel.status_code", "ERROR");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> LocalTask {
        LocalTask {
            task: hivemind_ir::TaskId(1),
            name: "detect".into(),
            function: "detect".into(),
            service_us: 1,
            output_bytes: 1,
            items: 1,
            local_successors: Vec::new(),
            needs: Vec::new(),
        }
    }

    #[test]
    fn an_agent_that_exports_nothing_passes_the_controllers_context_on() {
        // No subscriber here: the execute span has no context of its own.
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = execute_span(DeviceId(1), Epoch(1), InstanceId(2), &task(), tp);
        assert_eq!(answer_traceparent(&span, tp), tp);
        // Garbage off the wire is not echoed back.
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let span = execute_span(DeviceId(1), Epoch(1), InstanceId(2), &task(), bad);
            assert_eq!(answer_traceparent(&span, bad), "");
        }
    }
}
