//! Calls every OrderService method on a freshly started server, checks each answer and
//! reports it. Every call has a deadline: the channel's default timeout, or a tighter one of
//! its own. The client binary prints the report; the tests run it against the server.

use std::time::Duration;

use wirecall::interceptor::{BearerToken, REQUEST_ID};
use wirecall::status::details::{BadRequest, ErrorInfo};
use wirecall::{message_stream, Code, Endpoint, Request, Status};

use crate::pb::order::LineItem;
use crate::pb::{
    CreateOrderRequest, GetOrderRequest, ListOrdersRequest, Order, OrderServiceClient, OrderStatus,
    UpdateStatusRequest,
};
use crate::{ADMIN_TOKEN, READER_TOKEN};

/// The deadline of every call that sets none of its own.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One checked step: its name and what the server answered.
#[derive(Debug)]
pub struct Step {
    /// What was called.
    pub name: String,
    /// What came back, for people.
    pub got: String,
}

/// A client for `target` that sends `token` (if any), gives every call [`CALL_TIMEOUT`],
/// and follows the OrderService's service config ([`crate::SERVICE_CONFIG`]).
pub fn client(target: &str, token: Option<&str>) -> Result<OrderServiceClient, String> {
    let mut endpoint = Endpoint::new(target)
        .map_err(|e| format!("{target}: {e}"))?
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CALL_TIMEOUT)
        .service_config_json(crate::SERVICE_CONFIG)
        .map_err(|e| format!("service_config.json: {e}"))?;
    if let Some(token) = token {
        endpoint = endpoint.interceptor(BearerToken::new(token));
    }
    Ok(OrderServiceClient::new(endpoint.connect_lazy()))
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn item(product_id: &str, quantity: i32, unit_price: f64) -> LineItem {
    LineItem {
        product_id: product_id.into(),
        quantity,
        unit_price,
    }
}

fn show(order: &Order) -> String {
    format!(
        "{} for {}: {} item(s), total {:.2}, {}",
        order.id,
        order.customer_id,
        order.items.len(),
        order.total,
        order.status().as_str_name()
    )
}

fn unexpected(step: &str, status: Status) -> String {
    format!("{step}: unexpected status {status}")
}

/// The status of a call that had to fail with `code`.
fn expect_failure<T: std::fmt::Debug>(
    step: &str,
    result: Result<T, Status>,
    code: Code,
) -> Result<Status, String> {
    match result {
        Err(status) if status.code() == code => Ok(status),
        Err(status) => Err(unexpected(step, status)),
        Ok(answer) => Err(format!("{step}: expected {code:?}, got {answer:?}")),
    }
}

/// Runs every step against a fresh server at `target`; the first wrong answer ends it with
/// a description of the mismatch.
pub async fn run(target: &str) -> Result<Vec<Step>, String> {
    let admin = client(target, Some(ADMIN_TOKEN))?;
    let mut steps = Vec::new();
    let mut step = |name: &str, got: String| {
        steps.push(Step {
            name: name.to_owned(),
            got,
        })
    };

    // CreateOrder, with a tighter deadline of its own; the server echoes a request id.
    let mut request = Request::new(CreateOrderRequest {
        customer_id: "alice".into(),
        items: vec![item("book", 2, 12.5), item("pen", 3, 1.25)],
    });
    request.set_timeout(Duration::from_secs(2));
    let response = admin
        .create_order(request)
        .await
        .map_err(|s| unexpected("CreateOrder", s))?;
    let request_id = response.metadata().get(REQUEST_ID).unwrap_or("").to_owned();
    let first = response.into_inner();
    check(
        first.id == "ord-1"
            && first.total == 28.75
            && first.status() == OrderStatus::Pending
            && first.items.len() == 2
            && first.created_at.is_some(),
        || format!("CreateOrder: got {first:?}"),
    )?;
    check(!request_id.is_empty(), || {
        "CreateOrder: no x-request-id in the response headers".to_owned()
    })?;
    step(
        "CreateOrder",
        format!("{} [x-request-id {request_id}]", show(&first)),
    );

    // An invalid order: INVALID_ARGUMENT with a BadRequest naming each bad field.
    let invalid = CreateOrderRequest {
        customer_id: "alice".into(),
        items: vec![item("book", 0, 12.5)],
    };
    let status = expect_failure(
        "CreateOrder(invalid)",
        admin.create_order(invalid).await,
        Code::InvalidArgument,
    )?;
    let fields: Vec<String> = status
        .detail::<BadRequest>()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    check(fields == ["items[0].quantity"], || {
        format!("CreateOrder(invalid): BadRequest fields {fields:?}")
    })?;
    step(
        "CreateOrder(invalid)",
        format!("{status} [BadRequest {}]", fields.join(", ")),
    );

    // GetOrder of the new order, and of an unknown one (NOT_FOUND with an ErrorInfo).
    let got = admin
        .get_order(GetOrderRequest { id: "ord-1".into() })
        .await
        .map_err(|s| unexpected("GetOrder(ord-1)", s))?
        .into_inner();
    check(got == first, || format!("GetOrder(ord-1): got {got:?}"))?;
    step("GetOrder(ord-1)", show(&got));
    let missing = admin.get_order(GetOrderRequest {
        id: "ord-999".into(),
    });
    let status = expect_failure("GetOrder(ord-999)", missing.await, Code::NotFound)?;
    let info = status
        .detail::<ErrorInfo>()
        .ok_or_else(|| format!("GetOrder(ord-999): no ErrorInfo in {status}"))?;
    check(
        status.message() == "Order not found"
            && info.reason == "ORDER_NOT_FOUND"
            && info.domain == crate::DOMAIN
            && info.metadata.get("order_id").map(String::as_str) == Some("ord-999"),
        || format!("GetOrder(ord-999): {status} {info:?}"),
    )?;
    step(
        "GetOrder(ord-999)",
        format!(
            "{status} [ErrorInfo {} {} order_id=ord-999]",
            info.reason, info.domain
        ),
    );

    // CreateOrders: a client stream of two orders, one answer.
    let batch = message_stream::iter([
        CreateOrderRequest {
            customer_id: "bob".into(),
            items: vec![item("lamp", 1, 30.0)],
        },
        CreateOrderRequest {
            customer_id: "alice".into(),
            items: vec![item("mug", 4, 2.5)],
        },
    ]);
    let created = admin
        .create_orders(batch)
        .await
        .map_err(|s| unexpected("CreateOrders", s))?
        .into_inner();
    let ids: Vec<&str> = created.orders.iter().map(|o| o.id.as_str()).collect();
    check(ids == ["ord-2", "ord-3"] && created.total == 40.0, || {
        format!("CreateOrders: got {created:?}")
    })?;
    step(
        "CreateOrders",
        format!("{} total {:.2}", ids.join(", "), created.total),
    );

    // ListOrders: a server stream of alice's orders.
    let mut stream = admin
        .list_orders(ListOrdersRequest {
            customer_id: "alice".into(),
            status: 0,
        })
        .await
        .map_err(|s| unexpected("ListOrders(alice)", s))?
        .into_inner();
    let mut listed = Vec::new();
    while let Some(order) = stream
        .message()
        .await
        .map_err(|s| unexpected("ListOrders(alice)", s))?
    {
        listed.push(order.id);
    }
    check(listed == ["ord-1", "ord-3"], || {
        format!("ListOrders(alice): got {listed:?}")
    })?;
    step("ListOrders(alice)", listed.join(", "));

    // UpdateStatuses: each change answered on the bidi stream as it is applied.
    let (tx, rx) = message_stream::channel(4);
    let mut answers = admin
        .update_statuses(rx)
        .await
        .map_err(|s| unexpected("UpdateStatuses", s))?
        .into_inner();
    let mut changed = Vec::new();
    for (id, status) in [
        ("ord-1", OrderStatus::Paid),
        ("ord-2", OrderStatus::Shipped),
    ] {
        let update = UpdateStatusRequest {
            id: id.into(),
            status: status.into(),
        };
        tx.send(update)
            .await
            .map_err(|_| "UpdateStatuses: the call ended early".to_owned())?;
        let order = answers
            .message()
            .await
            .map_err(|s| unexpected("UpdateStatuses", s))?
            .ok_or_else(|| format!("UpdateStatuses: no answer for {id}"))?;
        check(order.id == id && order.status() == status, || {
            format!("UpdateStatuses({id}): got {order:?}")
        })?;
        changed.push(format!("{id} {}", status.as_str_name()));
    }
    drop(tx);
    let end = answers
        .message()
        .await
        .map_err(|s| unexpected("UpdateStatuses", s))?;
    check(end.is_none(), || format!("UpdateStatuses: extra {end:?}"))?;
    step("UpdateStatuses", changed.join(", "));

    // ListOrders by status: only the paid order.
    let mut stream = admin
        .list_orders(ListOrdersRequest {
            customer_id: String::new(),
            status: OrderStatus::Paid.into(),
        })
        .await
        .map_err(|s| unexpected("ListOrders(PAID)", s))?
        .into_inner();
    let mut paid = Vec::new();
    while let Some(order) = stream
        .message()
        .await
        .map_err(|s| unexpected("ListOrders(PAID)", s))?
    {
        paid.push(order.id);
    }
    check(paid == ["ord-1"], || {
        format!("ListOrders(PAID): got {paid:?}")
    })?;
    step("ListOrders(PAID)", paid.join(", "));

    // Auth: the reader may read but not write; no token is UNAUTHENTICATED.
    let reader = client(target, Some(READER_TOKEN))?;
    let read = reader
        .get_order(GetOrderRequest { id: "ord-2".into() })
        .await
        .map_err(|s| unexpected("Auth(reader GetOrder)", s))?
        .into_inner();
    check(read.status() == OrderStatus::Shipped, || {
        format!("Auth(reader GetOrder): got {read:?}")
    })?;
    let denied = reader.create_order(CreateOrderRequest {
        customer_id: "mallory".into(),
        items: vec![item("book", 1, 1.0)],
    });
    let denied = expect_failure(
        "Auth(reader CreateOrder)",
        denied.await,
        Code::PermissionDenied,
    )?;
    let anonymous = client(target, None)?;
    let refused = anonymous.get_order(GetOrderRequest { id: "ord-1".into() });
    let refused = expect_failure("Auth(no token)", refused.await, Code::Unauthenticated)?;
    step(
        "Auth",
        format!(
            "reader GetOrder OK; reader CreateOrder {:?}; no token {:?}",
            denied.code(),
            refused.code()
        ),
    );

    Ok(steps)
}
