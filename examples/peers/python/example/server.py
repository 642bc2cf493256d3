#!/usr/bin/env python3
"""grpcio server of example.proto (`Example`, no package), as examples/README.md specifies.

    PYTHONPATH=target/peers/py-gen/example:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/example/server.py --addr 127.0.0.1:50051
"""

import grpc

import common
import example_pb2
import example_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


class Example(example_pb2_grpc.ExampleServicer):
    def Unary(self, request, context):
        common.echo(context, "Unary")
        if not request.message:
            common.abort(context, "Unary", INVALID_ARGUMENT, "message must not be empty")
        return example_pb2.Resp(message="unary: " + request.message, index=1)

    def ServerStream(self, request, context):
        common.echo(context, "ServerStream")
        count = request.count or 3
        if count < 0 or count > 100:
            common.abort(
                context,
                "ServerStream",
                INVALID_ARGUMENT,
                "count must be between 0 and 100, got %d" % request.count,
            )
        for index in range(1, count + 1):
            yield example_pb2.Resp(message="stream: " + request.message, index=index)

    def ClientStream(self, request_iterator, context):
        common.echo(context, "ClientStream")
        messages = [request.message for request in request_iterator]
        return example_pb2.Resp(message=",".join(messages), index=len(messages))

    def Bidirectional(self, request_iterator, context):
        common.echo(context, "Bidirectional")
        for index, request in enumerate(common.until_cancelled(request_iterator), start=1):
            yield example_pb2.Resp(message="bidi: " + request.message, index=index)


def main():
    common.serve(
        "Example",
        lambda server: example_pb2_grpc.add_ExampleServicer_to_server(Example(), server),
    )


if __name__ == "__main__":
    main()
