#!/usr/bin/env python3
"""grpcio client for order.OrderService.

Usage:
    ORDER_PY_GEN=target/peers/py-gen python client.py --addr 127.0.0.1:50052

Runs a fixed sequence of calls against a FRESH server (an empty store) and checks every
answer; every call has a deadline. Prints "PASS <step>" per step; on the first mismatch
prints "FAIL <step>: <reason>" and exits 1. Exits 0 when all pass.
"""

import argparse
import os
import sys

_GEN = os.environ.get("ORDER_PY_GEN")
if _GEN:
    sys.path.insert(0, _GEN)

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

try:
    import order_pb2  # noqa: E402
    import order_pb2_grpc  # noqa: E402
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write(
        "cannot import generated stubs (%s); run scripts/install-peers.sh and set "
        "ORDER_PY_GEN=target/peers/py-gen\n" % exc
    )
    sys.exit(2)

TIMEOUT = 5.0  # seconds: the deadline of every call
ADMIN = (("authorization", "Bearer admin-token"),)
READER = (("authorization", "Bearer reader-token"),)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(actual, expected, what):
    check(actual == expected, "%s: expected %r, got %r" % (what, expected, actual))


def item(product_id, quantity, unit_price):
    return order_pb2.Order.LineItem(product_id=product_id, quantity=quantity, unit_price=unit_price)


def expect_error(fn, code, what):
    """Calls fn(), which must fail with `code`; returns the RpcError."""
    try:
        answer = fn()
    except grpc.RpcError as err:
        eq(err.code(), code, what + " code")
        return err
    raise Failure("%s: expected %s, got %r" % (what, code, answer))


def details(err, message_type):
    """Every detail of type `message_type` in the status of a failed call."""
    status = rpc_status.from_call(err)
    check(status is not None, "no grpc-status-details-bin")
    found = []
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            detail = message_type()
            any_detail.Unpack(detail)
            found.append(detail)
    return found


def step_create_order(stub):
    order, call = stub.CreateOrder.with_call(
        order_pb2.CreateOrderRequest(customer_id="alice", items=[item("book", 2, 12.5), item("pen", 3, 1.25)]),
        metadata=ADMIN, timeout=TIMEOUT)
    eq(order.id, "ord-1", "CreateOrder id")
    eq(order.total, 28.75, "CreateOrder total")
    eq(order.status, order_pb2.ORDER_STATUS_PENDING, "CreateOrder status")
    eq([i.product_id for i in order.items], ["book", "pen"], "CreateOrder items")
    check(order.HasField("created_at"), "CreateOrder created_at is missing")
    ids = [v for k, v in call.initial_metadata() if k == "x-request-id"]
    check(len(ids) == 1 and ids[0], "CreateOrder: x-request-id %r" % (ids,))


def step_create_order_invalid(stub):
    err = expect_error(lambda: stub.CreateOrder(
        order_pb2.CreateOrderRequest(customer_id="", items=[]), metadata=ADMIN, timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT, "CreateOrder(invalid)")
    [bad] = details(err, error_details_pb2.BadRequest)
    eq([v.field for v in bad.field_violations], ["customer_id", "items"], "BadRequest fields")


def step_get_order(stub):
    order = stub.GetOrder(order_pb2.GetOrderRequest(id="ord-1"), metadata=ADMIN, timeout=TIMEOUT)
    eq((order.customer_id, order.total), ("alice", 28.75), "GetOrder(ord-1)")


def step_get_order_missing(stub):
    err = expect_error(lambda: stub.GetOrder(
        order_pb2.GetOrderRequest(id="ord-999"), metadata=ADMIN, timeout=TIMEOUT),
        grpc.StatusCode.NOT_FOUND, "GetOrder(ord-999)")
    eq(err.details(), "Order not found", "GetOrder(ord-999) message")
    [info] = details(err, error_details_pb2.ErrorInfo)
    eq((info.reason, info.domain, dict(info.metadata)),
       ("ORDER_NOT_FOUND", "order.example.com", {"order_id": "ord-999"}), "ErrorInfo")


def step_create_orders(stub):
    requests = iter([
        order_pb2.CreateOrderRequest(customer_id="bob", items=[item("lamp", 1, 30.0)]),
        order_pb2.CreateOrderRequest(customer_id="alice", items=[item("mug", 4, 2.5)]),
    ])
    answer = stub.CreateOrders(requests, metadata=ADMIN, timeout=TIMEOUT)
    eq([o.id for o in answer.orders], ["ord-2", "ord-3"], "CreateOrders ids")
    eq(answer.total, 40.0, "CreateOrders total")


def step_list_orders(stub):
    orders = stub.ListOrders(order_pb2.ListOrdersRequest(customer_id="alice"), metadata=ADMIN, timeout=TIMEOUT)
    eq([o.id for o in orders], ["ord-1", "ord-3"], "ListOrders(alice)")


def step_update_statuses(stub):
    updates = [("ord-1", order_pb2.ORDER_STATUS_PAID), ("ord-2", order_pb2.ORDER_STATUS_SHIPPED)]
    requests = iter([order_pb2.UpdateStatusRequest(id=i, status=s) for i, s in updates])
    answers = stub.UpdateStatuses(requests, metadata=ADMIN, timeout=TIMEOUT)
    eq([(o.id, o.status) for o in answers], updates, "UpdateStatuses answers")
    cancelled = iter([
        order_pb2.UpdateStatusRequest(id="ord-3", status=order_pb2.ORDER_STATUS_CANCELLED),
        order_pb2.UpdateStatusRequest(id="ord-3", status=order_pb2.ORDER_STATUS_PAID),
    ])
    answers = stub.UpdateStatuses(cancelled, metadata=ADMIN, timeout=TIMEOUT)
    first = next(answers)
    eq(first.status, order_pb2.ORDER_STATUS_CANCELLED, "UpdateStatuses(cancel)")
    expect_error(lambda: next(answers), grpc.StatusCode.FAILED_PRECONDITION, "UpdateStatuses(cancelled)")


def step_auth(stub):
    order = stub.GetOrder(order_pb2.GetOrderRequest(id="ord-2"), metadata=READER, timeout=TIMEOUT)
    eq(order.status, order_pb2.ORDER_STATUS_SHIPPED, "reader GetOrder")
    expect_error(lambda: stub.CreateOrder(
        order_pb2.CreateOrderRequest(customer_id="mallory", items=[item("book", 1, 1.0)]),
        metadata=READER, timeout=TIMEOUT), grpc.StatusCode.PERMISSION_DENIED, "reader CreateOrder")
    expect_error(lambda: stub.GetOrder(order_pb2.GetOrderRequest(id="ord-1"), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "no token")
    expect_error(lambda: stub.GetOrder(order_pb2.GetOrderRequest(id="ord-1"),
                                       metadata=(("authorization", "Bearer nope"),), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "unknown token")


STEPS = [
    ("CreateOrder", step_create_order),
    ("CreateOrder(invalid) INVALID_ARGUMENT", step_create_order_invalid),
    ("GetOrder(ord-1)", step_get_order),
    ("GetOrder(ord-999) NOT_FOUND", step_get_order_missing),
    ("CreateOrders", step_create_orders),
    ("ListOrders", step_list_orders),
    ("UpdateStatuses", step_update_statuses),
    ("Auth", step_auth),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="host:port of a fresh OrderService server")
    args = parser.parse_args()

    with grpc.insecure_channel(args.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        except grpc.FutureTimeoutError:
            print("FAIL connect: no connection to %s within %.0fs" % (args.addr, TIMEOUT), flush=True)
            return 1
        stub = order_pb2_grpc.OrderServiceStub(channel)
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
