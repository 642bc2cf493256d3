#!/usr/bin/env python3
"""grpcio client of user.proto (`user.UserService`): runs the steps of examples/README.md
against a freshly started server and checks every answer.

    PYTHONPATH=target/peers/py-gen/user:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/user/client.py --addr 127.0.0.1:50051
"""

import grpc

import common
from common import TIMEOUT, error, expect, expect_code, expect_eq
import user_pb2
import user_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
SEEDED_IDS = {"1", "2", "3"}


def show(user):
    return "#%s %s <%s> created_at %d" % (user.id, user.name, user.email, user.created_at)


def names(users):
    return [user.name for user in users]


def expect_recent(millis, what):
    now = common.now_millis()
    expect(
        abs(now - millis) <= 60_000,
        "%s: expected within 60 s of %d ms, got %d ms" % (what, now, millis),
    )


def main():
    addr = common.parse_addr("user.UserService client (grpcio)")
    channel = grpc.insecure_channel(addr)
    stub = user_pb2_grpc.UserServiceStub(channel)
    steps = common.Steps(channel)
    state = {}

    def get_alice():
        value = "py-user-get"
        user, call = stub.GetUser.with_call(
            user_pb2.GetUserRequest(user_id="1"),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        expect_eq(
            (user.name, user.email, user.created_at),
            ("Alice", "alice@example.com", 1700000000000),
            "user 1",
        )
        common.check_metadata(call, value, "GetUser")
        return show(user)

    def get_unknown():
        err = expect_code(
            NOT_FOUND, stub.GetUser, user_pb2.GetUserRequest(user_id="999"), timeout=TIMEOUT
        )
        return error(err)

    def create_dave():
        user = stub.CreateUser(
            user_pb2.CreateUserRequest(name="Dave", email="dave@example.com"), timeout=TIMEOUT
        )
        expect_eq(user.name, "Dave", "name")
        expect(
            user.id and user.id not in SEEDED_IDS,
            "expected an id not in {1, 2, 3}, got %r" % user.id,
        )
        expect_recent(user.created_at, "created_at")
        state["dave"] = user
        return show(user)

    def get_dave():
        dave = state["dave"]
        user = stub.GetUser(user_pb2.GetUserRequest(user_id=dave.id), timeout=TIMEOUT)
        expect_eq((user.id, user.name, user.email), (dave.id, "Dave", "dave@example.com"), "user")
        return show(user)

    def create_nameless():
        err = expect_code(
            INVALID_ARGUMENT,
            stub.CreateUser,
            user_pb2.CreateUserRequest(name="", email="nobody@example.com"),
            timeout=TIMEOUT,
        )
        return error(err)

    def list_page(page, want):
        def step():
            answer = stub.ListUsers(
                user_pb2.ListUsersRequest(page=page, page_size=2), timeout=TIMEOUT
            )
            expect_eq(names(answer.users), want, "users")
            expect_eq(answer.total, 4, "total")
            return "%s; total %d" % (", ".join(names(answer.users)), answer.total)

        return step

    def stream_all():
        value = "py-user-stream"
        call = stub.StreamUsers(
            user_pb2.StreamUsersRequest(filter=""),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        users = list(call)
        expect_eq(names(users), ["Alice", "Bob", "Carol", "Dave"], "users")
        common.check_metadata(call, value, "StreamUsers")
        return ", ".join(names(users))

    def stream_car():
        users = list(stub.StreamUsers(user_pb2.StreamUsersRequest(filter="CAR"), timeout=TIMEOUT))
        expect_eq(names(users), ["Carol"], "users")
        return ", ".join(names(users))

    def create_many():
        value = "py-user-create-users"
        answer, call = stub.CreateUsers.with_call(
            iter(
                [
                    user_pb2.CreateUserRequest(name="Erin", email="erin@example.com"),
                    user_pb2.CreateUserRequest(name="Frank", email="frank@example.com"),
                ]
            ),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        expect_eq(answer.count, 2, "count")
        expect_eq(names(answer.users), ["Erin", "Frank"], "users")
        ids = [user.id for user in answer.users]
        known = SEEDED_IDS | {state["dave"].id}
        expect(
            len(set(ids)) == 2 and all(ids) and not set(ids) & known,
            "expected two new distinct ids, got %r" % ids,
        )
        common.check_metadata(call, value, "CreateUsers")
        return "count %d: %s" % (answer.count, "; ".join(show(u) for u in answer.users))

    def create_many_invalid():
        err = expect_code(
            INVALID_ARGUMENT,
            stub.CreateUsers,
            iter(
                [
                    user_pb2.CreateUserRequest(name="Gina", email="gina@example.com"),
                    user_pb2.CreateUserRequest(name="", email="x@example.com"),
                ]
            ),
            timeout=TIMEOUT,
        )
        answer = stub.ListUsers(user_pb2.ListUsersRequest(page=1, page_size=100), timeout=TIMEOUT)
        expect_eq(answer.total, 6, "ListUsers total after the refused CreateUsers")
        expect("Gina" not in names(answer.users), "Gina was stored: %s" % names(answer.users))
        return "%s; then ListUsers total %d" % (error(err), answer.total)

    def chat():
        def check_answer(answer, request, what):
            expect_eq((answer.id, answer.text), (request.id, "Echo: " + request.text), what)
            expect_recent(answer.timestamp, "timestamp of the " + what)
            return "{%s, %r}" % (answer.id, answer.text)

        pings = [
            (id, user_pb2.ChatMessage(id=id, text=text, timestamp=common.now_millis()))
            for id, text in (("m1", "hello"), ("m2", "bye"))
        ]
        return common.ping_pong(stub.Chat, "Chat", "py-user-chat", pings, check_answer)

    def chat_deadline():
        return common.expect_deadline(stub.Chat)

    steps.run('1 GetUser("1")', get_alice)
    steps.run('2 GetUser("999")', get_unknown)
    steps.run('3 CreateUser("Dave", "dave@example.com")', create_dave)
    steps.run("4 GetUser(<Dave's id>)", get_dave)
    steps.run('5 CreateUser("", "nobody@example.com")', create_nameless)
    steps.run("6 ListUsers(page 1, page_size 2)", list_page(1, ["Alice", "Bob"]))
    steps.run("7 ListUsers(page 2, page_size 2)", list_page(2, ["Carol", "Dave"]))
    steps.run('8 StreamUsers("")', stream_all)
    steps.run('9 StreamUsers("CAR")', stream_car)
    steps.run("10 CreateUsers([Erin, Frank])", create_many)
    steps.run('11 CreateUsers([Gina, ""])', create_many_invalid)
    steps.run('12 Chat ping-pong "hello", "bye"', chat)
    steps.run("13 Chat, 200 ms deadline, nothing sent", chat_deadline)
    steps.done()


if __name__ == "__main__":
    main()
