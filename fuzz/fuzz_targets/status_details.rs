//! `google.rpc.Status` details (`grpc-status-details-bin`, decoded) and the standard detail
//! messages of `google/rpc/error_details.proto`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use wirecall::status::details::{
    BadRequest, DebugInfo, Detail, ErrorInfo, Help, LocalizedMessage, PreconditionFailure,
    QuotaFailure, RequestInfo, ResourceInfo, RetryInfo, RpcStatus,
};
use wirecall::{Code, Status};

/// Unpacks `any` as every detail type; the one its type URL names (if any) must be the only
/// one that unpacks.
fn unpack_all(any: &prost_types::Any) {
    let unpacked = [
        ErrorInfo::from_any(any).is_some(),
        RetryInfo::from_any(any).is_some(),
        DebugInfo::from_any(any).is_some(),
        QuotaFailure::from_any(any).is_some(),
        PreconditionFailure::from_any(any).is_some(),
        BadRequest::from_any(any).is_some(),
        RequestInfo::from_any(any).is_some(),
        ResourceInfo::from_any(any).is_some(),
        Help::from_any(any).is_some(),
        LocalizedMessage::from_any(any).is_some(),
    ];
    assert!(
        unpacked.iter().filter(|u| **u).count() <= 1,
        "{}",
        any.type_url
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&code, details)) = data.split_first() else {
        return;
    };
    let code = Code::from_i32(i32::from(code) - 8);
    let status = Status::from_details(code, "fuzz", Bytes::copy_from_slice(details));

    let rpc = status.rpc_status();
    if let Some(rpc) = &rpc {
        // Decoded, encoded and decoded again: the same message.
        let again = RpcStatus::decode(rpc.encode_to_vec().as_slice()).expect("re-encoded");
        assert_eq!(&again, rpc);
        let from = Status::from_rpc_status(rpc);
        assert_eq!(from.code(), Code::from_i32(rpc.code));
        assert_eq!(from.message(), rpc.message);
        // (An all-default google.rpc.Status encodes to no bytes: no details at all.)
        assert_eq!(from.rpc_status().unwrap_or_default(), *rpc);
    }
    let packed = status.details_any();
    assert_eq!(packed.len(), rpc.as_ref().map_or(0, |r| r.details.len()));
    for any in &packed {
        unpack_all(any);
    }
    let _ = status.detail::<ErrorInfo>();
    let _ = status.detail::<RetryInfo>();
    let _ = status.detail::<DebugInfo>();
    let _ = status.detail::<QuotaFailure>();
    let _ = status.detail::<PreconditionFailure>();
    let _ = status.detail::<BadRequest>();
    let _ = status.detail::<RequestInfo>();
    let _ = status.detail::<ResourceInfo>();
    let _ = status.detail::<Help>();
    let _ = status.detail::<LocalizedMessage>();

    // The input as one packed detail of each type (decoded by the type's own rules).
    for type_url in [
        "type.googleapis.com/google.rpc.ErrorInfo",
        "type.googleapis.com/google.rpc.BadRequest",
        "x/google.rpc.Help",
        "google.rpc.RetryInfo",
    ] {
        let any = prost_types::Any {
            type_url: type_url.to_owned(),
            value: details.to_vec(),
        };
        unpack_all(&any);
    }

    // A detail added to whatever the details were: kept after the ones already there.
    let added = LocalizedMessage {
        locale: "en".into(),
        message: "added".into(),
    };
    let more = status.clone().with_detail(added.clone());
    let after = more.details_any();
    assert_eq!(after.len(), packed.len() + 1);
    assert_eq!(&after[..packed.len()], &packed[..]);
    assert_eq!(
        LocalizedMessage::from_any(after.last().unwrap()),
        Some(added)
    );
    let rpc_after = more.rpc_status().expect("details just written");
    match &rpc {
        Some(rpc) => {
            assert_eq!(rpc_after.code, rpc.code);
            assert_eq!(rpc_after.message, rpc.message);
        }
        None => {
            assert_eq!(rpc_after.code, code.as_i32());
            assert_eq!(rpc_after.message, "fuzz");
        }
    }
});
