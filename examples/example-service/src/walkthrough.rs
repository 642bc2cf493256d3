//! Calls every method of the `Example` service the way `examples/README.md` lists, checking
//! every answer.

use example_support::steps::{
    answer, check, echoed, endpoint, ping_pong, runs_out, short, stream_echoed, with_echo, Checked,
    Step, Steps, CALL_TIMEOUT,
};
use wirecall::{message_stream, Code};

use crate::pb::{ExampleClient, Req, Resp};

fn req(message: &str, count: i32) -> Req {
    Req {
        message: message.into(),
        count,
    }
}

fn show(answers: &[Resp]) -> String {
    let shown: Vec<String> = answers
        .iter()
        .map(|r| format!("{{{:?}, {}}}", r.message, r.index))
        .collect();
    shown.join(", ")
}

/// Runs every step against `target` (`http://HOST:PORT`).
pub async fn run(target: &str) -> Checked<Vec<Step>> {
    let client = ExampleClient::new(endpoint(target)?.timeout(CALL_TIMEOUT).connect_lazy());
    let mut steps = Steps::new();

    let step = "Unary(\"hi\")";
    let response = answer(step, client.unary(with_echo(req("hi", 0))).await)?;
    echoed(step, response.metadata(), response.trailers(), "Unary")?;
    let got = response.into_inner();
    check(step, got.message == "unary: hi" && got.index == 1, || {
        format!("expected {{\"unary: hi\", 1}}, got {got:?}")
    })?;
    steps.pass(step, show(&[got]));

    let step = "Unary(\"\")";
    steps.refused(step, client.unary(req("", 0)).await, Code::InvalidArgument)?;

    let step = "ServerStream(\"s\", 4)";
    let response = answer(step, client.server_stream(with_echo(req("s", 4))).await)?;
    let mut stream = response.into_inner();
    let mut answers = Vec::new();
    while let Some(resp) = answer(step, stream.message().await)? {
        answers.push(resp);
    }
    stream_echoed(step, &mut stream, "ServerStream").await?;
    let indexes: Vec<i32> = answers.iter().map(|r| r.index).collect();
    check(
        step,
        indexes == [1, 2, 3, 4] && answers.iter().all(|r| r.message == "stream: s"),
        || {
            format!(
                "expected \"stream: s\" with index 1, 2, 3, 4, got {}",
                show(&answers)
            )
        },
    )?;
    steps.pass(step, show(&answers));

    let step = "ServerStream(\"s\", 0)";
    let mut stream = answer(step, client.server_stream(req("s", 0)).await)?.into_inner();
    let mut answers = Vec::new();
    while let Some(resp) = answer(step, stream.message().await)? {
        answers.push(resp);
    }
    check(step, answers.len() == 3, || {
        format!("expected 3 answers, got {}", show(&answers))
    })?;
    steps.pass(step, show(&answers));

    let step = "ServerStream(\"s\", 101)";
    let result = match client.server_stream(req("s", 101)).await {
        Ok(response) => response.into_inner().message().await,
        Err(status) => Err(status),
    };
    steps.refused(step, result, Code::InvalidArgument)?;

    let step = "ClientStream([x, y, z])";
    let sent = message_stream::iter(["x", "y", "z"].map(|m| req(m, 0)));
    let response = answer(step, client.client_stream(with_echo(sent)).await)?;
    echoed(
        step,
        response.metadata(),
        response.trailers(),
        "ClientStream",
    )?;
    let got = response.into_inner();
    check(step, got.message == "x,y,z" && got.index == 3, || {
        format!("expected {{\"x,y,z\", 3}}, got {got:?}")
    })?;
    steps.pass(step, show(&[got]));

    let step = "Bidirectional(p, q)";
    let (tx, rx) = message_stream::channel(1);
    let replies = answer(step, client.bidirectional(with_echo(rx)).await)?.into_inner();
    let pings = ["p", "q"].map(|m| req(m, 0));
    let answers = ping_pong(step, tx, replies, pings, "Bidirectional").await?;
    let got: Vec<(&str, i32)> = answers
        .iter()
        .map(|r| (r.message.as_str(), r.index))
        .collect();
    check(step, got == [("bidi: p", 1), ("bidi: q", 2)], || {
        format!(
            "expected {{\"bidi: p\", 1}}, {{\"bidi: q\", 2}}, got {}",
            show(&answers)
        )
    })?;
    steps.pass(step, show(&answers));

    let step = "Bidirectional, 200 ms, nothing sent";
    let (tx, rx) = message_stream::channel::<Req>(1);
    let status = runs_out(step, client.bidirectional(short(rx))).await?;
    drop(tx);
    steps.pass(step, format!("DEADLINE_EXCEEDED: {}", status.message()));

    Ok(steps.into_passed())
}
