#!/usr/bin/env python3
"""grpcio client of order.proto (`order.OrderService`): runs the steps of examples/README.md
against a freshly started server and checks every answer, with the article's service config
(examples/order-service/service_config.json: retries on UNAVAILABLE and DEADLINE_EXCEEDED).

    PYTHONPATH=target/peers/py-gen/order:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/order/client.py --addr 127.0.0.1:50051
"""

import json
import os
import sys

import grpc
from google.rpc import error_details_pb2

import common
from common import TIMEOUT, error, expect, expect_close, expect_code, expect_eq
import order_pb2
import order_pb2_grpc

SERVICE_CONFIG = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "..", "order-service", "service_config.json",
)

ADMIN = ("authorization", "Bearer admin-token")
READER = ("authorization", "Bearer reader-token")
SEEDED_IDS = {"ord-1", "ord-2", "ord-3"}


def item(product_id, quantity, unit_price):
    return order_pb2.LineItem(product_id=product_id, quantity=quantity, unit_price=unit_price)


def items_of(order):
    return [(i.product_id, i.quantity, i.unit_price) for i in order.items]


def show(order):
    return "%s %s %s total %r %s" % (
        order.id,
        order.customer_id,
        ", ".join("%s x %d @ %r" % i for i in items_of(order)),
        order.total,
        order_pb2.OrderStatus.Name(order.status)
        if order.status in order_pb2.OrderStatus.values()
        else order.status,
    )


def bad_request_fields(err):
    return [v.field for v in common.detail_of(err, error_details_pb2.BadRequest).field_violations]


def channel_options():
    try:
        with open(SERVICE_CONFIG) as f:
            config = f.read()
        json.loads(config)
    except (OSError, ValueError) as err:
        sys.stderr.write("cannot read the service config %s: %s\n" % (SERVICE_CONFIG, err))
        sys.exit(1)
    return [("grpc.service_config", config), ("grpc.enable_retries", 1)]


def main():
    addr = common.parse_addr("order.OrderService client (grpcio)")
    channel = grpc.insecure_channel(addr, options=channel_options())
    stub = order_pb2_grpc.OrderServiceStub(channel)
    steps = common.Steps(channel)
    state = {}

    def no_token():
        return error(
            expect_code(
                grpc.StatusCode.UNAUTHENTICATED,
                stub.GetOrder,
                order_pb2.GetOrderRequest(id="ord-1"),
                timeout=TIMEOUT,
            )
        )

    def get_as_reader():
        value = "py-order-get"
        order, call = stub.GetOrder.with_call(
            order_pb2.GetOrderRequest(id="ord-1"),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value, READER),
        )
        expect_eq(order.customer_id, "cust-1", "customer_id")
        expect_eq(len(order.items), 2, "number of items")
        expect_close(order.total, 3.75, "total")
        expect_eq(order.status, order_pb2.ORDER_STATUS_CONFIRMED, "status")
        common.check_metadata(call, value, "GetOrder")
        return show(order)

    def create_as_reader():
        return error(
            expect_code(
                grpc.StatusCode.PERMISSION_DENIED,
                stub.CreateOrder,
                order_pb2.CreateOrderRequest(customer_id="cust-3", items=[item("sku-tea", 2, 3.5)]),
                timeout=TIMEOUT,
                metadata=(READER,),
            )
        )

    def create():
        value = "py-order-create"
        sent = [item("sku-tea", 2, 3.5), item("sku-cake", 1, 4.0)]
        order, call = stub.CreateOrder.with_call(
            order_pb2.CreateOrderRequest(customer_id="cust-3", items=sent),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value, ADMIN),
        )
        expect(order.id and order.id not in SEEDED_IDS, "expected a new id, got %r" % order.id)
        expect_eq(order.customer_id, "cust-3", "customer_id")
        expect_close(order.total, 11.0, "total")
        expect_eq(order.status, order_pb2.ORDER_STATUS_PENDING, "status")
        expect_eq(items_of(order), [("sku-tea", 2, 3.5), ("sku-cake", 1, 4.0)], "items")
        common.check_metadata(call, value, "CreateOrder")
        state["order"] = order
        return show(order)

    def get_created():
        created = state["order"]
        order = stub.GetOrder(
            order_pb2.GetOrderRequest(id=created.id), timeout=TIMEOUT, metadata=(ADMIN,)
        )
        expect_eq(
            (order.id, order.customer_id, items_of(order), order.status),
            (created.id, created.customer_id, items_of(created), created.status),
            "order (id, customer_id, items, status)",
        )
        expect_close(order.total, created.total, "total")
        return show(order)

    def create_invalid():
        err = expect_code(
            grpc.StatusCode.INVALID_ARGUMENT,
            stub.CreateOrder,
            order_pb2.CreateOrderRequest(customer_id="", items=[item("sku-x", 0, -1.0)]),
            timeout=TIMEOUT,
            metadata=(ADMIN,),
        )
        fields = bad_request_fields(err)
        expect_eq(
            fields,
            ["customer_id", "items[0].quantity", "items[0].unit_price"],
            "BadRequest fields",
        )
        return "%s; BadRequest fields %s" % (error(err), fields)

    def get_unknown():
        err = expect_code(
            grpc.StatusCode.NOT_FOUND,
            stub.GetOrder,
            order_pb2.GetOrderRequest(id="ord-404"),
            timeout=TIMEOUT,
            metadata=(ADMIN,),
        )
        expect_eq(err.details(), "order ord-404 not found", "message")
        info = common.detail_of(err, error_details_pb2.ErrorInfo)
        expect_eq(
            (info.reason, info.domain, dict(info.metadata)),
            ("ORDER_NOT_FOUND", "order.myapp.com", {"order_id": "ord-404"}),
            "ErrorInfo (reason, domain, metadata)",
        )
        return "%s; ErrorInfo %s %s %s" % (
            error(err),
            info.reason,
            info.domain,
            dict(info.metadata),
        )

    def list_cust1():
        value = "py-order-list"
        call = stub.ListOrders(
            order_pb2.ListOrdersRequest(customer_id="cust-1"),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value, READER),
        )
        ids = [order.id for order in call]
        expect_eq(ids, ["ord-1", "ord-2"], "orders")
        common.check_metadata(call, value, "ListOrders")
        return ", ".join(ids)

    def list_cust3():
        orders = list(
            stub.ListOrders(
                order_pb2.ListOrdersRequest(customer_id="cust-3"),
                timeout=TIMEOUT,
                metadata=(ADMIN,),
            )
        )
        expect_eq([o.id for o in orders], [state["order"].id], "orders")
        return ", ".join(o.id for o in orders)

    def upload():
        value = "py-order-upload"
        summary, call = stub.UploadLineItems.with_call(
            iter([item("a", 2, 1.5), item("b", 1, 3.0), item("c", 4, 0.25)]),
            timeout=TIMEOUT,
            metadata=common.echo_metadata(value, ADMIN),
        )
        expect_eq(
            (summary.item_count, summary.total_quantity), (3, 7), "(item_count, total_quantity)"
        )
        expect_close(summary.total_amount, 7.0, "total_amount")
        common.check_metadata(call, value, "UploadLineItems")
        return "item_count %d, total_quantity %d, total_amount %r" % (
            summary.item_count,
            summary.total_quantity,
            summary.total_amount,
        )

    def upload_invalid():
        err = expect_code(
            grpc.StatusCode.INVALID_ARGUMENT,
            stub.UploadLineItems,
            iter([item("a", 1, 1.0), item("b", 0, 1.0)]),
            timeout=TIMEOUT,
            metadata=(ADMIN,),
        )
        fields = bad_request_fields(err)
        expect(
            "items[1].quantity" in fields,
            "expected the BadRequest field items[1].quantity, got %s" % fields,
        )
        return "%s; BadRequest fields %s" % (error(err), fields)

    def chat():
        def check_answer(answer, request, what):
            expect_eq(
                (answer.order_id, answer.sender, answer.text),
                ("ord-1", "server", "Echo: " + request.text),
                what,
            )
            return "{%s, %s, %r}" % (answer.order_id, answer.sender, answer.text)

        pings = [
            (repr(text), order_pb2.ChatMessage(order_id="ord-1", sender="client", text=text))
            for text in ("hello", "bye")
        ]
        return common.ping_pong(
            stub.OrderChat, "OrderChat", "py-order-chat", pings, check_answer, metadata=(ADMIN,)
        )

    def chat_deadline():
        return common.expect_deadline(stub.OrderChat, metadata=(ADMIN,))

    steps.run('1 GetOrder("ord-1"), no token', no_token)
    steps.run('2 GetOrder("ord-1"), reader-token', get_as_reader)
    steps.run("3 CreateOrder(cust-3, [sku-tea]), reader-token", create_as_reader)
    steps.run("4 CreateOrder(cust-3, [sku-tea, sku-cake])", create)
    steps.run("5 GetOrder(<that id>)", get_created)
    steps.run('6 CreateOrder("", [sku-x x 0 @ -1.0])', create_invalid)
    steps.run('7 GetOrder("ord-404")', get_unknown)
    steps.run('8 ListOrders("cust-1"), reader-token', list_cust1)
    steps.run('9 ListOrders("cust-3")', list_cust3)
    steps.run("10 UploadLineItems([a, b, c])", upload)
    steps.run("11 UploadLineItems([a, b x 0])", upload_invalid)
    steps.run('12 OrderChat ping-pong "hello", "bye"', chat)
    steps.run("13 OrderChat, 200 ms deadline, nothing sent", chat_deadline)
    steps.done()


if __name__ == "__main__":
    main()
