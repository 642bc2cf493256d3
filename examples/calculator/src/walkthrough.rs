//! Calls `Add` the way `examples/README.md` lists, checking every answer.

use std::time::Duration;

use example_support::steps::{answer, check, echoed, endpoint, with_echo, Checked, Step, Steps};
use wirecall::{Code, Request};

use crate::pb::{AddRequest, CalculatorClient};

/// Every call's deadline.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs every step against `target` (`http://HOST:PORT`).
pub async fn run(target: &str) -> Checked<Vec<Step>> {
    let client = CalculatorClient::new(endpoint(target)?.timeout(CALL_TIMEOUT).connect_lazy());
    let mut steps = Steps::new();

    let step = "Add(2, 3)";
    let response = answer(step, client.add(with_echo(AddRequest { a: 2, b: 3 })).await)?;
    echoed(step, response.metadata(), response.trailers(), "Add")?;
    let sum = response.get_ref().result;
    check(step, sum == 5, || format!("expected 5, got {sum}"))?;
    steps.pass(step, sum.to_string());

    for (a, b, expected) in [(-7, 4, -3), (i32::MAX, 0, i32::MAX)] {
        let step = format!("Add({a}, {b})");
        let sum = answer(&step, client.add(Request::new(AddRequest { a, b })).await)?
            .into_inner()
            .result;
        check(&step, sum == expected, || {
            format!("expected {expected}, got {sum}")
        })?;
        steps.pass(step, sum.to_string());
    }

    for (a, b) in [(i32::MAX, 1), (i32::MIN, -1)] {
        let step = format!("Add({a}, {b})");
        steps.refused(
            &step,
            client.add(AddRequest { a, b }).await,
            Code::InvalidArgument,
        )?;
    }
    Ok(steps.into_passed())
}
