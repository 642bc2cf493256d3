//! Many calls through one channel: what `order-client --calls N` runs against several
//! replicas (`deploy/`), where the walkthrough cannot run, since each replica keeps its own
//! orders in memory and an order created on one is not found on the next. Every call is a
//! read of a seeded order, which every replica answers alike; the answers are counted by the
//! replica that gave them (the [`SERVED_BY`] header of `order-server --instance NAME`).

use std::collections::BTreeMap;
use std::time::Duration;

use example_support::steps::{answer, check, fail, Checked, Step, Steps};
use wirecall::Request;

use crate::walkthrough::{bearer, client_with, get};
use crate::READER_TOKEN;

/// The response header naming the replica that answered, sent by a server started with
/// `--instance NAME` ([`ServedBy`](crate::ServedBy)).
pub const SERVED_BY: &str = "x-served-by";

/// Makes `calls` reader calls of `GetOrder(ord-1)` to `target` with `service_config` (JSON),
/// `interval` apart, checks every answer, and records one step: the answers per replica.
pub async fn run(
    target: &str,
    service_config: &str,
    calls: u32,
    interval: Duration,
) -> Checked<Vec<Step>> {
    let client = match client_with(target, service_config) {
        Ok(client) => client,
        Err(e) => return fail("connect", e),
    };
    let mut by_replica = BTreeMap::<String, u32>::new();
    for n in 1..=calls {
        if n > 1 && !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
        let step = format!("GetOrder(ord-1), reader, call {n} of {calls}");
        let request = bearer(READER_TOKEN, Request::new(get("ord-1")));
        let response = answer(&step, client.get_order(request).await)?;
        let replica = response
            .metadata()
            .get(SERVED_BY)
            .unwrap_or("(unnamed)")
            .to_owned();
        let order = response.into_inner();
        check(
            &step,
            order.id == "ord-1" && order.customer_id == "cust-1",
            || format!("expected ord-1 of cust-1, got {order:?}"),
        )?;
        *by_replica.entry(replica).or_default() += 1;
    }
    let counts: Vec<String> = by_replica
        .iter()
        .map(|(replica, n)| format!("{replica}: {n}"))
        .collect();
    let mut steps = Steps::new();
    steps.pass(
        format!("GetOrder(ord-1) × {calls}, by replica"),
        counts.join(", "),
    );
    Ok(steps.into_passed())
}
