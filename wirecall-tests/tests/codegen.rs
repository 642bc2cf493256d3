//! What `wirecall-build` generates: message shapes for every proto feature, doc comments from
//! proto comments, the descriptor set, and clear errors for bad input.

use std::collections::HashMap;

use prost::Message;
use wirecall_tests::wirecall::test::common::{Color, Point};
use wirecall_tests::wirecall::test::features::everything::{inner::Level, Choice, Inner};
use wirecall_tests::wirecall::test::features::Everything;

const FEATURES_RS: &str = include_str!(concat!(env!("OUT_DIR"), "/wirecall.test.features.rs"));

fn everything() -> Everything {
    Everything {
        inner: Some(Inner {
            level: Level::High as i32,
            note: "nested".into(),
        }),
        inners: vec![
            Inner::default(),
            Inner {
                level: Level::High.into(),
                note: "second".into(),
            },
        ],
        counts: HashMap::from([("a".to_string(), 1i64), ("b".to_string(), -2)]),
        by_id: HashMap::from([(7, Inner::default())]),
        nickname: Some(String::new()),
        numbers: vec![1, -1, i32::MAX],
        choice: Some(Choice::Point(Point { x: 1.5, y: -2.25 })),
        color: Color::Green.into(),
        at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        maybe_name: Some("wrapped".into()),
        any: Some(prost_types::Any {
            type_url: "type.googleapis.com/wirecall.test.common.Point".into(),
            value: Point { x: 1.0, y: 2.0 }.encode_to_vec(),
        }),
        attributes: Some(prost_types::Struct {
            fields: [(
                "k".to_string(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("v".into())),
                },
            )]
            .into(),
        }),
        maybe_count: Some(0),
    }
}

#[test]
fn every_field_kind_round_trips() {
    let original = everything();
    let back = Everything::decode(original.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, original);
    // proto3 `optional` keeps presence: an empty string is not the same as unset.
    assert_eq!(back.nickname.as_deref(), Some(""));
    assert_eq!(Everything::default().nickname, None);
    // Wrappers keep presence too.
    assert_eq!(back.maybe_count, Some(0));
    assert_eq!(back.color(), Color::Green);
    assert!(matches!(back.choice, Some(Choice::Point(Point { x, .. })) if x == 1.5));
}

#[test]
fn oneof_holds_one_case_at_a_time() {
    let mut msg = everything();
    msg.choice = Some(Choice::Text("t".into()));
    let back = Everything::decode(msg.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back.choice, Some(Choice::Text("t".into())));
    msg.choice = Some(Choice::Blob(vec![0, 255]));
    let back = Everything::decode(msg.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back.choice, Some(Choice::Blob(vec![0, 255])));
}

#[test]
fn proto_comments_become_doc_comments() {
    for line in [
        "/// A message with one field of every interesting kind.",
        "/// A message nested inside another.",
        "/// A service whose methods take and return well-known and imported types.",
        "/// Returns what it was sent.",
        "/// Streams points.",
    ] {
        assert!(FEATURES_RS.contains(line), "missing {line:?}");
    }
    // The method comment is on both the server trait and the client method.
    assert_eq!(
        FEATURES_RS.matches("/// Returns what it was sent.").count(),
        2
    );
}

#[test]
fn services_use_native_async_traits_and_well_known_types() {
    assert!(FEATURES_RS.contains("pub trait Features"));
    assert!(FEATURES_RS.contains("pub struct FeaturesServer<T>"));
    assert!(FEATURES_RS.contains("pub struct FeaturesClient"));
    assert!(!FEATURES_RS.contains("async_trait"));
    assert!(
        FEATURES_RS.contains("::wirecall::Request<()>"),
        "Empty maps to ()"
    );
    assert!(FEATURES_RS.contains("\"wirecall.test.features.Features\""));
}

#[test]
fn the_descriptor_set_lists_files_and_their_imports() {
    let bytes: &[u8] = wirecall::include_file_descriptor_set!();
    let set = prost_types::FileDescriptorSet::decode(bytes).unwrap();
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    for want in [
        "wirecall/test/features.proto",
        "wirecall/test/echo.proto",
        "wirecall/test/common/shapes.proto",
        // Bundled by wirecall-build, imported by echo.proto for its HTTP rules.
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/struct.proto",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let features = set
        .file
        .iter()
        .find(|f| f.name() == "wirecall/test/features.proto")
        .unwrap();
    assert!(features.source_code_info.is_some(), "comments are kept");
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn compiles_into_any_directory_without_protoc() {
    let dir = scratch_dir("codegen-ok");
    std::fs::write(
        dir.join("hello.proto"),
        "syntax = \"proto3\";\npackage hello.v1;\n// Says hello.\nservice Greeter { rpc SayHello(Req) returns (stream Req); }\nmessage Req { string name = 1; }\n",
    )
    .unwrap();
    let out = dir.join("out");
    // PATH without protoc: nothing may shell out to it.
    wirecall_build::Builder::new()
        .out_dir(&out)
        .compile(&[dir.join("hello.proto")], &[&dir])
        .unwrap();
    let code = std::fs::read_to_string(out.join("hello.v1.rs")).unwrap();
    assert!(code.contains("pub trait Greeter"));
    assert!(code.contains("/// Says hello."));
    assert!(code.contains("fn say_hello"));
    assert!(code.contains("\"/hello.v1.Greeter/SayHello\""));
    assert!(out.join(wirecall_build::DESCRIPTOR_SET_FILE).exists());
}

#[test]
fn the_descriptor_set_can_be_written_anywhere_for_other_tools() {
    let dir = scratch_dir("codegen-descriptors");
    std::fs::write(
        dir.join("d.proto"),
        "syntax = \"proto3\";\npackage d;\nimport \"google/protobuf/empty.proto\";\nservice D { rpc M(google.protobuf.Empty) returns (google.protobuf.Empty); }\n",
    )
    .unwrap();
    let target = dir.join("web/static/d.binpb");
    wirecall_build::Builder::new()
        .out_dir(dir.join("out"))
        .descriptor_set_out(&target)
        .compile(&[dir.join("d.proto")], &[&dir])
        .unwrap();
    let bytes = std::fs::read(&target).expect("written, parent directories made");
    assert_eq!(
        bytes,
        std::fs::read(dir.join("out").join(wirecall_build::DESCRIPTOR_SET_FILE)).unwrap()
    );
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["google/protobuf/empty.proto", "d.proto"]);
    assert_eq!(set.file[1].service[0].name(), "D");
}

#[test]
fn server_or_client_alone() {
    let dir = scratch_dir("codegen-sides");
    std::fs::write(
        dir.join("s.proto"),
        "syntax = \"proto3\";\npackage s;\nservice S { rpc M(E) returns (E); }\nmessage E {}\n",
    )
    .unwrap();
    wirecall_build::Builder::new()
        .build_client(false)
        .out_dir(dir.join("server"))
        .compile(&[dir.join("s.proto")], &[&dir])
        .unwrap();
    let server = std::fs::read_to_string(dir.join("server/s.rs")).unwrap();
    assert!(server.contains("pub struct SServer") && !server.contains("pub struct SClient"));
    wirecall_build::Builder::new()
        .build_server(false)
        .out_dir(dir.join("client"))
        .compile(&[dir.join("s.proto")], &[&dir])
        .unwrap();
    let client = std::fs::read_to_string(dir.join("client/s.rs")).unwrap();
    assert!(!client.contains("pub struct SServer") && client.contains("pub struct SClient"));
}

#[test]
fn bad_protos_give_errors_naming_the_problem() {
    let dir = scratch_dir("codegen-bad");
    std::fs::write(
        dir.join("bad.proto"),
        "syntax = \"proto3\";\nmessage M { strin name = 1; }\n",
    )
    .unwrap();
    let err = wirecall_build::Builder::new()
        .out_dir(dir.join("out"))
        .compile(&[dir.join("bad.proto")], &[&dir])
        .unwrap_err();
    assert!(err.to_string().contains("strin"), "{err}");

    std::fs::write(
        dir.join("missing.proto"),
        "syntax = \"proto3\";\nimport \"nowhere/else.proto\";\n",
    )
    .unwrap();
    let err = wirecall_build::Builder::new()
        .out_dir(dir.join("out"))
        .compile(&[dir.join("missing.proto")], &[&dir])
        .unwrap_err();
    assert!(err.to_string().contains("nowhere/else.proto"), "{err}");
}
