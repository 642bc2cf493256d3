#!/usr/bin/env python3
"""grpcio interop client for user.UserService.

Usage:
    USER_PY_GEN=target/peers/py-gen python client.py --addr 127.0.0.1:50051

Runs a fixed sequence of calls against a FRESH server (one that holds only the
three seed users) and checks every answer. Prints "PASS <step>" per step; on the
first mismatch prints "FAIL <step>: <reason>" and exits 1. Exits 0 when all pass.
Every step also checks that the trailer "x-method" names the method called.
"""

import argparse
import os
import queue
import sys

_GEN = os.environ.get("USER_PY_GEN")
if _GEN:
    sys.path.insert(0, _GEN)

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

try:
    import user_pb2  # noqa: E402
    import user_pb2_grpc  # noqa: E402
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write(
        "cannot import generated stubs (%s); run scripts/install-peers.sh and set "
        "USER_PY_GEN=target/peers/py-gen\n" % exc
    )
    sys.exit(2)

TIMEOUT = 10.0  # seconds, per call: a hung peer fails instead of blocking forever


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(actual, expected, what):
    check(actual == expected, "%s: expected %r, got %r" % (what, expected, actual))


def md_get(metadata, key):
    """Every value of `key` in a metadata sequence of (key, value) pairs."""
    return [value for k, value in (metadata or ()) if k == key]


def check_method_trailer(call, method):
    values = md_get(call.trailing_metadata(), "x-method")
    eq(values, [method], "trailer x-method")


def check_user(user, uid, name, email, age, what):
    eq(user.id, uid, what + ".id")
    eq(user.name, name, what + ".name")
    eq(user.email, email, what + ".email")
    eq(user.age, age, what + ".age")
    check(user.HasField("created_at"), what + ".created_at is missing")
    check(
        user.created_at.seconds > 0 or user.created_at.nanos > 0,
        what + ".created_at is the zero timestamp",
    )


def expect_error(fn, code, details, method, what):
    """Calls fn(), which must fail with `code` and `details`; returns the RpcError."""
    try:
        fn()
    except grpc.RpcError as err:
        eq(err.code(), code, what + " status code")
        eq(err.details(), details, what + " status details")
        check_method_trailer(err, method)
        return err
    raise Failure("%s: expected %s, but the call succeeded" % (what, code.name))


def ids(users):
    return [u.id for u in users]


# ---------------------------------------------------------------------------
# Steps, in order. Each takes the stub and raises Failure on a mismatch.


def step_get_user(stub):
    user, call = stub.GetUser.with_call(user_pb2.GetUserRequest(id=1), timeout=TIMEOUT)
    check_user(user, 1, "Alice", "alice@example.com", 30, "user")
    check_method_trailer(call, "GetUser")


def step_get_user_missing(stub):
    err = expect_error(
        lambda: stub.GetUser(user_pb2.GetUserRequest(id=999), timeout=TIMEOUT),
        grpc.StatusCode.NOT_FOUND,
        "User not found",
        "GetUser",
        "GetUser(999)",
    )
    # The rich error details, read with grpcio's own grpc_status.
    status = rpc_status.from_call(err)
    if status is None:
        raise Failure("GetUser(999): no grpc-status-details-bin")
    eq(status.code, grpc.StatusCode.NOT_FOUND.value[0], "google.rpc.Status code")
    eq(status.message, "User not found", "google.rpc.Status message")
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    eq(len(infos), 1, "ErrorInfo details")
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    eq(info.reason, "USER_NOT_FOUND", "ErrorInfo.reason")
    eq(info.domain, "user.example.com", "ErrorInfo.domain")
    eq(dict(info.metadata), {"id": "999"}, "ErrorInfo.metadata")


def step_create_user(stub):
    req = user_pb2.CreateUserRequest(name="Dave", email="dave@example.com", age=41)
    user, call = stub.CreateUser.with_call(req, timeout=TIMEOUT)
    check_user(user, 4, "Dave", "dave@example.com", 41, "user")
    check_method_trailer(call, "CreateUser")


def step_create_user_empty(stub):
    expect_error(
        lambda: stub.CreateUser(user_pb2.CreateUserRequest(name=""), timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT,
        "name is required",
        "CreateUser",
        "CreateUser(\"\")",
    )


def step_list_users(stub):
    cases = [
        (dict(page=1, page_size=2), [1, 2], 1, 2),
        (dict(page=2, page_size=3), [4], 2, 3),
        (dict(), [1, 2, 3, 4], 1, 10),
    ]
    for kwargs, want_ids, want_page, want_size in cases:
        what = "ListUsers(%s)" % ", ".join("%s=%d" % kv for kv in sorted(kwargs.items()))
        resp, call = stub.ListUsers.with_call(user_pb2.ListUsersRequest(**kwargs), timeout=TIMEOUT)
        eq(ids(resp.users), want_ids, what + " ids")
        eq(resp.total, 4, what + " total")
        eq(resp.page, want_page, what + " page")
        eq(resp.page_size, want_size, what + " page_size")
        check_method_trailer(call, "ListUsers")
    check_user(resp.users[3], 4, "Dave", "dave@example.com", 41, "ListUsers() users[3]")


def step_stream_users(stub):
    call = stub.StreamUsers(user_pb2.StreamUsersRequest(), timeout=TIMEOUT)
    users = list(call)
    eq(ids(users), [1, 2, 3, 4], "streamed ids")
    eq([u.name for u in users], ["Alice", "Bob", "Carol", "Dave"], "streamed names")
    for user in users:
        check(user.HasField("created_at"), "user %d: created_at is missing" % user.id)
    eq(call.code(), grpc.StatusCode.OK, "status code")
    check_method_trailer(call, "StreamUsers")


def step_create_users(stub):
    reqs = [
        user_pb2.CreateUserRequest(name="Eve", email="eve@example.com", age=22),
        user_pb2.CreateUserRequest(name="Frank", email="frank@example.com", age=52),
    ]
    resp, call = stub.CreateUsers.with_call(iter(reqs), timeout=TIMEOUT)
    eq(resp.count, 2, "count")
    eq(ids(resp.users), [5, 6], "ids")
    eq([u.name for u in resp.users], ["Eve", "Frank"], "names")
    check_user(resp.users[0], 5, "Eve", "eve@example.com", 22, "users[0]")
    check_user(resp.users[1], 6, "Frank", "frank@example.com", 52, "users[1]")
    check_method_trailer(call, "CreateUsers")


_END = object()


def step_chat(stub):
    # The request iterator is fed from a queue, so each message is only sent
    # after the reply to the previous one has arrived: a server that waits for
    # the end of the client stream before answering would time out here.
    outgoing = queue.Queue()

    def requests():
        while True:
            item = outgoing.get()
            if item is _END:
                return
            yield item

    call = stub.Chat(requests(), timeout=TIMEOUT)
    try:
        for text in ["hi", "how are you", "bye"]:
            outgoing.put(user_pb2.ChatMessage(user="py", text=text))
            try:
                reply = next(call)
            except StopIteration:
                raise Failure("stream ended before the reply to %r" % text)
            eq(reply.user, "server", "reply to %r: user" % text)
            eq(reply.text, "echo: " + text, "reply to %r: text" % text)
    finally:
        outgoing.put(_END)
    extra = list(call)
    eq(len(extra), 0, "replies after the client ended")
    eq(call.code(), grpc.StatusCode.OK, "status code")
    check_method_trailer(call, "Chat")


def step_metadata(stub):
    token = "abc123"
    data = b"\x00\x01\xfe\xff"
    sent = (("x-echo-token", token), ("x-echo-data-bin", data), ("x-other", "not-echoed"))
    user, call = stub.GetUser.with_call(user_pb2.GetUserRequest(id=2), metadata=sent, timeout=TIMEOUT)
    check_user(user, 2, "Bob", "bob@example.com", 25, "user")
    headers = call.initial_metadata()
    eq(md_get(headers, "x-echo-token"), [token], "header x-echo-token")
    eq(md_get(headers, "x-echo-data-bin"), [data], "header x-echo-data-bin")
    eq(md_get(headers, "x-other"), [], "header x-other (must not be echoed)")
    check_method_trailer(call, "GetUser")

    # The trailer is also set on an error answer.
    err = expect_error(
        lambda: stub.GetUser(user_pb2.GetUserRequest(id=999), metadata=sent[:1], timeout=TIMEOUT),
        grpc.StatusCode.NOT_FOUND,
        "User not found",
        "GetUser",
        "GetUser(999)",
    )
    eq(md_get(err.trailing_metadata(), "x-method"), ["GetUser"], "error trailer x-method")


STEPS = [
    ("GetUser(1)", step_get_user),
    ("GetUser(999) NOT_FOUND", step_get_user_missing),
    ("CreateUser(Dave)", step_create_user),
    ("CreateUser(\"\") INVALID_ARGUMENT", step_create_user_empty),
    ("ListUsers", step_list_users),
    ("StreamUsers", step_stream_users),
    ("CreateUsers(Eve, Frank)", step_create_users),
    ("Chat", step_chat),
    ("Metadata", step_metadata),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="host:port of a fresh UserService server")
    args = parser.parse_args()

    with grpc.insecure_channel(args.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        except grpc.FutureTimeoutError:
            print("FAIL connect: no connection to %s within %.0fs" % (args.addr, TIMEOUT), flush=True)
            return 1
        stub = user_pb2_grpc.UserServiceStub(channel)
        for name, step in STEPS:
            try:
                step(stub)
            except Failure as exc:
                print("FAIL %s: %s" % (name, exc), flush=True)
                return 1
            except grpc.RpcError as exc:
                print("FAIL %s: unexpected RPC error %s: %s" % (name, exc.code(), exc.details()), flush=True)
                return 1
            print("PASS %s" % name, flush=True)
    print("all %d steps passed" % len(STEPS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
