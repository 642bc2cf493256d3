"""Calls every RPC of the zoo's .proto files on a wirecall server, with grpcio and the stubs
grpc_tools.protoc generated from the same files.

Usage: call_all.py GEN_DIR HOST:PORT MODULE [MODULE ...]   (MODULE: e.g. zoo.clash_pb2)

The server's promises (src/main.rs): each answer carries the header `x-rpc` with the RPC's
path; server streaming answers 2 messages; client streaming answers the header `x-count`
with the number of requests; bidirectional answers one message per request. Exits non-zero,
naming the RPC, on the first broken promise.
"""
import importlib
import sys

import grpc
from google.protobuf import message_factory

STREAMED = 3
SERVER_STREAMED = 2


def main():
    gen_dir, addr, modules = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.path.insert(0, gen_dir)
    channel = grpc.insecure_channel(addr)
    grpc.channel_ready_future(channel).result(timeout=10)
    called = 0
    for name in modules:
        module = importlib.import_module(name)
        # The service stubs must be importable Python too, whatever the names.
        importlib.import_module(name + "_grpc")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                call_one(channel, service, method)
                called += 1
    print(f"zoo: the Python grpcio client called {called} RPCs, every answer as promised")


def call_one(channel, service, method):
    path = f"/{service.full_name}/{method.name}"
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kwargs = dict(
        # proto2 required fields stay unset in a default request: send it anyway.
        request_serializer=lambda m: m.SerializePartialToString(),
        response_deserializer=response_class.FromString,
    )
    request = request_class()
    streaming = (method.client_streaming, method.server_streaming)
    if streaming == (False, False):
        _, call = channel.unary_unary(path, **kwargs).with_call(request, timeout=10)
        headers, count = dict(call.initial_metadata()), 1
    elif streaming == (False, True):
        responses = channel.unary_stream(path, **kwargs)(request, timeout=10)
        headers = dict(responses.initial_metadata())
        count = sum(1 for _ in responses)
        expect(path, count == SERVER_STREAMED, f"{count} messages")
    elif streaming == (True, False):
        _, call = channel.stream_unary(path, **kwargs).with_call(
            iter([request] * STREAMED), timeout=10
        )
        headers, count = dict(call.initial_metadata()), 1
        expect(path, headers.get("x-count") == str(STREAMED), f"x-count {headers.get('x-count')}")
    else:
        responses = channel.stream_stream(path, **kwargs)(iter([request] * STREAMED), timeout=10)
        headers = dict(responses.initial_metadata())
        count = sum(1 for _ in responses)
        expect(path, count == STREAMED, f"{count} messages")
    expect(path, headers.get("x-rpc") == path, f"answered by {headers.get('x-rpc')!r}")


def expect(path, ok, what):
    if not ok:
        sys.exit(f"zoo: {path}: {what}")


if __name__ == "__main__":
    main()
