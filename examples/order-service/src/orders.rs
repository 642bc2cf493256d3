//! The OrderService implementation: orders in a map behind a mutex.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use wirecall::message_stream::{self, MessageStreamExt};
use wirecall::status::details::{BadRequest, ErrorInfo, FieldViolation};
use wirecall::{Request, Response, Status, Streaming};

use crate::pb::order::LineItem;
use crate::pb::{
    CreateOrderRequest, CreateOrdersResponse, GetOrderRequest, ListOrdersRequest, Order,
    OrderService, OrderStatus, UpdateStatusRequest,
};

/// The `ErrorInfo` domain of this service's errors.
pub const DOMAIN: &str = "order.example.com";

/// The in-memory OrderService; ids are `ord-1`, `ord-2`, … in order of creation. Clones
/// share one store.
#[derive(Debug, Default, Clone)]
pub struct Orders {
    store: Arc<Mutex<Store>>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    orders: BTreeMap<u64, Order>,
}

/// NOT_FOUND "Order not found", with an `ErrorInfo` naming the order.
fn order_not_found(id: &str) -> Status {
    Status::not_found("Order not found").with_detail(ErrorInfo {
        reason: "ORDER_NOT_FOUND".into(),
        domain: DOMAIN.into(),
        metadata: [("order_id".to_owned(), id.to_owned())].into(),
    })
}

/// The index of an `ord-N` id.
fn index(id: &str) -> Option<u64> {
    id.strip_prefix("ord-")?.parse().ok()
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
        if item.quantity < 1 {
            violations.push((format!("items[{i}].quantity"), "must be at least 1"));
        }
        if !(item.unit_price.is_finite() && item.unit_price >= 0.0) {
            violations.push((format!("items[{i}].unit_price"), "must be a price"));
        }
    }
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
    Err(Status::invalid_argument("invalid order").with_detail(BadRequest { field_violations }))
}

fn total(items: &[LineItem]) -> f64 {
    items
        .iter()
        .map(|item| f64::from(item.quantity) * item.unit_price)
        .sum()
}

impl Orders {
    /// An empty store.
    pub fn new() -> Self {
        Orders::default()
    }

    fn create(&self, request: CreateOrderRequest) -> Result<Order, Status> {
        validate(&request)?;
        let mut store = self.store.lock().expect("store lock");
        store.next_id += 1;
        let n = store.next_id;
        let order = Order {
            id: format!("ord-{n}"),
            customer_id: request.customer_id,
            total: total(&request.items),
            items: request.items,
            status: OrderStatus::Pending.into(),
            created_at: Some(SystemTime::now().into()),
        };
        store.orders.insert(n, order.clone());
        Ok(order)
    }

    fn get(&self, id: &str) -> Result<Order, Status> {
        let store = self.store.lock().expect("store lock");
        index(id)
            .and_then(|n| store.orders.get(&n).cloned())
            .ok_or_else(|| order_not_found(id))
    }

    fn update(&self, request: UpdateStatusRequest) -> Result<Order, Status> {
        let status = OrderStatus::try_from(request.status)
            .ok()
            .filter(|s| *s != OrderStatus::Unspecified)
            .ok_or_else(|| Status::invalid_argument("status must be a known, set status"))?;
        let mut store = self.store.lock().expect("store lock");
        let order = index(&request.id)
            .and_then(|n| store.orders.get_mut(&n))
            .ok_or_else(|| order_not_found(&request.id))?;
        if order.status() == OrderStatus::Cancelled {
            return Err(Status::failed_precondition(format!(
                "order {} is cancelled",
                order.id
            )));
        }
        order.status = status.into();
        Ok(order.clone())
    }

    fn matching(&self, request: &ListOrdersRequest) -> Vec<Order> {
        let store = self.store.lock().expect("store lock");
        store
            .orders
            .values()
            .filter(|o| request.customer_id.is_empty() || o.customer_id == request.customer_id)
            .filter(|o| request.status == 0 || o.status == request.status)
            .cloned()
            .collect()
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
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<Order, Status>> + Send + 'static>,
        Status,
    > {
        let orders = self.matching(request.get_ref());
        Ok(Response::new(message_stream::iter(
            orders.into_iter().map(Ok),
        )))
    }

    async fn create_orders(
        &self,
        request: Request<Streaming<CreateOrderRequest>>,
    ) -> Result<Response<CreateOrdersResponse>, Status> {
        let mut stream = request.into_inner();
        let mut orders = Vec::new();
        while let Some(next) = stream.message().await? {
            orders.push(self.create(next)?);
        }
        let total = orders.iter().map(|o| o.total).sum();
        Ok(Response::new(CreateOrdersResponse { orders, total }))
    }

    async fn update_statuses(
        &self,
        request: Request<Streaming<UpdateStatusRequest>>,
    ) -> Result<
        Response<impl wirecall::Stream<Item = Result<Order, Status>> + Send + 'static>,
        Status,
    > {
        // Each update answered as it arrives; the first failure ends the stream.
        let orders = self.clone();
        let answers = request
            .into_inner()
            .and_then(move |update| orders.update(update));
        Ok(Response::new(answers))
    }
}
