//! Calls every method of the `users.UserService` the way `examples/README.md` lists, checking
//! every answer. Expects a freshly started server (it counts the seeded users).

use example_support::steps::{
    answer, check, echoed, endpoint, fail, ping_pong, refused, runs_out, short, with_echo, Checked,
    Step, Steps, CALL_TIMEOUT,
};
use wirecall::{message_stream, Code, Streaming};

use crate::pb::{
    ChatMessage, CreateUserRequest, DeleteUserRequest, Department, GetUserRequest,
    ListUsersRequest, User, UserEvent, UserServiceClient, WatchRequest,
};

fn show(user: &User) -> String {
    format!(
        "{} {} <{}> {} {:?} age {}",
        user.id,
        user.name,
        user.email,
        user.department().as_str_name(),
        user.roles,
        user.age
    )
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

fn create(name: &str, email: &str, age: i32, department: Department) -> CreateUserRequest {
    CreateUserRequest {
        name: name.into(),
        email: email.into(),
        age,
        department: department.into(),
    }
}

fn list(page_size: i32, page_token: &str, filter: &str) -> ListUsersRequest {
    ListUsersRequest {
        page_size,
        page_token: page_token.into(),
        filter: filter.into(),
    }
}

/// The next event of a watch that is not a heartbeat.
async fn next_change(step: &str, watch: &mut Streaming<UserEvent>) -> Checked<UserEvent> {
    loop {
        match answer(step, watch.message().await)? {
            Some(event) if event.event_type == "heartbeat" => continue,
            Some(event) => return Ok(event),
            None => return fail(step, "the watch ended"),
        }
    }
}

/// Runs every step against `target` (`http://HOST:PORT`).
pub async fn run(target: &str) -> Checked<Vec<Step>> {
    let endpoint = endpoint(target)?;
    // The watch has no deadline of its own: the channel's default is for the other calls.
    let channel = endpoint.clone().timeout(CALL_TIMEOUT).connect_lazy();
    let client = UserServiceClient::new(channel);
    let watcher = UserServiceClient::new(endpoint.connect_lazy());
    let mut steps = Steps::new();

    let step = "GetUser(usr-1)";
    let request = with_echo(GetUserRequest { id: "usr-1".into() });
    let response = answer(step, client.get_user(request).await)?;
    echoed(step, response.metadata(), response.trailers(), "GetUser")?;
    let alice = response.into_inner();
    check(
        step,
        alice.name == "Alice Johnson"
            && alice.email == "alice@example.com"
            && alice.age == 34
            && alice.department() == Department::Engineering
            && alice.roles == ["admin", "developer"]
            && alice.created_at.map(|t| (t.seconds, t.nanos)) == Some((1_705_309_200, 0)),
        || format!("expected the seeded Alice Johnson, got {alice:?}"),
    )?;
    steps.pass(step, show(&alice));

    let step = "GetUser(usr-404)";
    let missing = GetUserRequest {
        id: "usr-404".into(),
    };
    steps.refused(step, client.get_user(missing).await, Code::NotFound)?;

    let step = "ListUsers(page_size 2)";
    let first = answer(step, client.list_users(list(2, "", "")).await)?.into_inner();
    check(
        step,
        ids(&first.users) == ["usr-1", "usr-2"]
            && first.total_count == 3
            && !first.next_page_token.is_empty(),
        || format!("expected usr-1, usr-2 of 3 and a next page, got {first:?}"),
    )?;
    steps.pass(
        step,
        format!(
            "{:?} of {}, next {:?}",
            ids(&first.users),
            first.total_count,
            first.next_page_token
        ),
    );

    let step = "ListUsers(page_size 2, next page)";
    let request = list(2, &first.next_page_token, "");
    let second = answer(step, client.list_users(request).await)?.into_inner();
    check(
        step,
        ids(&second.users) == ["usr-3"]
            && second.total_count == 3
            && second.next_page_token.is_empty(),
        || format!("expected usr-3 of 3 and no next page, got {second:?}"),
    )?;
    steps.pass(
        step,
        format!("{:?} of {}", ids(&second.users), second.total_count),
    );

    let step = "ListUsers(department=ENGINEERING)";
    let request = list(0, "", "department=ENGINEERING");
    let engineers = answer(step, client.list_users(request).await)?.into_inner();
    check(
        step,
        ids(&engineers.users) == ["usr-1", "usr-3"] && engineers.total_count == 2,
        || format!("expected usr-1, usr-3 of 2, got {engineers:?}"),
    )?;
    steps.pass(
        step,
        format!("{:?} of {}", ids(&engineers.users), engineers.total_count),
    );

    let step = "ListUsers(age>30)";
    let result = client.list_users(list(0, "", "age>30")).await;
    steps.refused(step, result, Code::InvalidArgument)?;

    let step = "WatchUsers(ENGINEERING)";
    let request = with_echo(WatchRequest {
        departments: vec!["ENGINEERING".into()],
    });
    let mut watch = answer(step, watcher.watch_users(request).await)?.into_inner();
    let first = answer(step, watch.message().await)?;
    let headers = answer(step, watch.headers().await)?.clone();
    check(
        step,
        headers.get(example_support::steps::ECHO_KEY) == Some(example_support::steps::ECHO_VALUE),
        || format!("expected the echoed header, got headers {headers:?}"),
    )?;
    check(
        step,
        first.as_ref().is_some_and(|e| {
            e.event_type == "heartbeat" && e.user.as_ref().is_some_and(|u| u.name == "system")
        }),
        || format!("expected a heartbeat from system first, got {first:?}"),
    )?;
    let request = create("Dave Lee", "dave@example.com", 30, Department::Engineering);
    let dave = answer(step, client.create_user(request).await)?.into_inner();
    check(
        step,
        dave.name == "Dave Lee" && !dave.id.is_empty() && dave.roles.is_empty(),
        || format!("expected Dave Lee with a new id and no roles, got {dave:?}"),
    )?;
    let request = create("Eve Adams", "eve@example.com", 25, Department::Marketing);
    answer(step, client.create_user(request).await)?;
    let older = User {
        age: 31,
        roles: vec!["developer".into()],
        ..dave.clone()
    };
    let updated = answer(step, client.update_user(older).await)?.into_inner();
    check(
        step,
        updated.age == 31
            && updated.roles == ["developer"]
            && updated.created_at == dave.created_at,
        || format!("expected Dave at 31, a developer, created as before, got {updated:?}"),
    )?;
    let request = DeleteUserRequest {
        id: dave.id.clone(),
    };
    let deleted = answer(step, client.delete_user(request).await)?.into_inner();
    check(step, deleted.id == dave.id, || {
        format!("expected Dave deleted, got {deleted:?}")
    })?;
    let mut changes = Vec::new();
    for _ in 0..3 {
        let event = next_change(step, &mut watch).await?;
        let user = event.user.clone().unwrap_or_default();
        changes.push((event.event_type, user.id, user.age));
    }
    drop(watch);
    let expected = [
        ("created".to_owned(), dave.id.clone(), 30),
        ("updated".to_owned(), dave.id.clone(), 31),
        ("deleted".to_owned(), dave.id.clone(), 31),
    ];
    check(step, changes == expected, || {
        format!("expected Dave created, updated and deleted (and not Eve), got {changes:?}")
    })?;
    let shown: Vec<String> = changes
        .iter()
        .map(|(kind, id, _)| format!("{kind} {id}"))
        .collect();
    steps.pass(step, format!("heartbeat, then {}", shown.join(", ")));

    let step = "GetUser/UpdateUser(deleted or unknown)";
    let request = GetUserRequest {
        id: dave.id.clone(),
    };
    refused(step, client.get_user(request).await, Code::NotFound)?;
    let stranger = User {
        id: "usr-404".into(),
        name: "X".into(),
        email: "x@example.com".into(),
        ..User::default()
    };
    refused(step, client.update_user(stranger).await, Code::NotFound)?;
    steps.pass(step, "NOT_FOUND, NOT_FOUND");

    let step = "CreateUser(\"\")";
    let nameless = create("", "nobody@example.com", 20, Department::Sales);
    steps.refused(
        step,
        client.create_user(nameless).await,
        Code::InvalidArgument,
    )?;

    let step = "UploadUsers(Frank, \"\", Grace)";
    let batch = message_stream::iter([
        create("Frank", "frank@example.com", 45, Department::Sales),
        create("", "nobody@example.com", 20, Department::Sales),
        create("Grace", "grace@example.com", 38, Department::Product),
    ]);
    let response = answer(step, client.upload_users(with_echo(batch)).await)?;
    echoed(
        step,
        response.metadata(),
        response.trailers(),
        "UploadUsers",
    )?;
    let summary = response.into_inner();
    check(step, (summary.created, summary.failed) == (2, 1), || {
        format!("expected 2 created and 1 failed, got {summary:?}")
    })?;
    steps.pass(
        step,
        format!("created {}, failed {}", summary.created, summary.failed),
    );

    let step = "Chat(hello, bye)";
    let (tx, rx) = message_stream::channel(1);
    let replies = answer(step, client.chat(with_echo(rx)).await)?.into_inner();
    let pings = ["hello", "bye"].map(|content| ChatMessage {
        sender: "client".into(),
        content: content.into(),
    });
    let answers = ping_pong(step, tx, replies, pings, "Chat").await?;
    let got: Vec<(&str, &str)> = answers
        .iter()
        .map(|a| (a.sender.as_str(), a.content.as_str()))
        .collect();
    check(
        step,
        got == [("server", "Echo: hello"), ("server", "Echo: bye")],
        || format!("expected {{server, \"Echo: hello\"}}, {{server, \"Echo: bye\"}}, got {got:?}"),
    )?;
    steps.pass(step, format!("{} | {}", got[0].1, got[1].1));

    let step = "Chat, 200 ms, nothing sent";
    let (tx, rx) = message_stream::channel::<ChatMessage>(1);
    let status = runs_out(step, client.chat(short(rx))).await?;
    drop(tx);
    steps.pass(step, format!("DEADLINE_EXCEEDED: {}", status.message()));

    Ok(steps.into_passed())
}
