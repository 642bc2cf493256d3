//! Calls every method of the `order.OrderService` the way `examples/README.md` lists, with the
//! article's retry service config, checking every answer. Expects a freshly started server.

use example_support::steps::{
    answer, check, collect, echoed, fail, ping_pong, refused, runs_out, short, stream_echoed,
    with_echo, Checked, Step, Steps, CALL_TIMEOUT,
};
use wirecall::status::details::{BadRequest, ErrorInfo};
use wirecall::{message_stream, Code, Endpoint, Request, Status};

use crate::pb::{
    ChatMessage, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest, Order,
    OrderServiceClient, OrderStatus,
};
use crate::{ADMIN_TOKEN, READER_TOKEN};

/// How close two totals must be to count as equal.
const EPSILON: f64 = 1e-9;

/// An OrderService client for `target` following the article's service config
/// ([`crate::SERVICE_CONFIG`]), every call with [`CALL_TIMEOUT`] unless it sets its own.
pub fn client(target: &str) -> Result<OrderServiceClient, String> {
    client_with(target, crate::SERVICE_CONFIG)
}

/// An OrderService client for `target` (`http://HOST:PORT`, or a name-resolving target such
/// as `dns:///orders.default.svc.cluster.local:50051`) following `service_config` (JSON),
/// every call with [`CALL_TIMEOUT`] unless it sets its own.
pub fn client_with(target: &str, service_config: &str) -> Result<OrderServiceClient, String> {
    let endpoint = Endpoint::new(target)
        .map_err(|e| format!("{target}: {e}"))?
        .timeout(CALL_TIMEOUT)
        .service_config_json(service_config)
        .map_err(|e| format!("service config: {e}"))?;
    Ok(OrderServiceClient::new(endpoint.connect_lazy()))
}

/// `request` carrying `authorization: Bearer <token>`.
pub(crate) fn bearer<T>(token: &str, mut request: Request<T>) -> Request<T> {
    request
        .metadata_mut()
        .insert("authorization", &format!("Bearer {token}"))
        .expect("a valid ASCII metadata entry");
    request
}

/// `message` as the admin sends it.
fn admin<T>(message: T) -> Request<T> {
    bearer(ADMIN_TOKEN, Request::new(message))
}

fn item(product_id: &str, quantity: i32, unit_price: f64) -> LineItem {
    LineItem {
        product_id: product_id.into(),
        quantity,
        unit_price,
    }
}

pub(crate) fn get(id: &str) -> GetOrderRequest {
    GetOrderRequest { id: id.into() }
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

fn ids(orders: &[Order]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

/// The fields a `BadRequest` in `status` names.
fn violated_fields(status: &Status) -> Vec<String> {
    let bad = status.detail::<BadRequest>();
    bad.map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Runs every step against `target` (`http://HOST:PORT`).
pub async fn run(target: &str) -> Checked<Vec<Step>> {
    run_with(target, crate::SERVICE_CONFIG).await
}

/// Runs every step against `target` with `service_config` (JSON) instead of the article's.
pub async fn run_with(target: &str, service_config: &str) -> Checked<Vec<Step>> {
    let client = match client_with(target, service_config) {
        Ok(client) => client,
        Err(e) => return fail("connect", e),
    };
    let mut steps = Steps::new();

    let step = "GetOrder(ord-1), no token";
    steps.refused(
        step,
        client.get_order(get("ord-1")).await,
        Code::Unauthenticated,
    )?;

    let step = "GetOrder(ord-1), reader";
    let request = bearer(READER_TOKEN, with_echo(get("ord-1")));
    let response = answer(step, client.get_order(request).await)?;
    echoed(step, response.metadata(), response.trailers(), "GetOrder")?;
    let first = response.into_inner();
    check(
        step,
        first.customer_id == "cust-1"
            && first.items.len() == 2
            && (first.total - 3.75).abs() < EPSILON
            && first.status() == OrderStatus::Confirmed,
        || format!("expected cust-1's 2 items, 3.75, CONFIRMED, got {first:?}"),
    )?;
    steps.pass(step, show(&first));

    let step = "CreateOrder, reader";
    let tea = vec![item("sku-tea", 2, 3.5)];
    let request = CreateOrderRequest {
        customer_id: "cust-3".into(),
        items: tea.clone(),
    };
    let result = client
        .create_order(bearer(READER_TOKEN, Request::new(request)))
        .await;
    steps.refused(step, result, Code::PermissionDenied)?;

    let step = "CreateOrder(cust-3: tea, cake)";
    let items = vec![item("sku-tea", 2, 3.5), item("sku-cake", 1, 4.0)];
    let request = CreateOrderRequest {
        customer_id: "cust-3".into(),
        items: items.clone(),
    };
    let response = answer(
        step,
        client
            .create_order(bearer(ADMIN_TOKEN, with_echo(request)))
            .await,
    )?;
    echoed(
        step,
        response.metadata(),
        response.trailers(),
        "CreateOrder",
    )?;
    let created = response.into_inner();
    check(
        step,
        !["", "ord-1", "ord-2", "ord-3"].contains(&created.id.as_str())
            && (created.total - 11.0).abs() < EPSILON
            && created.status() == OrderStatus::Pending
            && created.items == items,
        || format!("expected a new PENDING order of 11.00 with tea and cake, got {created:?}"),
    )?;
    steps.pass(step, show(&created));

    let step = "GetOrder(the new order)";
    let got = answer(step, client.get_order(admin(get(&created.id))).await)?.into_inner();
    check(step, got == created, || {
        format!("expected {created:?}, got {got:?}")
    })?;
    steps.pass(step, show(&got));

    let step = "CreateOrder(invalid)";
    let request = CreateOrderRequest {
        customer_id: String::new(),
        items: vec![item("sku-x", 0, -1.0)],
    };
    let result = client.create_order(admin(request)).await;
    let status = refused(step, result, Code::InvalidArgument)?;
    let fields = violated_fields(&status);
    let expected = ["customer_id", "items[0].quantity", "items[0].unit_price"];
    check(step, fields == expected, || {
        format!("expected a BadRequest naming {expected:?}, got {fields:?} in {status}")
    })?;
    steps.pass(
        step,
        format!("INVALID_ARGUMENT: BadRequest {}", fields.join(", ")),
    );

    let step = "GetOrder(ord-404)";
    let status = refused(
        step,
        client.get_order(admin(get("ord-404"))).await,
        Code::NotFound,
    )?;
    let info = status.detail::<ErrorInfo>();
    check(
        step,
        status.message() == "order ord-404 not found"
            && info.as_ref().is_some_and(|info| {
                info.reason == "ORDER_NOT_FOUND"
                    && info.domain == crate::DOMAIN
                    && info.metadata.get("order_id").map(String::as_str) == Some("ord-404")
            }),
        || {
            format!("expected \"order ord-404 not found\" with ErrorInfo ORDER_NOT_FOUND, got {status} {info:?}")
        },
    )?;
    steps.pass(
        step,
        format!(
            "NOT_FOUND: {} [ErrorInfo ORDER_NOT_FOUND {}]",
            status.message(),
            crate::DOMAIN
        ),
    );

    let step = "ListOrders(cust-1), reader";
    let request = ListOrdersRequest {
        customer_id: "cust-1".into(),
    };
    let request = bearer(READER_TOKEN, with_echo(request));
    let mut stream = answer(step, client.list_orders(request).await)?.into_inner();
    let listed = collect(step, &mut stream).await?;
    stream_echoed(step, &mut stream, "ListOrders").await?;
    check(step, ids(&listed) == ["ord-1", "ord-2"], || {
        format!("expected ord-1, ord-2, got {:?}", ids(&listed))
    })?;
    steps.pass(step, ids(&listed).join(", "));

    let step = "ListOrders(cust-3)";
    let request = ListOrdersRequest {
        customer_id: "cust-3".into(),
    };
    let mut stream = answer(step, client.list_orders(admin(request)).await)?.into_inner();
    let listed = collect(step, &mut stream).await?;
    check(step, listed == [created.clone()], || {
        format!("expected only {}, got {:?}", created.id, ids(&listed))
    })?;
    steps.pass(step, ids(&listed).join(", "));

    let step = "UploadLineItems(a, b, c)";
    let uploaded = message_stream::iter([item("a", 2, 1.5), item("b", 1, 3.0), item("c", 4, 0.25)]);
    let request = bearer(ADMIN_TOKEN, with_echo(uploaded));
    let response = answer(step, client.upload_line_items(request).await)?;
    echoed(
        step,
        response.metadata(),
        response.trailers(),
        "UploadLineItems",
    )?;
    let summary = response.into_inner();
    check(
        step,
        summary.item_count == 3
            && summary.total_quantity == 7
            && (summary.total_amount - 7.0).abs() < EPSILON,
        || format!("expected 3 items, quantity 7, amount 7.00, got {summary:?}"),
    )?;
    steps.pass(
        step,
        format!(
            "{} items, quantity {}, amount {:.2}",
            summary.item_count, summary.total_quantity, summary.total_amount
        ),
    );

    let step = "UploadLineItems(a, b × 0)";
    let uploaded = message_stream::iter([item("a", 1, 1.0), item("b", 0, 1.0)]);
    let result = client.upload_line_items(admin(uploaded)).await;
    let status = refused(step, result, Code::InvalidArgument)?;
    let fields = violated_fields(&status);
    check(step, fields == ["items[1].quantity"], || {
        format!("expected a BadRequest naming items[1].quantity, got {fields:?} in {status}")
    })?;
    steps.pass(
        step,
        format!("INVALID_ARGUMENT: BadRequest {}", fields.join(", ")),
    );

    let step = "OrderChat(hello, bye)";
    let (tx, rx) = message_stream::channel(1);
    let request = bearer(ADMIN_TOKEN, with_echo(rx));
    let replies = answer(step, client.order_chat(request).await)?.into_inner();
    let pings = ["hello", "bye"].map(|text| ChatMessage {
        order_id: "ord-1".into(),
        sender: "client".into(),
        text: text.into(),
    });
    let answers = ping_pong(step, tx, replies, pings, "OrderChat").await?;
    let got: Vec<(&str, &str, &str)> = answers
        .iter()
        .map(|a| (a.order_id.as_str(), a.sender.as_str(), a.text.as_str()))
        .collect();
    let expected = [
        ("ord-1", "server", "Echo: hello"),
        ("ord-1", "server", "Echo: bye"),
    ];
    check(step, got == expected, || {
        format!("expected {expected:?}, got {got:?}")
    })?;
    steps.pass(step, format!("{} | {}", got[0].2, got[1].2));

    let step = "OrderChat, 200 ms, nothing sent";
    let (tx, rx) = message_stream::channel::<ChatMessage>(1);
    let status = runs_out(step, client.order_chat(bearer(ADMIN_TOKEN, short(rx)))).await?;
    drop(tx);
    steps.pass(step, format!("DEADLINE_EXCEEDED: {}", status.message()));

    Ok(steps.into_passed())
}
