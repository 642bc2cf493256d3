#!/usr/bin/env python3
"""grpcio implementation of user.UserService, used as an interop peer for wirecall.

Usage:
    USER_PY_GEN=target/peers/py-gen python server.py --port 50051

Listens on 127.0.0.1 only and prints "listening on 127.0.0.1:N" once serving
(with --port 0 the kernel picks the port and N is the one it picked).

Semantics (shared with the Rust and Node servers):
  * the store starts with Alice (1), Bob (2) and Carol (3);
  * GetUser of an unknown id -> NOT_FOUND "User not found", with an ErrorInfo
    (reason USER_NOT_FOUND, domain user.example.com, metadata id) in the
    google.rpc.Status details;
  * CreateUser / CreateUsers with an empty name -> INVALID_ARGUMENT "name is required";
  * every request metadata entry whose key starts with "x-echo-" is copied into
    the response headers, and the trailer "x-method" names the method, on
    success and on error alike.
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

_GEN = os.environ.get("USER_PY_GEN")
if _GEN:
    sys.path.insert(0, _GEN)

import grpc  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
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

ECHO_PREFIX = "x-echo-"


class Store:
    """Thread-safe in-memory user store."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = {}
        for uid, name, email, age in (
            (1, "Alice", "alice@example.com", 30),
            (2, "Bob", "bob@example.com", 25),
            (3, "Carol", "carol@example.com", 35),
        ):
            self._users[uid] = self._make(uid, name, email, age)

    @staticmethod
    def _make(uid, name, email, age):
        user = user_pb2.User(id=uid, name=name, email=email, age=age)
        user.created_at.FromNanoseconds(time.time_ns())
        return user

    def get(self, uid):
        with self._lock:
            user = self._users.get(uid)
            return None if user is None else _copy(user)

    def create(self, req):
        """Creates a user from a CreateUserRequest; the caller has validated it."""
        with self._lock:
            uid = max(self._users, default=0) + 1
            user = self._make(uid, req.name, req.email, req.age)
            self._users[uid] = user
            return _copy(user)

    def all(self):
        with self._lock:
            return [_copy(self._users[uid]) for uid in sorted(self._users)]


def _copy(user):
    out = user_pb2.User()
    out.CopyFrom(user)
    return out


def _start(context, method):
    """Sends the echoed headers and arms the x-method trailer. Call first in every handler."""
    echoed = tuple(
        (key, value)
        for key, value in context.invocation_metadata()
        if key.lower().startswith(ECHO_PREFIX)
    )
    context.send_initial_metadata(echoed)
    context.set_trailing_metadata((("x-method", method),))


def _abort_not_found(context, user_id, method):
    """NOT_FOUND with an ErrorInfo detail, built with grpcio's grpc_status."""
    info = error_details_pb2.ErrorInfo(
        reason="USER_NOT_FOUND", domain="user.example.com", metadata={"id": str(user_id)}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = rpc_status.to_status(
        status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], message="User not found", details=[detail])
    )
    # abort_with_status replaces the trailing metadata: keep the x-method trailer.
    context.abort_with_status(
        _Status(status.code, status.details, status.trailing_metadata + (("x-method", method),))
    )


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def _validate(context, req):
    if not req.name:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name is required")


class UserService(user_pb2_grpc.UserServiceServicer):
    def __init__(self, store):
        self.store = store

    def GetUser(self, request, context):
        _start(context, "GetUser")
        user = self.store.get(request.id)
        if user is None:
            _abort_not_found(context, request.id, "GetUser")
        return user

    def CreateUser(self, request, context):
        _start(context, "CreateUser")
        _validate(context, request)
        return self.store.create(request)

    def ListUsers(self, request, context):
        _start(context, "ListUsers")
        page = request.page if request.page > 0 else 1
        page_size = request.page_size if request.page_size > 0 else 10
        users = self.store.all()
        start = (page - 1) * page_size
        return user_pb2.ListUsersResponse(
            users=users[start:start + page_size],
            total=len(users),
            page=page,
            page_size=page_size,
        )

    def StreamUsers(self, request, context):
        _start(context, "StreamUsers")
        for user in self.store.all():
            yield user

    def CreateUsers(self, request_iterator, context):
        _start(context, "CreateUsers")
        created = []
        for req in request_iterator:
            _validate(context, req)
            created.append(self.store.create(req))
        return user_pb2.CreateUsersResponse(users=created, count=len(created))

    def Chat(self, request_iterator, context):
        _start(context, "Chat")
        for msg in request_iterator:
            yield user_pb2.ChatMessage(user="server", text="echo: " + msg.text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args()

    # Chat and CreateUsers each hold a worker while their stream is open.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    user_pb2_grpc.add_UserServiceServicer_to_server(UserService(Store()), server)
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    if port == 0:
        sys.stderr.write("failed to bind 127.0.0.1:%d\n" % args.port)
        return 1
    server.start()

    stopped = threading.Event()

    def _stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    print("listening on 127.0.0.1:%d" % port, flush=True)
    while not stopped.wait(0.5):
        pass
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
