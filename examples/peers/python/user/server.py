#!/usr/bin/env python3
"""grpcio server of user.proto (`user.UserService`), as examples/README.md specifies: users
kept in memory, seeded with Alice, Bob and Carol.

    PYTHONPATH=target/peers/py-gen/user:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/user/server.py --addr 127.0.0.1:50051
"""

import threading

import grpc

import common
import user_pb2
import user_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND

SEEDS = [
    ("1", "Alice", "alice@example.com", 1700000000000),
    ("2", "Bob", "bob@example.com", 1700000060000),
    ("3", "Carol", "carol@example.com", 1700000120000),
]


def invalid(request):
    """Why CreateUser refuses `request`, or None."""
    if not request.name:
        return "name must not be empty"
    if "@" not in request.email:
        return "email %r has no @" % request.email
    return None


class Store:
    """The users, in creation order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = [
            user_pb2.User(id=id, name=name, email=email, created_at=created_at)
            for id, name, email, created_at in SEEDS
        ]
        self.next_id = len(self.users) + 1

    def get(self, user_id):
        with self.lock:
            for user in self.users:
                if user.id == user_id:
                    return user
        return None

    def create(self, requests):
        """Stores a user per request (already checked) and returns them."""
        with self.lock:
            created = []
            for request in requests:
                user = user_pb2.User(
                    id=str(self.next_id),
                    name=request.name,
                    email=request.email,
                    created_at=common.now_millis(),
                )
                self.next_id += 1
                self.users.append(user)
                created.append(user)
            return created

    def snapshot(self):
        with self.lock:
            return list(self.users)


class UserService(user_pb2_grpc.UserServiceServicer):
    def __init__(self):
        self.store = Store()

    def GetUser(self, request, context):
        common.echo(context, "GetUser")
        if not request.user_id:
            common.abort(context, "GetUser", INVALID_ARGUMENT, "user_id must not be empty")
        user = self.store.get(request.user_id)
        if user is None:
            common.abort(context, "GetUser", NOT_FOUND, "user %s not found" % request.user_id)
        return user

    def CreateUser(self, request, context):
        common.echo(context, "CreateUser")
        reason = invalid(request)
        if reason:
            common.abort(context, "CreateUser", INVALID_ARGUMENT, reason)
        return self.store.create([request])[0]

    def ListUsers(self, request, context):
        common.echo(context, "ListUsers")
        if request.page < 0 or request.page_size < 0:
            common.abort(
                context, "ListUsers", INVALID_ARGUMENT, "page and page_size must not be negative"
            )
        page = request.page or 1
        page_size = min(request.page_size or 10, 100)
        users = self.store.snapshot()
        start = (page - 1) * page_size
        return user_pb2.ListUsersResponse(
            users=users[start:start + page_size], total=len(users)
        )

    def StreamUsers(self, request, context):
        common.echo(context, "StreamUsers")
        wanted = request.filter.casefold()
        for user in self.store.snapshot():
            if wanted in user.name.casefold():
                yield user

    def CreateUsers(self, request_iterator, context):
        common.echo(context, "CreateUsers")
        requests = list(request_iterator)
        for index, request in enumerate(requests):
            reason = invalid(request)
            if reason:
                common.abort(
                    context,
                    "CreateUsers",
                    INVALID_ARGUMENT,
                    "request %d: %s; no user created" % (index, reason),
                )
        users = self.store.create(requests)
        return user_pb2.CreateUsersResponse(users=users, count=len(users))

    def Chat(self, request_iterator, context):
        common.echo(context, "Chat")
        for message in common.until_cancelled(request_iterator):
            yield user_pb2.ChatMessage(
                id=message.id, text="Echo: " + message.text, timestamp=common.now_millis()
            )


def main():
    common.serve(
        "user.UserService",
        lambda server: user_pb2_grpc.add_UserServiceServicer_to_server(UserService(), server),
    )


if __name__ == "__main__":
    main()
