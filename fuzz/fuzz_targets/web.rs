//! gRPC-Web (the base64 body of `grpc-web-text` cut anywhere, the trailer frame, CORS) and
//! the pieces of the gateway that read requests: Connect's content types and GET query,
//! `google.api.http` path templates, query strings, compressed bodies, and which requests
//! the gateway claims.
//!
//! Input: a selector byte, then fields separated by NUL bytes (which none of the texts
//! can hold): the `grpc-web-text` body, a trailer block, a Connect GET query, a
//! `content-type`, a path template, a request path (or URI), an HTTP method, and last, up
//! to the end of the input, a compressed body.
#![no_main]

use std::cell::RefCell;

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use wirecall::fuzzing::{self, GatewayClaims};
use wirecall::web::{encode_text, parse_trailers, trailer_frame, Cors, Mode, TextDecoder};

thread_local! {
    /// A gateway over the fuzz crate's own service (HTTP rules, a GET-able method).
    static GATEWAY: RefCell<Option<GatewayClaims>> = const { RefCell::new(None) };
}

/// The grpc-web-text body, whole and cut into pieces of 1..=`max_piece` bytes.
fn text_body(text: &[u8], max_piece: usize) {
    let mut whole = TextDecoder::new();
    let at_once = whole.decode(text);

    let mut cut = TextDecoder::new();
    let mut pieces = Vec::new();
    let mut failed = false;
    for (i, piece) in text.chunks(max_piece).enumerate() {
        // Uneven cuts: every other piece is cut once more in the middle.
        let halves = if i % 2 == 0 {
            piece.split_at(piece.len() / 2)
        } else {
            (piece, &[][..])
        };
        for half in [halves.0, halves.1] {
            match cut.decode(half) {
                Ok(bytes) => pieces.extend_from_slice(&bytes),
                Err(_) => failed = true,
            }
            if failed {
                break;
            }
        }
        if failed {
            break;
        }
    }
    match at_once {
        Ok(bytes) => {
            assert!(!failed, "cut into pieces, a valid body fails");
            assert_eq!(pieces, bytes, "cut into pieces, the body decodes otherwise");
            assert_eq!(cut.finish().is_ok(), whole.finish().is_ok());
            let groups = text.iter().filter(|b| !b.is_ascii_whitespace()).count();
            assert_eq!(whole.finish().is_ok(), groups % 4 == 0);
        }
        Err(_) => assert!(failed, "cut into pieces, an invalid body decodes"),
    }

    // Any bytes, encoded, decode back.
    let mut decoder = TextDecoder::new();
    let encoded = encode_text(text);
    assert_eq!(decoder.decode(&encoded).expect("encoded by us"), text);
    decoder.finish().expect("whole groups");
}

/// The trailer block of a gRPC-Web response: parsed, written and parsed back.
fn trailers(block: &[u8]) {
    let Ok(parsed) = parse_trailers(block) else {
        return;
    };
    let frame = trailer_frame(&parsed);
    assert_eq!(frame[0], wirecall::web::TRAILER_FLAG);
    let len = u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 5);
    assert_eq!(parse_trailers(&frame[5..]).expect("written by us"), parsed);

    // The same lines as the headers of a CORS preflight.
    for cors in [
        Cors::any_origin(),
        Cors::from_origins(["https://a.test"]).expose(["x-fuzz", "x-fuzz-bin"]),
    ] {
        let _ = cors.preflight(&parsed);
        if let Some(allowed) = cors.allow(parsed.get("origin")) {
            let mut headers = parsed.clone();
            cors.add_response_headers(allowed, &mut headers);
        }
    }
    fuzzing::gateway_metadata(&parsed);
    fuzzing::status_trailers(&parsed);
}

fuzz_target!(|data: &[u8]| {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(8, |b| *b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let (text, block, query, content_type) = (next(), next(), next(), next());
    let (template, path, method, body) = (next(), next(), next(), next());

    text_body(text, usize::from(select % 16) + 1);
    trailers(block);
    fuzzing::connect_get_query(query);
    fuzzing::query_string(query);
    fuzzing::connect_content_type(content_type);
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        if let Ok(text) = value.to_str() {
            let _ = Mode::from_content_type(text);
        }
    }
    fuzzing::path_template(template, path);
    GATEWAY.with(|gateway| {
        let mut gateway = gateway.borrow_mut();
        let gateway = gateway.get_or_insert_with(|| {
            GatewayClaims::new(
                [wirecall::include_file_descriptor_set!().as_slice()],
                ["fuzz.Echo"],
            )
        });
        gateway.claim(method, path, content_type);
    });
    if !body.is_empty() {
        // Limits from tiny to the default 4 MiB.
        let max = [0, 1, 100, 4096, 4 << 20][usize::from(select >> 4) % 5];
        fuzzing::decompress(select >> 2, body, max);
    }
});
