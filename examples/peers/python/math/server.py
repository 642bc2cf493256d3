#!/usr/bin/env python3
"""grpcio server of math.proto (`math.Calculator`), as examples/README.md specifies.

    PYTHONPATH=target/peers/py-gen/math:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/math/server.py --addr 127.0.0.1:50051
"""

import grpc

import common
import math_pb2
import math_pb2_grpc

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


class Calculator(math_pb2_grpc.CalculatorServicer):
    def Add(self, request, context):
        common.echo(context, "Add")
        result = request.a + request.b
        if not INT32_MIN <= result <= INT32_MAX:
            common.abort(
                context,
                "Add",
                grpc.StatusCode.INVALID_ARGUMENT,
                "%d + %d overflows int32" % (request.a, request.b),
            )
        return math_pb2.AddResponse(result=result)


def main():
    common.serve(
        "math.Calculator",
        lambda server: math_pb2_grpc.add_CalculatorServicer_to_server(Calculator(), server),
    )


if __name__ == "__main__":
    main()
