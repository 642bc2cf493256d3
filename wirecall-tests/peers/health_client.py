#!/usr/bin/env python3
"""grpcio-health-checking's client against a server's grpc.health.v1.Health.

Usage: python health_client.py --addr 127.0.0.1:PORT --service NAME --watch N

Prints one line per answer: "check <service> <STATUS>" for Check of "" and of --service,
"check missing <CODE>" for an unknown service, then "watch <STATUS>" for each of the first
N messages of Watch(--service). Exits 0; the test judges the lines.
"""

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--watch", type=int, default=0)
    args = parser.parse_args()
    with grpc.insecure_channel(args.addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ["", args.service]:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            print("check %s %s" % (service or '""', name(reply.status)), flush=True)
        try:
            stub.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
            print("check missing OK", flush=True)
        except grpc.RpcError as err:
            print("check missing %s" % err.code().name, flush=True)
        if args.watch:
            updates = stub.Watch(health_pb2.HealthCheckRequest(service=args.service), timeout=30)
            for i, update in enumerate(updates):
                print("watch %s" % name(update.status), flush=True)
                if i + 1 == args.watch:
                    break
    return 0


if __name__ == "__main__":
    sys.exit(main())
