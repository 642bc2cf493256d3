#!/usr/bin/env python3
"""grpcio client of math.proto (`math.Calculator`): runs the steps of examples/README.md
against a server and checks every answer.

    PYTHONPATH=target/peers/py-gen/math:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/math/client.py --addr 127.0.0.1:50051
"""

import grpc

import common
from common import TIMEOUT, error, expect_code, expect_eq
import math_pb2
import math_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


def main():
    addr = common.parse_addr("math.Calculator client (grpcio)")
    channel = grpc.insecure_channel(addr)
    stub = math_pb2_grpc.CalculatorStub(channel)
    steps = common.Steps(channel)

    def add(a, b, want):
        def step():
            answer = stub.Add(math_pb2.AddRequest(a=a, b=b), timeout=TIMEOUT)
            expect_eq(answer.result, want, "result")
            return "result %d" % answer.result

        return step

    def add_fails(a, b):
        def step():
            err = expect_code(
                INVALID_ARGUMENT, stub.Add, math_pb2.AddRequest(a=a, b=b), timeout=TIMEOUT
            )
            return error(err)

        return step

    def add_checked():
        value = "py-math-add"
        answer, call = stub.Add.with_call(
            math_pb2.AddRequest(a=2, b=3),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        expect_eq(answer.result, 5, "result")
        common.check_metadata(call, value, "Add")
        return "result %d (x-echo-check and x-method: Add came back)" % answer.result

    steps.run("1 Add(2, 3)", add_checked)
    steps.run("2 Add(-7, 4)", add(-7, 4, -3))
    steps.run("3 Add(2147483647, 0)", add(2147483647, 0, 2147483647))
    steps.run("4 Add(2147483647, 1)", add_fails(2147483647, 1))
    steps.run("5 Add(-2147483648, -1)", add_fails(-2147483648, -1))
    steps.done()


if __name__ == "__main__":
    main()
