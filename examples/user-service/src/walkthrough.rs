//! Calls every UserService method on a freshly started server, checks each answer and
//! reports it. The client binary prints the report; the interop tests run it against the
//! wirecall, Python and Node servers.

use wirecall::status::details::ErrorInfo;
use wirecall::{message_stream, Code, Request, Status};

use crate::pb::{
    ChatMessage, CreateUserRequest, GetUserRequest, ListUsersRequest, StreamUsersRequest, User,
    UserServiceClient,
};

/// One checked step: its name and what the server answered.
#[derive(Debug)]
pub struct Step {
    /// What was called.
    pub name: String,
    /// What came back, for people.
    pub got: String,
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn show(user: &User) -> String {
    format!(
        "#{} {} <{}> age {}",
        user.id, user.name, user.email, user.age
    )
}

fn ids(users: &[User]) -> Vec<i32> {
    users.iter().map(|u| u.id).collect()
}

fn status_err(step: &str, status: Status) -> String {
    format!("{step}: unexpected status {status}")
}

/// Runs every step; the first wrong answer ends it with a description of the mismatch.
pub async fn run(client: &UserServiceClient) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut step = |name: &str, got: String| {
        steps.push(Step {
            name: name.to_owned(),
            got,
        })
    };

    // GetUser of a seeded user.
    let alice = client
        .get_user(GetUserRequest { id: 1 })
        .await
        .map_err(|s| status_err("GetUser(1)", s))?
        .into_inner();
    check(
        alice.name == "Alice"
            && alice.email == "alice@example.com"
            && alice.age == 30
            && alice.created_at.is_some(),
        || format!("GetUser(1): got {alice:?}"),
    )?;
    step("GetUser(1)", show(&alice));

    // GetUser of an unknown id: NOT_FOUND, with the x-method trailer.
    match client.get_user(GetUserRequest { id: 999 }).await {
        Err(status) => {
            check(
                status.code() == Code::NotFound && status.message() == "User not found",
                || format!("GetUser(999): got {status}"),
            )?;
            check(status.metadata().get("x-method") == Some("GetUser"), || {
                format!("GetUser(999): trailers {:?}", status.metadata())
            })?;
            // Rich error details, when the server sends them (wirecall and grpcio do).
            let detail = match status.detail::<ErrorInfo>() {
                Some(info) => {
                    check(
                        info.reason == "USER_NOT_FOUND"
                            && info.domain == crate::users::DOMAIN
                            && info.metadata.get("id").map(String::as_str) == Some("999"),
                        || format!("GetUser(999): ErrorInfo {info:?}"),
                    )?;
                    format!(" [ErrorInfo {} {} id=999]", info.reason, info.domain)
                }
                None => String::new(),
            };
            step("GetUser(999)", format!("{status}{detail}"));
        }
        Ok(r) => {
            return Err(format!(
                "GetUser(999): expected NOT_FOUND, got {:?}",
                r.get_ref()
            ))
        }
    }

    // CreateUser, then its validation error.
    let dave = client
        .create_user(CreateUserRequest {
            name: "Dave".into(),
            email: "dave@example.com".into(),
            age: 41,
        })
        .await
        .map_err(|s| status_err("CreateUser(Dave)", s))?
        .into_inner();
    check(
        dave.id == 4 && dave.name == "Dave" && dave.age == 41 && dave.created_at.is_some(),
        || format!("CreateUser(Dave): got {dave:?}"),
    )?;
    step("CreateUser(Dave)", show(&dave));
    match client.create_user(CreateUserRequest::default()).await {
        Err(status) => {
            check(
                status.code() == Code::InvalidArgument && status.message() == "name is required",
                || format!("CreateUser(\"\"): got {status}"),
            )?;
            step("CreateUser(\"\")", status.to_string());
        }
        Ok(r) => {
            return Err(format!(
                "CreateUser(\"\"): expected INVALID_ARGUMENT, got {:?}",
                r.get_ref()
            ))
        }
    }

    // ListUsers: explicit pages, then the defaults (page 1, page_size 10).
    for (page, page_size, want, want_page_size) in [
        (1, 2, vec![1, 2], 2),
        (2, 3, vec![4], 3),
        (0, 0, vec![1, 2, 3, 4], 10),
    ] {
        let list = client
            .list_users(ListUsersRequest { page, page_size })
            .await
            .map_err(|s| status_err("ListUsers", s))?
            .into_inner();
        let name = format!("ListUsers(page {page}, page_size {page_size})");
        check(
            ids(&list.users) == want
                && list.total == 4
                && list.page == page.max(1)
                && list.page_size == want_page_size,
            || {
                format!(
                    "{name}: got ids {:?} total {} page {} page_size {}",
                    ids(&list.users),
                    list.total,
                    list.page,
                    list.page_size
                )
            },
        )?;
        step(
            &name,
            format!(
                "ids {:?} of {} (page {}, page_size {})",
                ids(&list.users),
                list.total,
                list.page,
                list.page_size
            ),
        );
    }

    // StreamUsers: every user, in order.
    let mut stream = client
        .stream_users(StreamUsersRequest {})
        .await
        .map_err(|s| status_err("StreamUsers", s))?
        .into_inner();
    let mut streamed = Vec::new();
    while let Some(user) = stream
        .message()
        .await
        .map_err(|s| status_err("StreamUsers", s))?
    {
        streamed.push(user);
    }
    let trailers = stream
        .trailers()
        .await
        .map_err(|s| status_err("StreamUsers", s))?;
    check(ids(&streamed) == [1, 2, 3, 4], || {
        format!("StreamUsers: got ids {:?}", ids(&streamed))
    })?;
    check(
        trailers.as_ref().and_then(|t| t.get("x-method")) == Some("StreamUsers"),
        || format!("StreamUsers: trailers {trailers:?}"),
    )?;
    step(
        "StreamUsers",
        streamed.iter().map(show).collect::<Vec<_>>().join(", "),
    );

    // CreateUsers: a client stream of two users.
    let batch = [
        ("Eve", "eve@example.com", 22),
        ("Frank", "frank@example.com", 52),
    ]
    .map(|(name, email, age)| CreateUserRequest {
        name: name.into(),
        email: email.into(),
        age,
    });
    let created = client
        .create_users(message_stream::iter(batch))
        .await
        .map_err(|s| status_err("CreateUsers", s))?
        .into_inner();
    check(
        created.count == 2 && ids(&created.users) == [5, 6] && created.users[1].name == "Frank",
        || format!("CreateUsers: got {created:?}"),
    )?;
    step(
        "CreateUsers(Eve, Frank)",
        format!(
            "count {}: {}",
            created.count,
            created
                .users
                .iter()
                .map(show)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    // Chat: send one, read one, three times, over one bidirectional call.
    let (tx, rx) = message_stream::channel(4);
    let mut replies = client
        .chat(rx)
        .await
        .map_err(|s| status_err("Chat", s))?
        .into_inner();
    let mut echoed = Vec::new();
    for text in ["hi", "how are you", "bye"] {
        tx.send(ChatMessage {
            user: "rust".into(),
            text: text.into(),
        })
        .await
        .map_err(|_| "Chat: request stream closed early".to_string())?;
        let reply = replies
            .message()
            .await
            .map_err(|s| status_err("Chat", s))?
            .ok_or("Chat: reply stream ended early")?;
        check(
            reply.user == "server" && reply.text == format!("echo: {text}"),
            || format!("Chat: got {reply:?} for {text:?}"),
        )?;
        echoed.push(reply.text);
    }
    drop(tx);
    let extra = replies.message().await.map_err(|s| status_err("Chat", s))?;
    check(extra.is_none(), || {
        format!("Chat: unexpected extra reply {extra:?}")
    })?;
    step("Chat", echoed.join(" | "));

    // Metadata: ASCII and binary values echoed in the headers, x-method in the trailers.
    let mut request = Request::new(GetUserRequest { id: 2 });
    request
        .metadata_mut()
        .insert("x-echo-token", "abc123")
        .map_err(|e| e.to_string())?;
    request
        .metadata_mut()
        .insert_bin("x-echo-data-bin", [0u8, 1, 0xfe, 0xff])
        .map_err(|e| e.to_string())?;
    request
        .metadata_mut()
        .insert("x-other", "not echoed")
        .map_err(|e| e.to_string())?;
    let response = client
        .get_user(request)
        .await
        .map_err(|s| status_err("Metadata", s))?;
    let headers = response.metadata();
    check(headers.get("x-echo-token") == Some("abc123"), || {
        format!("Metadata: headers {headers:?}")
    })?;
    check(
        headers
            .get_bin("x-echo-data-bin")
            .and_then(Result::ok)
            .as_deref()
            == Some(&[0u8, 1, 0xfe, 0xff][..]),
        || format!("Metadata: headers {headers:?}"),
    )?;
    check(!headers.contains_key("x-other"), || {
        format!("Metadata: x-other echoed: {headers:?}")
    })?;
    check(
        response.trailers().get("x-method") == Some("GetUser"),
        || format!("Metadata: trailers {:?}", response.trailers()),
    )?;
    step(
        "Metadata",
        "x-echo-token and x-echo-data-bin echoed; trailer x-method=GetUser".into(),
    );

    Ok(steps)
}
