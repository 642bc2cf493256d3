//! Server reflection over real sockets: grpcio-reflection's ProtoReflectionDescriptorDatabase
//! (from PyPI, in the venv the test command installs) builds its descriptor pool from our
//! v1alpha service, and our own v1 stream is checked question by question.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use prost::Message;
use prost_types::FileDescriptorProto;
use wirecall::codegen::PathAndQuery;
use wirecall::message_stream;
use wirecall::reflection::proto::{
    ExtensionRequest, MessageRequest, MessageResponse, ServerReflectionRequest,
    ServerReflectionResponse,
};
use wirecall::{Code, Request};
use wirecall_tests::wirecall::test::features::FeaturesServer;

use common::TestFeatures;

const FEATURES: &str = "wirecall.test.features.Features";

async fn server() -> common::TestServer {
    common::start_with(|b| {
        b.add_service(FeaturesServer::new(TestFeatures))
            .add_health(&wirecall::health::HealthReporter::new())
            .add_reflection()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_reflection_client_builds_its_pool_from_ours() {
    let server = server().await;
    let mut child = Command::new(common::peer_python("grpc_reflection.v1alpha"))
        .arg(common::repo_root().join("wirecall-tests/peers/reflection_client.py"))
        .arg(format!("--addr={}", server.addr))
        .arg(format!("--service={FEATURES}"))
        .arg("--extendee=google.protobuf.MessageOptions")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python reflection client");
    let stdout = child.stdout.take().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        (lines, child.wait())
    });
    let (lines, status) = common::bounded("the reflection client", output)
        .await
        .unwrap();
    assert!(status.unwrap().success(), "the client failed: {lines:#?}");
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert_eq!(
        lines[0],
        "services grpc.health.v1.Health grpc.reflection.v1.ServerReflection \
         grpc.reflection.v1alpha.ServerReflection wirecall.test.echo.Echo \
         wirecall.test.features.Features"
    );
    let f = "wirecall.test.features";
    for line in [
        format!("method Features.Reflect {f}.Everything {f}.Everything False False"),
        "method Features.Ping google.protobuf.Empty google.protobuf.Empty False False".into(),
        "method Features.Points google.protobuf.Empty wirecall.test.common.Point False True".into(),
        // Fields whose types live in imported files (the imports came along).
        "field Everything.point 8 wirecall.test.common.Point".into(),
        "field Everything.at 11 google.protobuf.Timestamp".into(),
        format!("field Everything.inner 1 {f}.Everything.Inner"),
        "extensions google.protobuf.MessageOptions 50001".into(),
        "extension google.protobuf.MessageOptions 50001 wirecall/test/features.proto".into(),
        "extension google.protobuf.MessageOptions 1 error 5".into(),
        "missing no.such.Message KeyError".into(),
    ] {
        assert!(has(&line), "no line {line:?} in {lines:#?}");
    }
}

/// Asks `questions` on one v1 stream; the answers, in order.
async fn ask(
    server: &common::TestServer,
    questions: Vec<MessageRequest>,
) -> Vec<ServerReflectionResponse> {
    let channel = server.channel();
    let requests = questions
        .into_iter()
        .map(|q| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(q),
        })
        .collect::<Vec<_>>();
    let path =
        PathAndQuery::from_static("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    let mut answers = channel
        .streaming::<_, ServerReflectionResponse>(
            Request::new(message_stream::iter(requests)),
            path,
        )
        .await
        .expect("the reflection stream opens")
        .into_inner();
    let mut out = Vec::new();
    while let Some(answer) = common::bounded("an answer", answers.message())
        .await
        .expect("no error")
    {
        out.push(answer);
    }
    out
}

fn file_names(answer: &ServerReflectionResponse) -> Vec<String> {
    match &answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|f| {
                FileDescriptorProto::decode(f.as_slice())
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect(),
        other => panic!("not files: {other:?}"),
    }
}

fn error_code(answer: &ServerReflectionResponse) -> i32 {
    match &answer.message_response {
        Some(MessageResponse::ErrorResponse(e)) => e.error_code,
        other => panic!("not an error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_answers_each_question_and_sends_imports_once_a_stream() {
    let server = server().await;
    let answers = ask(
        &server,
        vec![
            MessageRequest::FileContainingSymbol(format!("{FEATURES}.Reflect")),
            MessageRequest::FileByFilename("wirecall/test/features.proto".into()),
            MessageRequest::FileContainingSymbol("no.Such".into()),
            MessageRequest::FileByFilename("nope.proto".into()),
            MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into()),
            MessageRequest::FileContainingExtension(ExtensionRequest {
                containing_type: "google.protobuf.MessageOptions".into(),
                extension_number: 50001,
            }),
            MessageRequest::FileContainingExtension(ExtensionRequest {
                containing_type: "google.protobuf.MessageOptions".into(),
                extension_number: 1,
            }),
            MessageRequest::ListServices(String::new()),
        ],
    )
    .await;
    assert_eq!(answers.len(), 8, "one answer a question");
    // Each answer says which question it answers.
    assert!(matches!(
        answers[1].original_request.as_ref().unwrap().message_request,
        Some(MessageRequest::FileByFilename(ref n)) if n == "wirecall/test/features.proto"
    ));
    // The first time: the file and every file it imports, directly or not, each once.
    let first = file_names(&answers[0]);
    assert_eq!(first[0], "wirecall/test/features.proto");
    let imports: HashSet<&str> = first[1..].iter().map(String::as_str).collect();
    assert_eq!(imports.len(), first.len() - 1, "no file twice: {first:?}");
    for import in [
        "wirecall/test/common/shapes.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/any.proto",
    ] {
        assert!(imports.contains(import), "{import} missing from {first:?}");
    }
    // Again on the same stream: only the file asked for.
    assert_eq!(file_names(&answers[1]), ["wirecall/test/features.proto"]);
    assert_eq!(error_code(&answers[2]), Code::NotFound as i32);
    assert_eq!(error_code(&answers[3]), Code::NotFound as i32);
    // wirecall's own services are described too.
    assert_eq!(file_names(&answers[4]), ["grpc/health/v1/health.proto"]);
    assert_eq!(file_names(&answers[5]), ["wirecall/test/features.proto"]);
    assert_eq!(error_code(&answers[6]), Code::NotFound as i32);
    match &answers[7].message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
            assert!(names.contains(&FEATURES) && names.contains(&"wirecall.test.echo.Echo"));
        }
        other => panic!("not a service list: {other:?}"),
    }
}

/// How a stream of one empty question to `path` ends.
async fn empty_question_status(server: &common::TestServer, path: &'static str) -> Code {
    let mut answers = server
        .channel()
        .streaming::<_, ServerReflectionResponse>(
            Request::new(message_stream::iter([ServerReflectionRequest::default()])),
            PathAndQuery::from_static(path),
        )
        .await
        .unwrap()
        .into_inner();
    let status = common::bounded("the stream's end", answers.message())
        .await
        .expect_err("the stream ends with an error");
    status.code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_with_nothing_set_ends_the_stream_with_invalid_argument() {
    let server = server().await;
    let path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
    assert_eq!(
        empty_question_status(&server, path).await,
        Code::InvalidArgument
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_add_reflection_there_is_no_reflection() {
    let server = common::start().await;
    let path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    assert_eq!(
        empty_question_status(&server, path).await,
        Code::Unimplemented
    );
}
