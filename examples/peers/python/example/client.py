#!/usr/bin/env python3
"""grpcio client of example.proto (`Example`, no package): runs the steps of
examples/README.md against a server and checks every answer.

    PYTHONPATH=target/peers/py-gen/example:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/example/client.py --addr 127.0.0.1:50051
"""

import grpc

import common
from common import TIMEOUT, error, expect_code, expect_eq, expect_stream_code
import example_pb2
import example_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


def show(resp):
    return "{%r, %d}" % (resp.message, resp.index)


def main():
    addr = common.parse_addr("Example client (grpcio)")
    channel = grpc.insecure_channel(addr)
    stub = example_pb2_grpc.ExampleStub(channel)
    steps = common.Steps(channel)

    def unary():
        value = "py-example-unary"
        answer, call = stub.Unary.with_call(
            example_pb2.Req(message="hi"), timeout=TIMEOUT, metadata=common.echo_metadata(value)
        )
        expect_eq((answer.message, answer.index), ("unary: hi", 1), "answer")
        common.check_metadata(call, value, "Unary")
        return show(answer)

    def unary_empty():
        err = expect_code(
            INVALID_ARGUMENT, stub.Unary, example_pb2.Req(message=""), timeout=TIMEOUT
        )
        return error(err)

    def server_stream():
        value = "py-example-server-stream"
        call = stub.ServerStream(
            example_pb2.Req(message="s", count=4),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        got = [(r.message, r.index) for r in call]
        expect_eq(got, [("stream: s", i) for i in range(1, 5)], "answers")
        common.check_metadata(call, value, "ServerStream")
        return "%d answers: %s" % (len(got), ", ".join("{%r, %d}" % a for a in got))

    def server_stream_default():
        got = [
            (r.message, r.index)
            for r in stub.ServerStream(example_pb2.Req(message="s", count=0), timeout=TIMEOUT)
        ]
        expect_eq(len(got), 3, "number of answers")
        return "%d answers: %s" % (len(got), ", ".join("{%r, %d}" % a for a in got))

    def server_stream_too_many():
        err = expect_stream_code(
            INVALID_ARGUMENT,
            stub.ServerStream(example_pb2.Req(message="s", count=101), timeout=TIMEOUT),
        )
        return error(err)

    def client_stream():
        value = "py-example-client-stream"
        answer, call = stub.ClientStream.with_call(
            iter([example_pb2.Req(message=m) for m in ("x", "y", "z")]),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        expect_eq((answer.message, answer.index), ("x,y,z", 3), "answer")
        common.check_metadata(call, value, "ClientStream")
        return show(answer)

    def bidi():
        # The i-th message (from 1) is answered with {"bidi: " + message, i}.
        wants = {"p": ("bidi: p", 1), "q": ("bidi: q", 2)}

        def check_answer(answer, request, what):
            expect_eq((answer.message, answer.index), wants[request.message], what)
            return show(answer)

        pings = [(repr(message), example_pb2.Req(message=message)) for message in ("p", "q")]
        return common.ping_pong(
            stub.Bidirectional, "Bidirectional", "py-example-bidi", pings, check_answer
        )

    def bidi_deadline():
        return common.expect_deadline(stub.Bidirectional)

    steps.run('1 Unary("hi")', unary)
    steps.run('2 Unary("")', unary_empty)
    steps.run('3 ServerStream("s", count 4)', server_stream)
    steps.run('4 ServerStream("s", count 0)', server_stream_default)
    steps.run('5 ServerStream("s", count 101)', server_stream_too_many)
    steps.run('6 ClientStream(["x", "y", "z"])', client_stream)
    steps.run('7 Bidirectional ping-pong "p", "q"', bidi)
    steps.run("8 Bidirectional, 200 ms deadline, nothing sent", bidi_deadline)
    steps.done()


if __name__ == "__main__":
    main()
