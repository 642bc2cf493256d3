#!/usr/bin/env python3
"""grpcio client of user_service.proto (`users.UserService`): runs the steps of
examples/README.md against a freshly started server and checks every answer.

    PYTHONPATH=target/peers/py-gen/users:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/users/client.py --addr 127.0.0.1:50051
"""

import queue
import threading
import time

import grpc

import common
from common import TIMEOUT, CheckFailed, error, expect, expect_code, expect_eq
import user_service_pb2 as pb
import user_service_pb2_grpc as pb_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
SEEDED_IDS = {"usr-1", "usr-2", "usr-3"}


def show(user):
    return "%s %s <%s> age %d %s roles %s created_at %d s" % (
        user.id,
        user.name,
        user.email,
        user.age,
        department_name(user.department),
        list(user.roles),
        user.created_at.seconds,
    )


def department_name(value):
    return pb.Department.Name(value) if value in pb.Department.values() else str(value)


def ids(users):
    return [user.id for user in users]


class Watch:
    """A WatchUsers stream read by a thread of its own, so that waiting for an event is bounded
    even though the call has no deadline."""

    _END = object()

    def __init__(self, call):
        self.call = call
        self.events = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for event in self.call:
                self.events.put(event)
        except grpc.RpcError as err:
            self.events.put(err)
        finally:
            self.events.put(Watch._END)

    def next(self, what, timeout=TIMEOUT):
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            raise CheckFailed("expected %s within %g s, got nothing" % (what, timeout))
        if item is Watch._END:
            self.events.put(item)
            raise CheckFailed("expected %s, the stream ended OK" % what)
        if isinstance(item, grpc.RpcError):
            self.events.put(Watch._END)
            raise CheckFailed("expected %s, the stream failed: %s" % (what, error(item)))
        return item

    def cancel(self):
        self.call.cancel()


def main():
    addr = common.parse_addr("users.UserService client (grpcio)")
    channel = grpc.insecure_channel(addr)
    stub = pb_grpc.UserServiceStub(channel)
    steps = common.Steps(channel)
    state = {}

    def get_alice():
        value = "py-users-get"
        user, call = stub.GetUser.with_call(
            pb.GetUserRequest(id="usr-1"), timeout=TIMEOUT, metadata=common.echo_metadata(value)
        )
        expect_eq(
            (user.name, user.email, user.age, user.department, list(user.roles)),
            ("Alice Johnson", "alice@example.com", 34, pb.ENGINEERING, ["admin", "developer"]),
            "usr-1 (name, email, age, department, roles)",
        )
        expect_eq(
            (user.created_at.seconds, user.created_at.nanos), (1705309200, 0), "created_at"
        )
        common.check_metadata(call, value, "GetUser")
        return show(user)

    def get_unknown():
        return error(
            expect_code(NOT_FOUND, stub.GetUser, pb.GetUserRequest(id="usr-404"), timeout=TIMEOUT)
        )

    def list_first_page():
        answer = stub.ListUsers(pb.ListUsersRequest(page_size=2), timeout=TIMEOUT)
        expect_eq(ids(answer.users), ["usr-1", "usr-2"], "users")
        expect_eq(answer.total_count, 3, "total_count")
        expect(answer.next_page_token != "", "expected a next_page_token, got none")
        state["token"] = answer.next_page_token
        return "%s; total_count %d; next_page_token %r" % (
            ", ".join(ids(answer.users)),
            answer.total_count,
            answer.next_page_token,
        )

    def list_second_page():
        answer = stub.ListUsers(
            pb.ListUsersRequest(page_size=2, page_token=state["token"]), timeout=TIMEOUT
        )
        expect_eq(ids(answer.users), ["usr-3"], "users")
        expect_eq(answer.total_count, 3, "total_count")
        expect_eq(answer.next_page_token, "", "next_page_token")
        return "%s; total_count %d; no next_page_token" % (
            ", ".join(ids(answer.users)),
            answer.total_count,
        )

    def list_engineering():
        answer = stub.ListUsers(
            pb.ListUsersRequest(filter="department=ENGINEERING"), timeout=TIMEOUT
        )
        expect_eq(ids(answer.users), ["usr-1", "usr-3"], "users")
        expect_eq(answer.total_count, 2, "total_count")
        return "%s; total_count %d" % (", ".join(ids(answer.users)), answer.total_count)

    def list_bad_filter():
        return error(
            expect_code(
                INVALID_ARGUMENT,
                stub.ListUsers,
                pb.ListUsersRequest(filter="age>30"),
                timeout=TIMEOUT,
            )
        )

    def watch():
        value = "py-users-watch"
        # No deadline: the client cancels the watch (Watch bounds every wait for an event).
        watch = Watch(
            stub.WatchUsers(
                pb.WatchRequest(departments=["ENGINEERING"]), metadata=common.echo_metadata(value)
            )
        )
        try:
            first = watch.next("a first heartbeat")
            expect_eq(
                (first.event_type, first.user.name),
                ("heartbeat", "system"),
                "first event (event_type, user.name)",
            )
            common.check_headers(watch.call, value)

            dave = stub.CreateUser(
                pb.CreateUserRequest(
                    name="Dave Lee", email="dave@example.com", age=30, department=pb.ENGINEERING
                ),
                timeout=TIMEOUT,
            )
            expect_eq(
                (dave.name, dave.email, dave.age, dave.department, list(dave.roles)),
                ("Dave Lee", "dave@example.com", 30, pb.ENGINEERING, []),
                "CreateUser Dave (name, email, age, department, roles)",
            )
            expect(
                dave.id and dave.id not in SEEDED_IDS,
                "CreateUser Dave: expected a new id, got %r" % dave.id,
            )
            state["dave"] = dave

            eve = stub.CreateUser(
                pb.CreateUserRequest(
                    name="Eve Adams", email="eve@example.com", age=25, department=pb.MARKETING
                ),
                timeout=TIMEOUT,
            )
            expect_eq(eve.name, "Eve Adams", "CreateUser Eve: name")

            changed = pb.User()
            changed.CopyFrom(dave)
            changed.age = 31
            changed.roles[:] = ["developer"]
            updated = stub.UpdateUser(changed, timeout=TIMEOUT)
            expect_eq(
                (updated.id, updated.age, list(updated.roles)),
                (dave.id, 31, ["developer"]),
                "UpdateUser Dave (id, age, roles)",
            )
            expect_eq(updated.created_at, dave.created_at, "UpdateUser Dave: created_at")

            deleted = stub.DeleteUser(pb.DeleteUserRequest(id=dave.id), timeout=TIMEOUT)
            expect_eq(
                (deleted.id, deleted.name), (dave.id, "Dave Lee"), "DeleteUser Dave (id, name)"
            )

            got = []
            deadline = time.monotonic() + TIMEOUT
            while len(got) < 3:
                event = watch.next(
                    "created, updated and deleted events (got %s)"
                    % [(e.event_type, e.user.name) for e in got],
                    timeout=max(deadline - time.monotonic(), 0.01),
                )
                if event.event_type != "heartbeat":
                    got.append(event)
            expect_eq(
                [(e.event_type, e.user.id, e.user.name) for e in got],
                [(t, dave.id, "Dave Lee") for t in ("created", "updated", "deleted")],
                "watch events (event_type, user.id, user.name)",
            )
            expect_eq(got[1].user.age, 31, "the updated event's user.age")
        finally:
            watch.cancel()
        return (
            "heartbeat from system; Dave Lee created as %s, updated (age 31, roles [developer]), "
            "deleted; Eve Adams created; events: created, updated, deleted" % dave.id
        )

    def gone():
        err1 = expect_code(
            NOT_FOUND, stub.GetUser, pb.GetUserRequest(id=state["dave"].id), timeout=TIMEOUT
        )
        err2 = expect_code(
            NOT_FOUND,
            stub.UpdateUser,
            pb.User(id="usr-404", name="X", email="x@example.com"),
            timeout=TIMEOUT,
        )
        return "GetUser %s; UpdateUser %s" % (error(err1), error(err2))

    def create_nameless():
        return error(
            expect_code(
                INVALID_ARGUMENT,
                stub.CreateUser,
                pb.CreateUserRequest(
                    name="", email="nobody@example.com", age=20, department=pb.SALES
                ),
                timeout=TIMEOUT,
            )
        )

    def upload():
        value = "py-users-upload"
        summary, call = stub.UploadUsers.with_call(
            iter(
                [
                    pb.CreateUserRequest(
                        name="Frank Moore", email="frank@example.com", age=45, department=pb.SALES
                    ),
                    pb.CreateUserRequest(
                        name="", email="nobody@example.com", age=20, department=pb.SALES
                    ),
                    pb.CreateUserRequest(
                        name="Grace Kim", email="grace@example.com", age=38, department=pb.PRODUCT
                    ),
                ]
            ),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value),
        )
        expect_eq((summary.created, summary.failed), (2, 1), "(created, failed)")
        common.check_metadata(call, value, "UploadUsers")
        return "created %d, failed %d" % (summary.created, summary.failed)

    def chat():
        def check_answer(answer, request, what):
            expect_eq(
                (answer.sender, answer.content), ("server", "Echo: " + request.content), what
            )
            return "{%s, %r}" % (answer.sender, answer.content)

        pings = [
            (repr(content), pb.ChatMessage(sender="client", content=content))
            for content in ("hello", "bye")
        ]
        return common.ping_pong(stub.Chat, "Chat", "py-users-chat", pings, check_answer)

    def chat_deadline():
        return common.expect_deadline(stub.Chat)

    steps.run('1 GetUser("usr-1")', get_alice)
    steps.run('2 GetUser("usr-404")', get_unknown)
    steps.run("3 ListUsers(page_size 2)", list_first_page)
    steps.run("4 ListUsers(page_size 2, page_token)", list_second_page)
    steps.run('5 ListUsers(filter "department=ENGINEERING")', list_engineering)
    steps.run('6 ListUsers(filter "age>30")', list_bad_filter)
    steps.run("7 WatchUsers([ENGINEERING]) + Create/Update/DeleteUser", watch)
    steps.run("8 GetUser(<Dave's id>), UpdateUser(usr-404)", gone)
    steps.run('9 CreateUser("", "nobody@example.com", 20, SALES)', create_nameless)
    steps.run('10 UploadUsers([Frank, "", Grace])', upload)
    steps.run('11 Chat ping-pong "hello", "bye"', chat)
    steps.run("12 Chat, 200 ms deadline, nothing sent", chat_deadline)
    steps.done()


if __name__ == "__main__":
    main()
