#!/usr/bin/env python3
"""grpcio backends for the client-side health checking and outlier detection tests.

Usage: python backends.py --addr 127.0.0.41:PORT [--addr ...] [--health SERVICE]

Each --addr gets its own grpcio server with wirecall.test.echo.Echo/Unary (the request's
bytes sent back: EchoRequest's message field is EchoResponse's) and, with --health,
grpcio-health-checking's servicer with SERVICE SERVING. Prints "ready" once all listen, then
reads commands on stdin, one per line, answering each with one line:

  health I STATUS    sets SERVICE's status on backend I (SERVING, NOT_SERVING) -> "ok"
  fail I N           backend I fails every Nth call with INTERNAL (0: none)  -> "ok"
  counts             -> "counts C0 C1 ..." the calls each backend answered, OK or not
  quit               stops everything
"""

import argparse
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


class Backend:
    def __init__(self, addr, service):
        self.calls = 0
        self.fail_every = 0
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = grpc.unary_unary_rpc_method_handler(self.unary)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("wirecall.test.echo.Echo", {"Unary": handler})]
        )
        self.health = None
        if service is not None:
            self.health = health.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        if self.server.add_insecure_port(addr) == 0:
            raise SystemExit(f"cannot listen on {addr}")
        self.server.start()

    def unary(self, request, context):
        with self.lock:
            self.calls += 1
            failing = self.fail_every and self.calls % self.fail_every == 0
        if failing:
            context.abort(grpc.StatusCode.INTERNAL, "this backend fails some calls")
        return request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", action="append", required=True)
    parser.add_argument("--health")
    args = parser.parse_args()
    backends = [Backend(addr, args.health) for addr in args.addr]
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "health":
            status = health_pb2.HealthCheckResponse.ServingStatus.Value(words[2])
            backends[int(words[1])].health.set(args.health, status)
            print("ok", flush=True)
        elif words[0] == "fail":
            backend = backends[int(words[1])]
            with backend.lock:
                backend.fail_every = int(words[2])
            print("ok", flush=True)
        elif words[0] == "counts":
            print("counts", *(b.calls for b in backends), flush=True)
        elif words[0] == "quit":
            break
    for backend in backends:
        backend.server.stop(0)


if __name__ == "__main__":
    main()
