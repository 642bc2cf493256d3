"""Helpers shared by the Python (grpcio) peers of the wirecall examples.

The behaviour every peer follows is specified in examples/README.md. Run a peer with the
contract's generated stubs and this directory on the path:

    PYTHONPATH=target/peers/py-gen/<contract>:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/<contract>/server.py --addr 127.0.0.1:0

Servers use `serve` (which reads `--addr`, and adds grpc.health.v1.Health and server reflection
next to the contract's service), `echo`, `abort` and `until_cancelled`; clients use
`parse_addr`, `Steps`, `error`, the `expect_*` / `check_*` functions, and `ping_pong` and
`expect_deadline` for the two steps of every bidirectional method.
"""

import argparse
import queue
import signal
import sys
import time
import traceback
from concurrent import futures

import grpc
from google.protobuf import descriptor_pool
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

DEFAULT_ADDR = "127.0.0.1:50051"
# The deadline of every client call, unless a step says otherwise.
TIMEOUT = 5.0
# How long a stopping server lets running calls finish before cancelling them.
STOP_GRACE = 0.5


def parse_addr(description):
    """Parses `--addr HOST:PORT` (`http://HOST:PORT` is accepted too) and returns HOST:PORT."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--addr",
        default=DEFAULT_ADDR,
        help="HOST:PORT (or http://HOST:PORT), default %s" % DEFAULT_ADDR,
    )
    addr = parser.parse_args().addr.strip()
    if addr.startswith("http://"):
        addr = addr[len("http://"):]
    addr = addr.rstrip("/")
    if ":" not in addr:
        parser.error("--addr must be HOST:PORT, got %r" % addr)
    return addr


# ---------------------------------------------------------------------------------------------
# Servers


def echo(context, method):
    """Starts a call the way every peer server does: copies each request metadata entry whose
    key starts with `x-echo-` into the response headers (sent at once) and sets the trailer
    `x-method: <method>`, which the call carries whether it succeeds or fails."""
    echoed = tuple(
        (key, value)
        for key, value in context.invocation_metadata()
        if key.startswith("x-echo-")
    )
    context.send_initial_metadata(echoed)
    context.set_trailing_metadata((("x-method", method),))


def abort(context, method, code, message, *details):
    """Ends the call with `code` and `message`, keeping the `x-method` trailer; `details`
    (protobuf messages such as google.rpc.ErrorInfo or BadRequest) go into a google.rpc.Status
    sent in the `grpc-status-details-bin` trailer. Raises, like `context.abort`."""
    trailers = [("x-method", method)]
    if details:
        status = status_pb2.Status(code=code.value[0], message=message)
        for detail in details:
            status.details.add().Pack(detail)
        trailers.append(("grpc-status-details-bin", status.SerializeToString()))
    # Not context.abort_with_status: it would replace the trailers set here by its own.
    context.set_trailing_metadata(tuple(trailers))
    context.abort(code, message)


def until_cancelled(request_iterator):
    """The requests of a client stream, ending quietly when the call is cancelled or its
    deadline passes while waiting for one (grpcio's iterator raises grpc.RpcError then)."""
    try:
        for request in request_iterator:
            yield request
    except grpc.RpcError:
        return


def bad_request(*violations):
    """A google.rpc.BadRequest of (field, description) pairs."""
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
            for field, description in violations
        ]
    )


class _ServiceOnly(grpc.ServerInterceptor):
    """Applies `interceptor` to the methods of `service_name` only: the health and reflection
    services next to it (which probes call without the contract's metadata, a bearer token
    say) go straight to their handlers."""

    def __init__(self, service_name, interceptor):
        self._prefix = "/%s/" % service_name
        self._interceptor = interceptor

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(self._prefix):
            return self._interceptor.intercept_service(continuation, handler_call_details)
        return continuation(handler_call_details)


def serve(service_name, register, interceptors=(), on_stop=None, max_workers=32):
    """Serves `service_name` on `--addr` until SIGTERM or SIGINT, then exits 0.

    `register(server)` adds the servicer; `interceptors` apply to `service_name`'s methods only.
    Next to it the server serves grpc.health.v1.Health (SERVING for "" and for `service_name`)
    and server reflection (grpc.reflection.v1alpha.ServerReflection, listing `service_name`,
    the health service and itself). Once the server accepts connections, prints exactly one
    line, `<service_name> listening on HOST:PORT`, with the port actually bound. On a signal,
    sets every health status to NOT_SERVING, calls `on_stop()` (which ends the server's
    endless streams) and stops the server, giving running calls STOP_GRACE seconds."""
    addr = parse_addr("%s server (grpcio)" % service_name)
    # The full name as the generated descriptor has it (imported by the server's *_pb2).
    service_name = descriptor_pool.Default().FindServiceByName(service_name).full_name
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[_ServiceOnly(service_name, i) for i in interceptors],
        # A port in use is an error, not shared with the server already there.
        options=[("grpc.so_reuseport", 0)],
    )
    register(server)
    health_servicer = health.HealthServicer()
    for name in ("", service_name):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection((service_name, health_name, reflection.SERVICE_NAME), server)
    host = addr.rsplit(":", 1)[0]
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError as err:
        port = 0
        reason = err
    else:
        reason = "port 0 returned"
    if not port:
        sys.stderr.write("cannot listen on %s: %s\n" % (addr, reason))
        sys.exit(1)

    # A plain flag: a signal handler must not take locks (threading.Event.set does, and
    # deadlocks if the signal lands while the main thread holds the Event's lock).
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server.start()
    sys.stdout.write("%s listening on %s:%d\n" % (service_name, host, port))
    sys.stdout.flush()

    # The handler runs in this thread (during a sleep); the flag is seen within 0.1 s.
    while not stopping:
        time.sleep(0.1)
    health_servicer.enter_graceful_shutdown()
    if on_stop is not None:
        on_stop()
    server.stop(STOP_GRACE).wait()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(0)


def now_millis():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------
# Clients


class CheckFailed(Exception):
    """A step's answer is not the one expected; the message says what was expected and what
    came back."""


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def expect_eq(got, want, what):
    if got != want:
        raise CheckFailed("%s: expected %r, got %r" % (what, want, got))


def expect_close(got, want, what, tolerance=1e-9):
    if abs(got - want) > tolerance:
        raise CheckFailed("%s: expected %r (within %g), got %r" % (what, want, tolerance, got))


def expect_code(code, call, *args, **kwargs):
    """Calls `call(*args, **kwargs)` (a unary or client-streaming stub method, or any function
    that makes calls) and checks that it fails with `code`; returns the grpc.RpcError."""
    try:
        answer = call(*args, **kwargs)
    except grpc.RpcError as err:
        if err.code() != code:
            raise CheckFailed(
                "expected %s, got %s: %s" % (code.name, err.code().name, err.details())
            )
        return err
    raise CheckFailed("expected %s, got OK: %s" % (code.name, short(answer)))


def expect_stream_code(code, responses):
    """Reads a response stream to its end and checks that it fails with `code`; returns the
    grpc.RpcError."""
    got = []
    try:
        for answer in responses:
            got.append(answer)
    except grpc.RpcError as err:
        if err.code() != code:
            raise CheckFailed(
                "expected %s, got %s: %s (after %d messages)"
                % (code.name, err.code().name, err.details(), len(got))
            )
        return err
    raise CheckFailed(
        "expected %s, the stream ended OK after %d messages: %s"
        % (code.name, len(got), [short(m) for m in got])
    )


def short(message):
    """A message on one line."""
    if message is None:
        return "None"
    text = str(message) if not isinstance(message, (list, tuple)) else repr(message)
    return " ".join(text.split()) or "{}"


def error(err):
    """A failed call as a step shows it: `CODE: details`."""
    return "%s: %s" % (err.code().name, err.details())


def echo_metadata(value, *extra):
    """The request metadata of a metadata check: `x-echo-check: <value>`, plus `extra` pairs."""
    return tuple(extra) + (("x-echo-check", value),)


def _values(metadata, key):
    return [value for k, value in (metadata or ()) if k == key]


def _expect_entry(metadata, key, want, where, name):
    """`metadata` (the response headers or the trailers) carries `key: <want>`, once; a
    failure shows `name`'s entries but the binary ones."""
    got = _values(metadata, key)
    shown = [(k, v) for k, v in metadata or () if not k.endswith("-bin")]
    expect(
        got == [want],
        "%s: expected %s %r, got %r (%s %r)" % (where, key, want, got, name, shown),
    )


def check_headers(call, value):
    """The response headers of `call` carry `x-echo-check: <value>`."""
    _expect_entry(call.initial_metadata(), "x-echo-check", value, "response headers", "headers")


def check_trailers(call, method):
    """The trailers of `call` carry `x-method: <method>`."""
    _expect_entry(call.trailing_metadata(), "x-method", method, "trailers", "trailers")


def check_metadata(call, value, method):
    """The metadata check: headers carry `x-echo-check: <value>`, trailers `x-method: <method>`."""
    check_headers(call, value)
    check_trailers(call, method)


def status_details(err):
    """The google.rpc.Status details of a failed call (ErrorInfo and BadRequest unpacked,
    others left packed), checking that the Status agrees with the call's code and message."""
    try:
        status = rpc_status.from_call(err)
    except ValueError as mismatch:
        raise CheckFailed("grpc-status-details-bin disagrees with the status: %s" % mismatch)
    if status is None:
        raise CheckFailed("expected a grpc-status-details-bin trailer, got none")
    details = []
    for any_detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if any_detail.Is(kind.DESCRIPTOR):
                detail = kind()
                any_detail.Unpack(detail)
                details.append(detail)
                break
        else:
            details.append(any_detail)
    return details


def detail_of(err, kind):
    """The first detail of type `kind` of a failed call."""
    details = status_details(err)
    for detail in details:
        if isinstance(detail, kind):
            return detail
    raise CheckFailed(
        "expected a %s in the status details, got %s"
        % (kind.DESCRIPTOR.full_name, [short(d) for d in details])
    )


def next_message(responses, what):
    """The next message of a response stream; the stream ending first is a failed check."""
    try:
        return next(responses)
    except StopIteration:
        raise CheckFailed("expected %s, the stream ended (%s)" % (what, responses.code().name))


class Feeder:
    """A request iterator fed one message at a time, for ping-pong on a bidirectional stream:
    grpcio reads it in its own thread, and `__next__` waits until `send` or `close` (which ends
    the client's side of the stream)."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is Feeder._END:
            # Keep answering "ended" to whoever asks again.
            self._queue.put(Feeder._END)
            raise StopIteration
        return item

    def send(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(Feeder._END)


def ping_pong(rpc, method, value, pings, check_answer, metadata=()):
    """The ping-pong step of a bidirectional method, with the metadata check.

    Opens `rpc` (a stub method, e.g. `stub.Chat`) with the TIMEOUT deadline and the request
    metadata `metadata` + `x-echo-check: <value>`. For each `(what, request)` of `pings`,
    sends the request, reads one answer and passes it to `check_answer(answer, request,
    "answer to <what>")`, which checks it (raising CheckFailed) and returns how to show it.
    Then ends the client's side and checks that the stream ends with OK and nothing more, and
    that the headers echo `x-echo-check` and the trailers carry `x-method: <method>`. Returns
    the answers shown, then "; ended OK"."""
    feeder = Feeder()
    call = rpc(feeder, timeout=TIMEOUT, metadata=echo_metadata(value, *metadata))
    got = []
    try:
        for what, request in pings:
            feeder.send(request)
            answer = next_message(call, "the answer to %s" % what)
            got.append(check_answer(answer, request, "answer to %s" % what))
        feeder.close()
        rest = list(call)
        expect(rest == [], "expected the stream to end, got more: %s" % [short(m) for m in rest])
        expect_eq(call.code(), grpc.StatusCode.OK, "status")
        check_metadata(call, value, method)
    finally:
        feeder.close()
    return "%s; ended OK" % ", ".join(got)


def expect_deadline(rpc, metadata=None):
    """The step "200 ms deadline, nothing sent" of a bidirectional method: opens `rpc` (a stub
    method) with a 200 ms deadline and `metadata`, sends nothing, and checks that the call
    fails with DEADLINE_EXCEEDED. Returns the code's name."""
    feeder = Feeder()
    try:
        err = expect_stream_code(
            grpc.StatusCode.DEADLINE_EXCEEDED, rpc(feeder, timeout=0.2, metadata=metadata)
        )
    finally:
        feeder.close()
    return err.code().name


class Steps:
    """Runs a client's steps in order: prints `<name>: <what came back>` for each; on the first
    failure prints `FAILED <name>: <what was expected, what came back>` on stderr and exits 1;
    `done()` prints `all <N> steps passed` and exits 0."""

    def __init__(self, channel=None):
        self.channel = channel
        self.passed = 0

    def run(self, name, step):
        """Runs `step()`, which returns a description of what came back (or raises
        CheckFailed)."""
        try:
            got = step()
        except CheckFailed as failure:
            self._fail(name, str(failure))
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            details = err.details() if hasattr(err, "details") else str(err)
            self._fail(
                name,
                "unexpected RPC error %s: %s" % (code.name if code else "?", details),
            )
        except Exception as err:  # a bug of the client or an answer it cannot handle
            traceback.print_exc(file=sys.stderr)
            self._fail(name, "unexpected %s: %s" % (type(err).__name__, err))
        self.passed += 1
        sys.stdout.write("%s: %s\n" % (name, got))
        sys.stdout.flush()

    def _fail(self, name, message):
        sys.stdout.flush()
        sys.stderr.write("FAILED %s: %s\n" % (name, message))
        sys.stderr.flush()
        self._close()
        sys.exit(1)

    def _close(self):
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def done(self):
        self._close()
        sys.stdout.write("all %d steps passed\n" % self.passed)
        sys.stdout.flush()
        sys.exit(0)
