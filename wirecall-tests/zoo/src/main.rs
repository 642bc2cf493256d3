//! The zoo of awkward protos, as a user's crate would use it.
//!
//! `wirecall-zoo serve --addr 127.0.0.1:0` implements every service and prints
//! `zoo listening on ADDR`; every answer carries the response header `x-rpc` with the path of
//! the RPC that answered (so a caller knows it reached the right handler), server-streaming
//! RPCs answer two messages, client-streaming ones the header `x-count` with the number of
//! requests, bidirectional ones one answer per request.
//!
//! `wirecall-zoo call --addr ADDR` calls every RPC with the generated Rust clients (escaped
//! names included) and checks those answers.

mod pb {
    include!(concat!(env!("OUT_DIR"), "/zoo.rs"));
}

use pb::zoo::clash;
use pb::zoo::legacy;
use pb::zoo::r#type::self_ as kw;
use pb::zoo::wkt;
use wirecall::message_stream;
use wirecall::{MetadataMap, Request, Response, Server, Status, Streaming};

/// Requests sent on each client-streaming and bidirectional call.
const STREAMED: usize = 3;
/// Messages each server-streaming RPC answers.
const SERVER_STREAMED: usize = 2;

fn answer<T>(path: &str, message: T) -> Result<Response<T>, Status> {
    let mut response = Response::new(message);
    response
        .metadata_mut()
        .insert("x-rpc", path)
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(response)
}

async fn count<T: prost::Message + Default + 'static>(request: Request<Streaming<T>>) -> Result<usize, Status> {
    let mut stream = request.into_inner();
    let mut n = 0;
    while stream.message().await?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A `legacy.Node` as Python's proto2 runtime wants it: with its required field.
fn node() -> legacy::Node {
    legacy::Node {
        name: "n".into(),
        ..Default::default()
    }
}

macro_rules! unary {
    ($name:ident, $req:ty => $resp:ty, $path:literal, $make:expr) => {
        async fn $name(&self, request: Request<$req>) -> Result<Response<$resp>, Status> {
            let _: $req = request.into_inner();
            answer($path, $make)
        }
    };
}

macro_rules! server_streaming {
    ($name:ident, $req:ty => $resp:ty, $path:literal, $make:expr) => {
        async fn $name(
            &self,
            request: Request<$req>,
        ) -> Result<
            Response<impl wirecall::Stream<Item = Result<$resp, Status>> + Send + 'static>,
            Status,
        > {
            let _: $req = request.into_inner();
            let messages: Vec<Result<$resp, Status>> =
                (0..SERVER_STREAMED).map(|_| Ok($make)).collect();
            answer($path, message_stream::iter(messages))
        }
    };
}

macro_rules! client_streaming {
    ($name:ident, $req:ty => $resp:ty, $path:literal, $make:expr) => {
        async fn $name(
            &self,
            request: Request<Streaming<$req>>,
        ) -> Result<Response<$resp>, Status> {
            let n = count(request).await?;
            let mut response = answer($path, $make)?;
            response
                .metadata_mut()
                .insert("x-count", &n.to_string())
                .map_err(|e| Status::internal(e.to_string()))?;
            Ok(response)
        }
    };
}

macro_rules! bidi {
    ($name:ident, $req:ty => $resp:ty, $path:literal, $make:expr) => {
        async fn $name(
            &self,
            request: Request<Streaming<$req>>,
        ) -> Result<
            Response<impl wirecall::Stream<Item = Result<$resp, Status>> + Send + 'static>,
            Status,
        > {
            let n = count(request).await?;
            let messages: Vec<Result<$resp, Status>> = (0..n).map(|_| Ok($make)).collect();
            answer($path, message_stream::iter(messages))
        }
    };
}

/// One type implements every service, so one value serves them all.
#[derive(Clone, Debug)]
struct Zoo;

impl kw::Type for Zoo {
    unary!(r#fn, kw::Self_ => kw::Self_, "/zoo.type.self.Type/Fn", kw::Self_::default());
    unary!(r#match, kw::Box => kw::Result, "/zoo.type.self.Type/Match", kw::Result::default());
    unary!(self_, kw::Option => kw::Result, "/zoo.type.self.Type/Self", kw::Result::default());
    unary!(super_, kw::String => kw::Vec, "/zoo.type.self.Type/Super", kw::Vec::default());
    bidi!(r#async, kw::Self_ => kw::Self_, "/zoo.type.self.Type/Async", kw::Self_::default());
    server_streaming!(r#await, () => kw::Option, "/zoo.type.self.Type/Await", kw::Option::default());
    client_streaming!(crate_, kw::String => kw::Vec, "/zoo.type.self.Type/Crate", kw::Vec::default());
    unary!(r#impl, kw::Send => kw::Future, "/zoo.type.self.Type/Impl", kw::Future {});
}

impl kw::Dyn for Zoo {
    unary!(r#unsafe, () => (), "/zoo.type.self.dyn/Unsafe", ());
}

impl clash::Foo for Zoo {
    unary!(connect_, clash::Req => clash::Resp, "/zoo.clash.Foo/Connect", clash::Resp::default());
    unary!(new_, clash::Req => clash::Resp, "/zoo.clash.Foo/New", clash::Resp::default());
    unary!(clone_, clash::Req => clash::Resp, "/zoo.clash.Foo/Clone", clash::Resp::default());
    unary!(channel_, clash::Req => clash::Resp, "/zoo.clash.Foo/Channel", clash::Resp::default());
    unary!(into_, clash::Req => clash::Resp, "/zoo.clash.Foo/Into", clash::Resp::default());
    unary!(fmt_, clash::Req => clash::Resp, "/zoo.clash.Foo/Fmt", clash::Resp::default());
    unary!(get_ref, clash::Req => clash::Resp, "/zoo.clash.Foo/GetRef", clash::Resp::default());
    unary!(call, clash::Req => clash::Resp, "/zoo.clash.Foo/Call", clash::Resp::default());
    unary!(default_, clash::Req => clash::Resp, "/zoo.clash.Foo/Default", clash::Resp::default());
    unary!(get_user, clash::Req => clash::Resp, "/zoo.clash.Foo/GetUser", clash::Resp::default());
    unary!(get_user_, clash::Req => clash::Resp, "/zoo.clash.Foo/get_user", clash::Resp::default());
    unary!(get_user__, clash::Req => clash::Resp, "/zoo.clash.Foo/Get_User", clash::Resp::default());
    unary!(get_user___, clash::Req => clash::Resp, "/zoo.clash.Foo/getUser", clash::Resp::default());
}

impl clash::FooBar_ for Zoo {
    unary!(ping, clash::FooBar => clash::FooBar, "/zoo.clash.foo_bar/Ping", clash::FooBar::default());
}

impl clash::Bar for Zoo {
    unary!(get, clash::Req => clash::Resp, "/zoo.clash.Bar/Get", clash::Resp::default());
}

impl clash::BarClient for Zoo {
    unary!(get, clash::Req => clash::Resp, "/zoo.clash.BarClient/Get", clash::Resp::default());
}

impl clash::Quiet for Zoo {}

impl clash::Users for Zoo {
    // `message user_info` is `UserInfo`, `message UserInfo` is `UserInfo2`, `User_Info` is
    // `UserInfo3` (prost_names' numbering, in declaration order).
    unary!(find, clash::UserInfo => clash::UserInfo2, "/zoo.clash.Users/Find", clash::UserInfo2::default());
    unary!(find_, clash::UserInfo3 => clash::UserInfo, "/zoo.clash.Users/find", clash::UserInfo::default());
}

impl legacy::Garden for Zoo {
    unary!(label, legacy::Cased => legacy::Cased, "/zoo.legacy.Garden/Label", legacy::Cased::default());
    unary!(plant, legacy::Node => legacy::Tree, "/zoo.legacy.Garden/Plant", legacy::Tree { root: Some(node()), ..Default::default() });
    server_streaming!(walk, legacy::Tree => legacy::Node, "/zoo.legacy.Garden/Walk", node());
    client_streaming!(gather, legacy::Node => legacy::Tree, "/zoo.legacy.Garden/Gather", legacy::Tree::default());
    bidi!(prune, legacy::Tree => legacy::Tree, "/zoo.legacy.Garden/Prune", legacy::Tree::default());
}

impl wkt::Kinds for Zoo {
    unary!(echo, wkt::Everything => wkt::Everything, "/zoo.wkt.Kinds/Echo", wkt::Everything::default());
}

impl wkt::Bare for Zoo {
    unary!(now, () => prost_types::Timestamp, "/zoo.wkt.Bare/Now", prost_types::Timestamp::default());
    unary!(wait, prost_types::Duration => (), "/zoo.wkt.Bare/Wait", ());
    unary!(lookup, ::std::string::String => prost_types::Struct, "/zoo.wkt.Bare/Lookup", prost_types::Struct::default());
    server_streaming!(pack, prost_types::Any => prost_types::Value, "/zoo.wkt.Bare/Pack", prost_types::Value::default());
}

impl pb::Lonely for Zoo {
    unary!(echo, pb::Ping => pb::Ping, "/Lonely/Echo", pb::Ping::default());
    bidi!(echoes, pb::Ping => pb::Ping, "/Lonely/Echoes", pb::Ping::default());
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("zoo listening on {}", listener.local_addr()?);
    Server::builder()
        .add_service(kw::TypeServer::new(Zoo))
        .add_service(kw::DynServer::new(Zoo))
        .add_service(clash::FooServer_::new(Zoo))
        .add_service(clash::FooBarServer::new(Zoo))
        .add_service(clash::BarServer::new(Zoo))
        .add_service(clash::BarClientServer::new(Zoo))
        .add_service(clash::QuietServer::new(Zoo))
        .add_service(clash::UsersServer::new(Zoo))
        .add_service(legacy::GardenServer::new(Zoo))
        .add_service(wkt::KindsServer::new(Zoo))
        .add_service(wkt::BareServer::new(Zoo))
        .add_service(pb::LonelyServer::new(Zoo))
        .add_reflection()
        .serve_with_listener(listener, std::future::pending())
        .await?;
    Ok(())
}

/// What the client saw of one RPC's answer, checked against the server's promises.
fn check(path: &str, headers: &MetadataMap, messages: usize, expected: usize) -> Result<(), String> {
    match headers.get("x-rpc") {
        Some(rpc) if rpc == path => {}
        other => return Err(format!("{path}: answered by {other:?}")),
    }
    if messages != expected {
        return Err(format!("{path}: {messages} messages, expected {expected}"));
    }
    Ok(())
}

fn check_count(path: &str, headers: &MetadataMap) -> Result<(), String> {
    check(path, headers, 1, 1)?;
    match headers.get("x-count") {
        Some(n) if n == STREAMED.to_string() => Ok(()),
        other => Err(format!("{path}: the server counted {other:?} requests")),
    }
}

macro_rules! call_unary {
    ($calls:ident, $client:expr, $m:ident, $req:expr, $path:literal) => {{
        let response = $client.$m($req).await.map_err(|s| format!("{}: {s}", $path))?;
        check($path, response.metadata(), 1, 1)?;
        $calls += 1;
    }};
}

macro_rules! call_server_streaming {
    ($calls:ident, $client:expr, $m:ident, $req:expr, $path:literal) => {{
        let response = $client.$m($req).await.map_err(|s| format!("{}: {s}", $path))?;
        let headers = response.metadata().clone();
        let mut stream = response.into_inner();
        let mut n = 0;
        while stream.message().await.map_err(|s| format!("{}: {s}", $path))?.is_some() {
            n += 1;
        }
        check($path, &headers, n, SERVER_STREAMED)?;
        $calls += 1;
    }};
}

macro_rules! call_client_streaming {
    ($calls:ident, $client:expr, $m:ident, $req:expr, $path:literal) => {{
        let requests = message_stream::iter(vec![$req; STREAMED]);
        let response = $client.$m(requests).await.map_err(|s| format!("{}: {s}", $path))?;
        check_count($path, response.metadata())?;
        $calls += 1;
    }};
}

macro_rules! call_bidi {
    ($calls:ident, $client:expr, $m:ident, $req:expr, $path:literal) => {{
        let requests = message_stream::iter(vec![$req; STREAMED]);
        let response = $client.$m(requests).await.map_err(|s| format!("{}: {s}", $path))?;
        let mut stream = response.into_inner();
        let headers = stream.headers().await.map_err(|s| format!("{}: {s}", $path))?.clone();
        let mut n = 0;
        while stream.message().await.map_err(|s| format!("{}: {s}", $path))?.is_some() {
            n += 1;
        }
        check($path, &headers, n, STREAMED)?;
        $calls += 1;
    }};
}

/// Calls every RPC of the zoo; the number of RPCs called.
async fn call_all(addr: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let channel = wirecall::Channel::connect(format!("http://{addr}")).await?;
    let mut calls = 0;

    let ty = kw::TypeClient::new(channel.clone());
    call_unary!(calls, ty, r#fn, kw::Self_::default(), "/zoo.type.self.Type/Fn");
    call_unary!(calls, ty, r#match, kw::Box::default(), "/zoo.type.self.Type/Match");
    call_unary!(calls, ty, self_, kw::Option::default(), "/zoo.type.self.Type/Self");
    call_unary!(calls, ty, super_, kw::String::default(), "/zoo.type.self.Type/Super");
    call_bidi!(calls, ty, r#async, kw::Self_::default(), "/zoo.type.self.Type/Async");
    call_server_streaming!(calls, ty, r#await, (), "/zoo.type.self.Type/Await");
    call_client_streaming!(calls, ty, crate_, kw::String::default(), "/zoo.type.self.Type/Crate");
    call_unary!(calls, ty, r#impl, kw::Send {}, "/zoo.type.self.Type/Impl");
    let dy = kw::DynClient::new(channel.clone());
    call_unary!(calls, dy, r#unsafe, (), "/zoo.type.self.dyn/Unsafe");

    // `rpc Clone` did not take `Clone::clone` away.
    let foo_client = clash::FooClient_::new(channel.clone()).clone();
    let req = clash::Req::default;
    call_unary!(calls, foo_client, connect_, req(), "/zoo.clash.Foo/Connect");
    call_unary!(calls, foo_client, new_, req(), "/zoo.clash.Foo/New");
    call_unary!(calls, foo_client, clone_, req(), "/zoo.clash.Foo/Clone");
    call_unary!(calls, foo_client, channel_, req(), "/zoo.clash.Foo/Channel");
    call_unary!(calls, foo_client, into_, req(), "/zoo.clash.Foo/Into");
    call_unary!(calls, foo_client, fmt_, req(), "/zoo.clash.Foo/Fmt");
    call_unary!(calls, foo_client, get_ref, req(), "/zoo.clash.Foo/GetRef");
    call_unary!(calls, foo_client, call, req(), "/zoo.clash.Foo/Call");
    call_unary!(calls, foo_client, default_, req(), "/zoo.clash.Foo/Default");
    call_unary!(calls, foo_client, get_user, req(), "/zoo.clash.Foo/GetUser");
    call_unary!(calls, foo_client, get_user_, req(), "/zoo.clash.Foo/get_user");
    call_unary!(calls, foo_client, get_user__, req(), "/zoo.clash.Foo/Get_User");
    call_unary!(calls, foo_client, get_user___, req(), "/zoo.clash.Foo/getUser");
    let foo_bar = clash::FooBarClient::new(channel.clone());
    call_unary!(calls, foo_bar, ping, clash::FooBar::default(), "/zoo.clash.foo_bar/Ping");
    let bar = clash::BarClient_::new(channel.clone());
    call_unary!(calls, bar, get, req(), "/zoo.clash.Bar/Get");
    let bar_client = clash::BarClientClient::new(channel.clone());
    call_unary!(calls, bar_client, get, req(), "/zoo.clash.BarClient/Get");
    let _quiet = clash::QuietClient::new(channel.clone());
    let users = clash::UsersClient::new(channel.clone());
    call_unary!(calls, users, find, clash::UserInfo::default(), "/zoo.clash.Users/Find");
    call_unary!(calls, users, find_, clash::UserInfo3::default(), "/zoo.clash.Users/find");

    let garden = legacy::GardenClient::new(channel.clone());
    call_unary!(calls, garden, label, legacy::Cased::default(), "/zoo.legacy.Garden/Label");
    call_unary!(calls, garden, plant, node(), "/zoo.legacy.Garden/Plant");
    call_server_streaming!(calls, garden, walk, legacy::Tree::default(), "/zoo.legacy.Garden/Walk");
    call_client_streaming!(calls, garden, gather, node(), "/zoo.legacy.Garden/Gather");
    call_bidi!(calls, garden, prune, legacy::Tree::default(), "/zoo.legacy.Garden/Prune");

    let kinds = wkt::KindsClient::new(channel.clone());
    call_unary!(calls, kinds, echo, wkt::Everything::default(), "/zoo.wkt.Kinds/Echo");
    let bare = wkt::BareClient::new(channel.clone());
    call_unary!(calls, bare, now, (), "/zoo.wkt.Bare/Now");
    call_unary!(calls, bare, wait, prost_types::Duration::default(), "/zoo.wkt.Bare/Wait");
    call_unary!(calls, bare, lookup, ::std::string::String::new(), "/zoo.wkt.Bare/Lookup");
    call_server_streaming!(calls, bare, pack, prost_types::Any::default(), "/zoo.wkt.Bare/Pack");

    let lonely = pb::LonelyClient::new(channel);
    call_unary!(calls, lonely, echo, pb::Ping::default(), "/Lonely/Echo");
    call_bidi!(calls, lonely, echoes, pb::Ping::default(), "/Lonely/Echoes");
    Ok(calls)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<::std::string::String> = std::env::args().skip(1).collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().ok_or("--addr needs HOST:PORT")?,
        None => "127.0.0.1:50051".into(),
    };
    match args.first().map(|s| s.as_str()) {
        Some("serve") => serve(&addr).await,
        Some("call") => {
            let calls = call_all(&addr).await?;
            println!("zoo: the Rust client called {calls} RPCs, every answer as promised");
            Ok(())
        }
        _ => Err("usage: wirecall-zoo serve|call [--addr HOST:PORT]".into()),
    }
}
