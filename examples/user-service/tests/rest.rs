//! The UserService's REST mapping (the `google.api.http` rules in user.proto), called with
//! curl over HTTP/1.1 on 127.0.0.1 against the server as `user-server` configures it:
//! `GET /v1/users/{user_id}` -> GetUser, `POST /v1/users` -> CreateUser, `GET /v1/users` ->
//! ListUsers with query parameters, `GET /v1/users:stream` -> StreamUsers as lines of JSON,
//! and an error with its `ErrorInfo` detail as `google.rpc.Status` JSON.

use std::process::Command;

use user_service::{server, Users};

/// Starts the server on a free port; returns its base URL.
async fn server_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server(Users::new()).serve_with_listener(listener, std::future::pending()));
    format!("http://{addr}")
}

/// Runs curl with `args`; returns the status line and the body.
async fn curl(args: Vec<String>) -> (String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new("curl")
            .args(["-sS", "--http1.1", "--max-time", "10", "-i"])
            .args(&args)
            .output()
            .expect("curl runs (scripts/install-deps.sh installs it)");
        assert!(output.status.success(), "curl failed: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    })
    .await
    .unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_calls_the_user_service_over_rest() {
    let base = server_url().await;
    let (status, body) = curl(vec![format!("{base}/v1/users/2")]).await;
    assert!(status.contains(" 200"), "{status}");
    let bob = json(&body);
    assert_eq!(
        (bob["id"].as_str(), bob["name"].as_str()),
        (Some("2"), Some("Bob"))
    );
    // An int64 is a JSON string in the protobuf JSON mapping.
    assert_eq!(bob["createdAt"], "1700000060000", "{bob}");

    let create = [
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"name": "Dana", "email": "dana@example.com"}"#,
    ];
    let mut args: Vec<String> = create.iter().map(|a| a.to_string()).collect();
    args.push(format!("{base}/v1/users"));
    let (status, body) = curl(args).await;
    assert!(status.contains(" 200"), "{status}");
    let dana = json(&body);
    assert_eq!(dana["name"], "Dana");
    assert_eq!(dana["id"], "4", "the next number");

    let (_, body) = curl(vec![format!("{base}/v1/users?page=2&pageSize=3")]).await;
    let page = json(&body);
    let names: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Dana"]);
    assert_eq!(page["total"], 4);

    let (_, body) = curl(vec![format!("{base}/v1/users:stream?filter=a")]).await;
    let names: Vec<String> = body
        .lines()
        .map(|line| json(line)["result"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Alice", "Carol", "Dana"]);

    let (status, body) = curl(vec![format!("{base}/v1/users/999")]).await;
    assert!(status.contains(" 404"), "{status}");
    let error = json(&body);
    assert_eq!(error["code"], 5);
    assert_eq!(error["message"], "user 999 not found");
    let detail = &error["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(detail["reason"], "USER_NOT_FOUND");
    assert_eq!(detail["metadata"]["user_id"], "999");
}
