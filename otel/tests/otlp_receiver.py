#!/usr/bin/env python3
"""A minimal OTLP/gRPC trace receiver for the tracing tests.

It is built from the OpenTelemetry project's own protocol definitions
(`opentelemetry-proto`) and `grpcio`, so the spans our exporter sends are
decoded by code nobody here wrote. Every received span becomes one JSON
line in OUT:

  {"service", "scope", "name", "trace_id", "span_id", "parent_span_id",
   "kind", "attributes": {k: v}, "events": [name], "links": [trace_id]}

It listens on 127.0.0.1 on a free port, prints `listening PORT` on stdout,
and stops when stdin closes or after --max-seconds.

Usage: otlp_receiver.py OUT [--max-seconds N]
"""

import json
import sys
import threading
from concurrent import futures

try:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import (
        trace_service_pb2,
        trace_service_pb2_grpc,
    )
except ImportError as e:  # the Rust test turns this into a failure
    print(f"missing python module: {e}; run scripts/install-deps", file=sys.stderr)
    sys.exit(3)


def value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("array_value", "kvlist_value"):
        return str(getattr(v, kind))
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


class Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()

    def Export(self, request, context):
        lines = []
        for rs in request.resource_spans:
            service = ""
            for kv in rs.resource.attributes:
                if kv.key == "service.name":
                    service = value(kv.value)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    lines.append(
                        json.dumps(
                            {
                                "service": service,
                                "scope": ss.scope.name,
                                "name": s.name,
                                "trace_id": s.trace_id.hex(),
                                "span_id": s.span_id.hex(),
                                "parent_span_id": s.parent_span_id.hex(),
                                "kind": s.kind,
                                "attributes": {
                                    kv.key: value(kv.value) for kv in s.attributes
                                },
                                "events": [e.name for e in s.events],
                                "links": [l.trace_id.hex() for l in s.links],
                            }
                        )
                    )
        with self.lock:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()
        return trace_service_pb2.ExportTraceServiceResponse()


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    max_seconds = 300.0
    if "--max-seconds" in args:
        i = args.index("--max-seconds")
        max_seconds = float(args[i + 1])
        del args[i : i + 2]
    out = open(args[0], "a", encoding="utf-8")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(out), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening {port}", flush=True)
    done = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait(max_seconds)
    server.stop(grace=1).wait()
    out.close()


if __name__ == "__main__":
    main()
