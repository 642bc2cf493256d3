//! The OrderService: orders in memory, in the order they were created.

use std::sync::{Mutex, MutexGuard};

use wirecall::message_stream::{self, MessageStreamExt};
use wirecall::status::details::{BadRequest, ErrorInfo, FieldViolation};
use wirecall::{Request, Response, Status, Stream, Streaming};

use crate::pb::{
    ChatMessage, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest, Order,
    OrderService, OrderStatus, UploadSummary,
};

/// The `ErrorInfo` domain of this service's errors.
pub const DOMAIN: &str = "order.myapp.com";

/// The in-memory OrderService, seeded with three orders (`ord-1` to `ord-3`); new orders get
/// `ord-N` with the next number.
#[derive(Debug)]
pub struct Orders {
    store: Mutex<Store>,
}

#[derive(Debug)]
struct Store {
    orders: Vec<Order>,
    last_id: u64,
}

impl Default for Orders {
    fn default() -> Self {
        Orders::new()
    }
}

/// NOT_FOUND, with the `ErrorInfo` clients look for.
fn order_not_found(id: &str) -> Status {
    Status::not_found(format!("order {id} not found")).with_detail(ErrorInfo {
        reason: "ORDER_NOT_FOUND".into(),
        domain: DOMAIN.into(),
        metadata: [("order_id".to_owned(), id.to_owned())].into(),
    })
}

/// INVALID_ARGUMENT with a `BadRequest` listing `violations`, if there are any.
fn bad_request(message: &str, violations: Vec<(String, &str)>) -> Result<(), Status> {
    if violations.is_empty() {
        return Ok(());
    }
    let field_violations = violations
        .into_iter()
        .map(|(field, description)| FieldViolation {
            field,
            description: description.into(),
        })
        .collect();
    Err(Status::invalid_argument(message).with_detail(BadRequest { field_violations }))
}

/// What is wrong with line item `i`, as `(field, description)` pairs.
fn item_violations(i: usize, item: &LineItem) -> Vec<(String, &'static str)> {
    let mut violations = Vec::new();
    if item.product_id.is_empty() {
        violations.push((format!("items[{i}].product_id"), "is required"));
    }
    if item.quantity < 1 {
        violations.push((format!("items[{i}].quantity"), "must be at least 1"));
    }
    if !(item.unit_price.is_finite() && item.unit_price >= 0.0) {
        violations.push((
            format!("items[{i}].unit_price"),
            "must be a price, not negative",
        ));
    }
    violations
}

/// INVALID_ARGUMENT with a `BadRequest` listing every problem of `request`, if it has any.
fn validate(request: &CreateOrderRequest) -> Result<(), Status> {
    let mut violations = Vec::new();
    if request.customer_id.is_empty() {
        violations.push(("customer_id".to_owned(), "is required"));
    }
    if request.items.is_empty() {
        violations.push(("items".to_owned(), "an order needs at least one item"));
    }
    for (i, item) in request.items.iter().enumerate() {
        violations.extend(item_violations(i, item));
    }
    bad_request("invalid order", violations)
}

fn amount(item: &LineItem) -> f64 {
    f64::from(item.quantity) * item.unit_price
}

fn item(product_id: &str, quantity: i32, unit_price: f64) -> LineItem {
    LineItem {
        product_id: product_id.into(),
        quantity,
        unit_price,
    }
}

impl Orders {
    /// A store holding the three seed orders.
    pub fn new() -> Self {
        let seed = [
            (
                "cust-1",
                vec![item("sku-apple", 3, 0.5), item("sku-bread", 1, 2.25)],
                OrderStatus::Confirmed,
            ),
            (
                "cust-1",
                vec![item("sku-milk", 2, 1.2)],
                OrderStatus::Shipped,
            ),
            (
                "cust-2",
                vec![item("sku-coffee", 1, 7.5)],
                OrderStatus::Pending,
            ),
        ];
        let orders: Vec<Order> = seed
            .into_iter()
            .zip(1..)
            .map(|((customer_id, items, status), n)| Order {
                id: format!("ord-{n}"),
                customer_id: customer_id.into(),
                total: items.iter().map(amount).sum(),
                items,
                status: status.into(),
            })
            .collect();
        let last_id = orders.len() as u64;
        Orders {
            store: Mutex::new(Store { orders, last_id }),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn create(&self, request: CreateOrderRequest) -> Result<Order, Status> {
        validate(&request)?;
        let mut store = self.store();
        store.last_id += 1;
        let order = Order {
            id: format!("ord-{}", store.last_id),
            customer_id: request.customer_id,
            total: request.items.iter().map(amount).sum(),
            items: request.items,
            status: OrderStatus::Pending.into(),
        };
        store.orders.push(order.clone());
        Ok(order)
    }

    fn get(&self, id: &str) -> Result<Order, Status> {
        let store = self.store();
        let order = store.orders.iter().find(|o| o.id == id);
        order.cloned().ok_or_else(|| order_not_found(id))
    }

    fn of_customer(&self, customer_id: &str) -> Vec<Order> {
        let store = self.store();
        let orders = store
            .orders
            .iter()
            .filter(|o| customer_id.is_empty() || o.customer_id == customer_id);
        orders.cloned().collect()
    }
}

impl OrderService for Orders {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.create(request.into_inner()).map(Response::new)
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.get(&request.get_ref().id).map(Response::new)
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<impl Stream<Item = Result<Order, Status>> + Send + 'static>, Status> {
        let orders = self.of_customer(&request.get_ref().customer_id);
        Ok(Response::new(message_stream::iter(
            orders.into_iter().map(Ok),
        )))
    }

    async fn upload_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<UploadSummary>, Status> {
        let mut items = request.into_inner();
        let mut summary = UploadSummary::default();
        while let Some(item) = items.message().await? {
            let i = summary.item_count as usize;
            bad_request(&format!("invalid line item {i}"), item_violations(i, &item))?;
            summary.item_count += 1;
            summary.total_quantity = summary.total_quantity.saturating_add(item.quantity);
            summary.total_amount += amount(&item);
        }
        Ok(Response::new(summary))
    }

    async fn order_chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<impl Stream<Item = Result<ChatMessage, Status>> + Send + 'static>, Status>
    {
        let echoes = request.into_inner().map(|message| ChatMessage {
            order_id: message.order_id,
            sender: "server".into(),
            text: format!("Echo: {}", message.text),
        });
        Ok(Response::new(echoes))
    }
}
