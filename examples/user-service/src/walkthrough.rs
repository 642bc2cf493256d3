//! Calls every method of the `user.UserService` the way `examples/README.md` lists, checking
//! every answer. Expects a freshly started server (it counts the seeded users).

use std::time::{SystemTime, UNIX_EPOCH};

use example_support::steps::{
    answer, check, collect, echoed, endpoint, ping_pong, refused, runs_out, short, stream_echoed,
    with_echo, Checked, Step, Steps, CALL_TIMEOUT,
};
use wirecall::{message_stream, Code};

use crate::pb::{
    ChatMessage, CreateUserRequest, GetUserRequest, ListUsersRequest, StreamUsersRequest, User,
    UserServiceClient,
};

fn show(user: &User) -> String {
    format!("{} {} <{}>", user.id, user.name, user.email)
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.name.as_str()).collect()
}

fn create(name: &str, email: &str) -> CreateUserRequest {
    CreateUserRequest {
        name: name.into(),
        email: email.into(),
    }
}

/// Whether `millis` (since the epoch) is within a minute of this machine's clock.
fn recent(millis: i64) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (now - millis).abs() <= 60_000
}

/// Runs every step against `target` (`http://HOST:PORT`).
pub async fn run(target: &str) -> Checked<Vec<Step>> {
    let client = UserServiceClient::new(endpoint(target)?.timeout(CALL_TIMEOUT).connect_lazy());
    let mut steps = Steps::new();

    let step = "GetUser(\"1\")";
    let request = with_echo(GetUserRequest {
        user_id: "1".into(),
    });
    let response = answer(step, client.get_user(request).await)?;
    echoed(step, response.metadata(), response.trailers(), "GetUser")?;
    let alice = response.into_inner();
    check(
        step,
        (alice.name.as_str(), alice.email.as_str(), alice.created_at)
            == ("Alice", "alice@example.com", 1_700_000_000_000),
        || format!("expected Alice <alice@example.com> created at 1700000000000, got {alice:?}"),
    )?;
    steps.pass(step, show(&alice));

    let step = "GetUser(\"999\")";
    let missing = GetUserRequest {
        user_id: "999".into(),
    };
    steps.refused(step, client.get_user(missing).await, Code::NotFound)?;

    let step = "CreateUser(Dave)";
    let dave = answer(
        step,
        client.create_user(create("Dave", "dave@example.com")).await,
    )?
    .into_inner();
    check(
        step,
        dave.name == "Dave" && !["", "1", "2", "3"].contains(&dave.id.as_str()),
        || format!("expected Dave with a new id, got {dave:?}"),
    )?;
    check(step, recent(dave.created_at), || {
        format!(
            "expected created_at within 60 s of now, got {}",
            dave.created_at
        )
    })?;
    steps.pass(step, show(&dave));

    let step = "GetUser(Dave's id)";
    let request = GetUserRequest {
        user_id: dave.id.clone(),
    };
    let got = answer(step, client.get_user(request).await)?.into_inner();
    check(step, got == dave, || {
        format!("expected {dave:?}, got {got:?}")
    })?;
    steps.pass(step, show(&got));

    let step = "CreateUser(\"\")";
    let nameless = create("", "nobody@example.com");
    steps.refused(
        step,
        client.create_user(nameless).await,
        Code::InvalidArgument,
    )?;

    for (page, expected) in [(1, ["Alice", "Bob"]), (2, ["Carol", "Dave"])] {
        let step = format!("ListUsers(page {page}, page_size 2)");
        let request = ListUsersRequest { page, page_size: 2 };
        let listed = answer(&step, client.list_users(request).await)?.into_inner();
        check(
            &step,
            names(&listed.users) == expected && listed.total == 4,
            || format!("expected {expected:?} of 4, got {listed:?}"),
        )?;
        steps.pass(
            step,
            format!("{:?} of {}", names(&listed.users), listed.total),
        );
    }

    let step = "StreamUsers(\"\")";
    let request = with_echo(StreamUsersRequest::default());
    let mut stream = answer(step, client.stream_users(request).await)?.into_inner();
    let streamed = collect(step, &mut stream).await?;
    stream_echoed(step, &mut stream, "StreamUsers").await?;
    check(
        step,
        names(&streamed) == ["Alice", "Bob", "Carol", "Dave"],
        || {
            format!(
                "expected Alice, Bob, Carol, Dave, got {:?}",
                names(&streamed)
            )
        },
    )?;
    steps.pass(step, names(&streamed).join(", "));

    let step = "StreamUsers(\"CAR\")";
    let request = StreamUsersRequest {
        filter: "CAR".into(),
    };
    let mut stream = answer(step, client.stream_users(request).await)?.into_inner();
    let streamed = collect(step, &mut stream).await?;
    check(step, names(&streamed) == ["Carol"], || {
        format!("expected Carol, got {:?}", names(&streamed))
    })?;
    steps.pass(step, names(&streamed).join(", "));

    let step = "CreateUsers(Erin, Frank)";
    let batch = message_stream::iter([
        create("Erin", "erin@example.com"),
        create("Frank", "frank@example.com"),
    ]);
    let response = answer(step, client.create_users(with_echo(batch)).await)?;
    echoed(
        step,
        response.metadata(),
        response.trailers(),
        "CreateUsers",
    )?;
    let created = response.into_inner();
    let ids: Vec<&str> = created.users.iter().map(|u| u.id.as_str()).collect();
    check(
        step,
        created.count == 2
            && names(&created.users) == ["Erin", "Frank"]
            && ids[0] != ids[1]
            && !ids
                .iter()
                .any(|id| ["1", "2", "3", dave.id.as_str()].contains(id)),
        || format!("expected Erin and Frank with new ids, got {created:?}"),
    )?;
    steps.pass(
        step,
        created
            .users
            .iter()
            .map(show)
            .collect::<Vec<_>>()
            .join(", "),
    );

    let step = "CreateUsers(Gina, \"\")";
    let batch = message_stream::iter([
        create("Gina", "gina@example.com"),
        create("", "x@example.com"),
    ]);
    let status = refused(
        step,
        client.create_users(batch).await,
        Code::InvalidArgument,
    )?;
    let request = ListUsersRequest {
        page: 1,
        page_size: 100,
    };
    let listed = answer(step, client.list_users(request).await)?.into_inner();
    check(step, listed.total == 6, || {
        format!("expected 6 users (Gina not stored), got {}", listed.total)
    })?;
    steps.pass(
        step,
        format!("INVALID_ARGUMENT: {}; still 6 users", status.message()),
    );

    let step = "Chat(hello, bye)";
    let (tx, rx) = message_stream::channel(1);
    let replies = answer(step, client.chat(with_echo(rx)).await)?.into_inner();
    let pings = [("m1", "hello"), ("m2", "bye")].map(|(id, text)| ChatMessage {
        id: id.into(),
        text: text.into(),
        timestamp: 0,
    });
    let answers = ping_pong(step, tx, replies, pings, "Chat").await?;
    let got: Vec<(&str, &str)> = answers
        .iter()
        .map(|a| (a.id.as_str(), a.text.as_str()))
        .collect();
    check(
        step,
        got == [("m1", "Echo: hello"), ("m2", "Echo: bye")]
            && answers.iter().all(|a| recent(a.timestamp)),
        || {
            format!("expected {{m1, \"Echo: hello\", now}}, {{m2, \"Echo: bye\", now}}, got {answers:?}")
        },
    )?;
    steps.pass(step, format!("{} | {}", got[0].1, got[1].1));

    let step = "Chat, 200 ms, nothing sent";
    let (tx, rx) = message_stream::channel::<ChatMessage>(1);
    let status = runs_out(step, client.chat(short(rx))).await?;
    drop(tx);
    steps.pass(step, format!("DEADLINE_EXCEEDED: {}", status.message()));

    Ok(steps.into_passed())
}
