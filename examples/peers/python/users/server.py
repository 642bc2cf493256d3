#!/usr/bin/env python3
"""grpcio server of user_service.proto (`users.UserService`), as examples/README.md specifies:
users kept in memory, seeded with usr-1..usr-3; WatchUsers reports every change.

    PYTHONPATH=target/peers/py-gen/users:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/users/server.py --addr 127.0.0.1:50051
"""

import queue
import re
import threading
import time

import grpc
from google.protobuf import timestamp_pb2

import common
import user_service_pb2 as pb
import user_service_pb2_grpc as pb_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND

SEEDS = [
    # id, name, email, age, department, roles, created_at (seconds)
    ("usr-1", "Alice Johnson", "alice@example.com", 34, pb.ENGINEERING, ["admin", "developer"],
     1705309200),
    ("usr-2", "Bob Smith", "bob@example.com", 28, pb.MARKETING, ["editor"], 1708425000),
    ("usr-3", "Carol Davis", "carol@example.com", 41, pb.ENGINEERING, ["developer"], 1709648100),
]

HEARTBEAT_EVERY = 1.0  # seconds


def invalid(request):
    """Why CreateUser (or UpdateUser) refuses `request`, or None."""
    if not request.name:
        return "name must not be empty"
    if "@" not in request.email:
        return "email %r has no @" % request.email
    if request.age < 0:
        return "age must not be negative, got %d" % request.age
    return None


def department(name):
    """The Department value named `name`, or None."""
    try:
        return pb.Department.Value(name)
    except ValueError:
        return None


class Store:
    """The users, in creation order, and the watches to report changes to."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}  # id -> User; dicts keep insertion (creation) order
        for id, name, email, age, dept, roles, seconds in SEEDS:
            self.users[id] = pb.User(
                id=id,
                name=name,
                email=email,
                age=age,
                department=dept,
                roles=roles,
                created_at=timestamp_pb2.Timestamp(seconds=seconds),
            )
        self.next_id = len(self.users) + 1
        self.watches = set()
        self.closed = False

    def get(self, id):
        with self.lock:
            user = self.users.get(id)
            return None if user is None else copy(user)

    def snapshot(self):
        with self.lock:
            return [copy(user) for user in self.users.values()]

    def create(self, request):
        with self.lock:
            created_at = timestamp_pb2.Timestamp()
            created_at.GetCurrentTime()
            user = pb.User(
                id="usr-%d" % self.next_id,
                name=request.name,
                email=request.email,
                age=request.age,
                department=request.department,
                created_at=created_at,
            )
            self.next_id += 1
            self.users[user.id] = user
            self._report("created", user)
            return copy(user)

    def update(self, given):
        """The updated user, or None if there is no user with that id."""
        with self.lock:
            stored = self.users.get(given.id)
            if stored is None:
                return None
            user = pb.User(
                id=stored.id,
                name=given.name,
                email=given.email,
                age=given.age,
                department=given.department,
                roles=given.roles,
                created_at=stored.created_at,
            )
            self.users[user.id] = user
            self._report("updated", user)
            return copy(user)

    def delete(self, id):
        """The deleted user, or None if there is no user with that id."""
        with self.lock:
            user = self.users.pop(id, None)
            if user is not None:
                self._report("deleted", user)
            return user

    def watch(self, departments):
        """A new watch: a queue receiving the events of `departments` (empty: all)."""
        events = queue.Queue()
        watch = (events, frozenset(departments))
        with self.lock:
            if self.closed:
                events.put(None)
            self.watches.add(watch)
        return watch

    def unwatch(self, watch):
        with self.lock:
            self.watches.discard(watch)

    def close(self):
        """Ends every watch (the server is stopping)."""
        with self.lock:
            self.closed = True
            for events, _ in self.watches:
                events.put(None)

    def _report(self, event_type, user):
        # Under the lock, so that every watch sees the changes in the order they happened.
        for events, departments in self.watches:
            if not departments or user.department in departments:
                events.put(pb.UserEvent(event_type=event_type, user=copy(user)))


def found(context, method, id, user):
    """Returns `user`, what the store answered for the id `id`; if that is None (there is no
    such user), ends the call with NOT_FOUND instead."""
    if user is None:
        common.abort(context, method, NOT_FOUND, "user %s not found" % id)
    return user


def copy(user):
    duplicate = pb.User()
    duplicate.CopyFrom(user)
    return duplicate


class UserService(pb_grpc.UserServiceServicer):
    def __init__(self, store):
        self.store = store

    def GetUser(self, request, context):
        common.echo(context, "GetUser")
        return found(context, "GetUser", request.id, self.store.get(request.id))

    def CreateUser(self, request, context):
        common.echo(context, "CreateUser")
        reason = invalid(request)
        if reason:
            common.abort(context, "CreateUser", INVALID_ARGUMENT, reason)
        return self.store.create(request)

    def ListUsers(self, request, context):
        common.echo(context, "ListUsers")

        def refuse(reason):
            common.abort(context, "ListUsers", INVALID_ARGUMENT, reason)

        wanted = None
        if request.filter:
            match = re.fullmatch(r"department=(\w+)", request.filter)
            wanted = department(match.group(1)) if match else None
            if wanted is None:
                refuse("unsupported filter %r (use department=NAME)" % request.filter)
        if request.page_size < 0:
            refuse("page_size must not be negative")
        page_size = min(request.page_size or 10, 100)
        offset = 0
        if request.page_token:
            if not re.fullmatch(r"[0-9]+", request.page_token):
                refuse("invalid page_token %r" % request.page_token)
            offset = int(request.page_token)
        users = [
            user
            for user in self.store.snapshot()
            if wanted is None or user.department == wanted
        ]
        end = offset + page_size
        return pb.ListUsersResponse(
            users=users[offset:end],
            next_page_token=str(end) if end < len(users) else "",
            total_count=len(users),
        )

    def WatchUsers(self, request, context):
        common.echo(context, "WatchUsers")
        departments = set()
        for name in request.departments:
            value = department(name)
            if value is None:
                common.abort(
                    context, "WatchUsers", INVALID_ARGUMENT, "unknown department %r" % name
                )
            departments.add(value)
        watch = self.store.watch(departments)
        events, _ = watch
        # Wake the loop below as soon as the client cancels or the deadline passes.
        context.add_callback(lambda: events.put(None))
        try:
            next_heartbeat = time.monotonic()
            while context.is_active():
                wait = next_heartbeat - time.monotonic()
                if wait <= 0:
                    yield pb.UserEvent(event_type="heartbeat", user=pb.User(name="system"))
                    next_heartbeat += HEARTBEAT_EVERY
                    continue
                try:
                    event = events.get(timeout=wait)
                except queue.Empty:
                    continue
                if event is None:  # cancelled, or the server is stopping
                    return
                yield event
        finally:
            self.store.unwatch(watch)

    def UploadUsers(self, request_iterator, context):
        common.echo(context, "UploadUsers")
        created = failed = 0
        for request in request_iterator:
            if invalid(request):
                failed += 1
            else:
                self.store.create(request)
                created += 1
        return pb.UploadSummary(created=created, failed=failed)

    def Chat(self, request_iterator, context):
        common.echo(context, "Chat")
        for message in common.until_cancelled(request_iterator):
            yield pb.ChatMessage(sender="server", content="Echo: " + message.content)

    def UpdateUser(self, request, context):
        common.echo(context, "UpdateUser")
        found(context, "UpdateUser", request.id, self.store.get(request.id))
        reason = invalid(request)
        if reason:
            common.abort(context, "UpdateUser", INVALID_ARGUMENT, reason)
        # The store answers None if the user was deleted meanwhile.
        return found(context, "UpdateUser", request.id, self.store.update(request))

    def DeleteUser(self, request, context):
        common.echo(context, "DeleteUser")
        return found(context, "DeleteUser", request.id, self.store.delete(request.id))


def main():
    store = Store()
    common.serve(
        "users.UserService",
        lambda server: pb_grpc.add_UserServiceServicer_to_server(UserService(store), server),
        on_stop=store.close,
    )


if __name__ == "__main__":
    main()
