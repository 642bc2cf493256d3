#!/usr/bin/env python3
"""grpcio client for greeter.Greeter over TLS, with or without a client certificate.

Usage:
    GREETER_PY_GEN=DIR python mtls_client.py --addr 127.0.0.1:PORT --ca CA.pem \
        --name server.test [--cert client.pem --key client.key]

Prints "OK <message>" for an answer, "ERR <STATUS_CODE>" for a failed call; exits 0 either
way (the test judges), 2 on a setup error.
"""

import argparse
import os
import sys

sys.path.insert(0, os.environ.get("GREETER_PY_GEN", "."))

import grpc  # noqa: E402

try:
    import greeter_pb2  # noqa: E402
    import greeter_pb2_grpc  # noqa: E402
except ImportError as exc:
    sys.stderr.write("cannot import the generated stubs: %s\n" % exc)
    sys.exit(2)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--name", required=True, help="the server name to check the certificate against")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    options = [("grpc.ssl_target_name_override", args.name)]
    with grpc.secure_channel(args.addr, credentials, options=options) as channel:
        stub = greeter_pb2_grpc.GreeterStub(channel)
        try:
            reply = stub.SayHello(greeter_pb2.HelloRequest(name="python"), timeout=10)
            print("OK %s" % reply.message, flush=True)
        except grpc.RpcError as err:
            print("ERR %s" % err.code().name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
