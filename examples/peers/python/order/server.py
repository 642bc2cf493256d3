#!/usr/bin/env python3
"""grpcio server of order.proto (`order.OrderService`), as examples/README.md specifies: orders
kept in memory, seeded with ord-1..ord-3; a grpc.ServerInterceptor checks the bearer token of
every call before its handler runs; errors carry google.rpc details (ErrorInfo, BadRequest) in
`grpc-status-details-bin`.

    PYTHONPATH=target/peers/py-gen/order:examples/peers/python \\
        target/peers/venv/bin/python examples/peers/python/order/server.py --addr 127.0.0.1:50051
"""

import threading

import grpc
from google.rpc import error_details_pb2

import common
import order_pb2
import order_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND

# Which methods each token may call (None: every method).
TOKENS = {
    "admin-token": None,
    "reader-token": {"GetOrder", "ListOrders"},
}


def item(product_id, quantity, unit_price):
    return order_pb2.LineItem(product_id=product_id, quantity=quantity, unit_price=unit_price)


SEEDS = [
    (
        "ord-1",
        "cust-1",
        [item("sku-apple", 3, 0.5), item("sku-bread", 1, 2.25)],
        order_pb2.ORDER_STATUS_CONFIRMED,
    ),
    ("ord-2", "cust-1", [item("sku-milk", 2, 1.2)], order_pb2.ORDER_STATUS_SHIPPED),
    ("ord-3", "cust-2", [item("sku-coffee", 1, 7.5)], order_pb2.ORDER_STATUS_PENDING),
]


def total(items):
    return sum(i.quantity * i.unit_price for i in items)


def item_violations(index, item):
    """The (field, description) violations of line item `index`."""
    field = "items[%d]." % index
    violations = []
    if not item.product_id:
        violations.append((field + "product_id", "must not be empty"))
    if item.quantity <= 0:
        violations.append((field + "quantity", "must be positive, got %d" % item.quantity))
    if item.unit_price < 0:
        violations.append((field + "unit_price", "must not be negative, got %r" % item.unit_price))
    return violations


def refuse(context, method, what, violations):
    """Ends the call with INVALID_ARGUMENT, "invalid <what>: <the fields>", and a BadRequest
    listing the (field, description) `violations`."""
    common.abort(
        context,
        method,
        INVALID_ARGUMENT,
        "invalid %s: %s" % (what, ", ".join(field for field, _ in violations)),
        common.bad_request(*violations),
    )


class AuthInterceptor(grpc.ServerInterceptor):
    """Checks `authorization: Bearer <token>` before any handler runs: a missing or malformed
    header or an unknown token answers UNAUTHENTICATED, a token not allowed to call the method
    PERMISSION_DENIED (echoing the x-echo-* metadata and setting x-method like the handlers).
    common.serve applies it to order.OrderService's methods only: the health and reflection
    services need no token."""

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method.rsplit("/", 1)[-1]
        values = [
            value
            for key, value in handler_call_details.invocation_metadata or ()
            if key == "authorization"
        ]
        refusal = None
        scheme, _, token = values[0].partition(" ") if len(values) == 1 else ("", "", "")
        if len(values) != 1 or scheme.lower() != "bearer" or not token or " " in token:
            refusal = (
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or malformed authorization header (want: Bearer <token>)",
            )
        elif token not in TOKENS:
            refusal = (grpc.StatusCode.UNAUTHENTICATED, "unknown token")
        elif TOKENS[token] is not None and method not in TOKENS[token]:
            refusal = (grpc.StatusCode.PERMISSION_DENIED, "%s may not call %s" % (token, method))

        handler = continuation(handler_call_details)
        if refusal is None or handler is None:
            return handler
        code, message = refusal

        def refuse(request_or_iterator, context):
            common.echo(context, method)
            common.abort(context, method, code, message)

        # A handler of the same kind as the method's, which refuses the call.
        kinds = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }
        make = kinds[(handler.request_streaming, handler.response_streaming)]
        return make(
            refuse,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class OrderService(order_pb2_grpc.OrderServiceServicer):
    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}  # id -> Order, in creation order
        for id, customer_id, items, status in SEEDS:
            self.orders[id] = order_pb2.Order(
                id=id, customer_id=customer_id, items=items, total=total(items), status=status
            )
        self.next_id = len(self.orders) + 1

    def CreateOrder(self, request, context):
        common.echo(context, "CreateOrder")
        violations = []
        if not request.customer_id:
            violations.append(("customer_id", "must not be empty"))
        if not request.items:
            violations.append(("items", "must not be empty"))
        for index, line in enumerate(request.items):
            violations.extend(item_violations(index, line))
        if violations:
            refuse(context, "CreateOrder", "order", violations)
        with self.lock:
            order = order_pb2.Order(
                id="ord-%d" % self.next_id,
                customer_id=request.customer_id,
                items=request.items,
                total=total(request.items),
                status=order_pb2.ORDER_STATUS_PENDING,
            )
            self.next_id += 1
            self.orders[order.id] = order
        return order

    def GetOrder(self, request, context):
        common.echo(context, "GetOrder")
        with self.lock:
            order = self.orders.get(request.id)
        if order is None:
            common.abort(
                context,
                "GetOrder",
                NOT_FOUND,
                "order %s not found" % request.id,
                error_details_pb2.ErrorInfo(
                    reason="ORDER_NOT_FOUND",
                    domain="order.myapp.com",
                    metadata={"order_id": request.id},
                ),
            )
        return order

    def ListOrders(self, request, context):
        common.echo(context, "ListOrders")
        with self.lock:
            orders = list(self.orders.values())
        for order in orders:
            if not request.customer_id or order.customer_id == request.customer_id:
                yield order

    def UploadLineItems(self, request_iterator, context):
        common.echo(context, "UploadLineItems")
        summary = order_pb2.UploadSummary()
        refused = None
        for index, line in enumerate(request_iterator):
            violations = item_violations(index, line)
            if violations and refused is None:
                refused = violations
            summary.item_count += 1
            summary.total_quantity += line.quantity
            summary.total_amount += line.quantity * line.unit_price
        if refused:
            refuse(context, "UploadLineItems", "line item", refused)
        return summary

    def OrderChat(self, request_iterator, context):
        common.echo(context, "OrderChat")
        for message in common.until_cancelled(request_iterator):
            yield order_pb2.ChatMessage(
                order_id=message.order_id, sender="server", text="Echo: " + message.text
            )


def main():
    common.serve(
        "order.OrderService",
        lambda server: order_pb2_grpc.add_OrderServiceServicer_to_server(OrderService(), server),
        interceptors=[AuthInterceptor()],
    )


if __name__ == "__main__":
    main()
