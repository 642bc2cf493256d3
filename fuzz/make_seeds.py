#!/usr/bin/env python3
"""Writes the kept seed corpus, fuzz/corpus/<target>/, from scratch: a handful of meaningful
inputs per target, in each target's own input format (see the doc comment of each target).

Run from anywhere: python3 fuzz/make_seeds.py. Standard library only.
"""

import base64
import gzip
import json
import os
import shutil
import struct
import urllib.parse
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


# --- protobuf ------------------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def any_of(type_name, value):
    return field_bytes(1, "type.googleapis.com/" + type_name) + field_bytes(2, value)


ERROR_INFO = field_bytes(1, "ORDER_NOT_FOUND") + field_bytes(2, "orders.example.com") + \
    field_bytes(3, field_bytes(1, "order_id") + field_bytes(2, "42"))
BAD_REQUEST = field_bytes(1, field_bytes(1, "items[0].quantity") + field_bytes(2, "must be positive"))
RETRY_INFO = field_bytes(1, field_varint(1, 2) + field_varint(2, 500))
HELP = field_bytes(1, field_bytes(1, "docs") + field_bytes(2, "https://example.com/help"))
LOCALIZED = field_bytes(1, "en-US") + field_bytes(2, "sorry")


def rpc_status(code, message, details):
    out = field_varint(1, code) + field_bytes(2, message)
    for type_name, value in details:
        out += field_bytes(3, any_of(type_name, value))
    return out


RICH_STATUS = rpc_status(3, "bad order", [
    ("google.rpc.BadRequest", BAD_REQUEST),
    ("google.rpc.ErrorInfo", ERROR_INFO),
    ("google.rpc.RetryInfo", RETRY_INFO),
])


def grpc_frame(message, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(message)) + message


# --- HTTP/2 --------------------------------------------------------------------------------

def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman."""
    out = bytearray()
    for name, value in headers:
        name, value = name.encode(), value.encode()
        out += b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value
    return bytes(out)


DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8


def record(kind, flags, stream, payload=b""):
    """A frame record of the server_connection target: tag 0, true length."""
    assert len(payload) < 65536
    if stream < 256:
        return bytes([0, kind, flags, stream]) + struct.pack(">H", len(payload)) + payload
    return bytes([0x80, kind, flags, 0]) + struct.pack(">I", stream) + struct.pack(">H", len(payload)) + payload


def lying(kind, flags, stream, declared, payload):
    return bytes([1, kind, flags, stream]) + declared.to_bytes(3, "big") + struct.pack(">H", len(payload)) + payload


FLUSH = b"\x03"


def raw(data):
    out = bytearray()
    for i in range(0, len(data), 255):
        piece = data[i:i + 255]
        out += bytes([2, len(piece)]) + piece
    return bytes(out)


def request(path, content_type, body=b"", method="POST", extra=(), stream=1, end=True):
    headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "fuzz")]
    if content_type:
        headers.append(("content-type", content_type))
    headers += list(extra)
    frames = record(HEADERS, END_HEADERS | (END_STREAM if not body and end else 0), stream, hpack(headers))
    if body:
        frames += record(DATA, END_STREAM if end else 0, stream, body)
    return frames


def grpc(path, messages, extra=(), stream=1, end=True):
    body = b"".join(grpc_frame(m) for m in messages)
    return request(path, "application/grpc", body, extra=[("te", "trailers")] + list(extra), stream=stream, end=end)


SETTINGS_FRAME = record(SETTINGS, 0, 0)
SETTINGS_ACK = record(SETTINGS, ACK, 0)


def msg(text="", count=0, code=0, blob=b""):
    out = b""
    if text:
        out += field_bytes(1, text)
    if blob:
        out += field_bytes(2, blob)
    if count:
        out += field_varint(3, count)
    if code:
        out += field_varint(4, code)
    return out


def server_connection_seeds():
    health_check = grpc("/grpc.health.v1.Health/Check", [b""], extra=[("grpc-timeout", "1S")])
    seeds = {
        "health-check": SETTINGS_FRAME + health_check,
        "health-check-service": SETTINGS_FRAME + grpc("/grpc.health.v1.Health/Check", [field_bytes(1, "fuzz.Echo")]),
        "health-watch": SETTINGS_FRAME + grpc("/grpc.health.v1.Health/Watch", [b""]) + FLUSH + SETTINGS_ACK,
        "reflection-list": SETTINGS_FRAME + grpc(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            [field_bytes(7, "*"), field_bytes(4, "fuzz.Echo")]),
        "reflection-v1alpha-file": SETTINGS_FRAME + grpc(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            [field_bytes(3, "fuzz.proto"), field_bytes(5, field_bytes(1, "fuzz.Msg") + field_varint(2, 8))]),
        "echo-unary": SETTINGS_FRAME + grpc("/fuzz.Echo/Unary", [msg("hi", 2)], extra=[("x-fuzz-bin", "AAH+/w"), ("grpc-accept-encoding", "gzip")]),
        "echo-unary-error": SETTINGS_FRAME + grpc("/fuzz.Echo/Unary", [msg("nope", code=5)]),
        "echo-repeat": SETTINGS_FRAME + grpc("/fuzz.Echo/Repeat", [msg("again", 3)]),
        "echo-collect": SETTINGS_FRAME + grpc("/fuzz.Echo/Collect", [msg("a"), msg("b", blob=b"\x00\xff")]),
        "echo-chat-two-streams": SETTINGS_FRAME + grpc("/fuzz.Echo/Chat", [msg("x")], end=False) + FLUSH
        + grpc("/fuzz.Echo/Unary", [msg("y")], stream=3) + record(DATA, END_STREAM, 1, grpc_frame(msg("z"))),
        "gzip-request": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary", "application/grpc",
            grpc_frame(gzip.compress(msg("zipped", 1), mtime=0), compressed=True),
            extra=[("te", "trailers"), ("grpc-encoding", "gzip")]),
        "deflate-request": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary", "application/grpc",
            grpc_frame(zlib.compress(msg("deflated")), compressed=True),
            extra=[("te", "trailers"), ("grpc-encoding", "deflate")]),
        "grpc-web": SETTINGS_FRAME + request(
            "/grpc.health.v1.Health/Check", "application/grpc-web+proto", grpc_frame(b""),
            extra=[("origin", "https://a.test"), ("x-grpc-web", "1")]),
        "grpc-web-text": SETTINGS_FRAME + request(
            "/fuzz.Echo/Repeat", "application/grpc-web-text", base64.b64encode(grpc_frame(msg("t", 2)))),
        "connect-unary-json": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary", "application/json", json.dumps({"text": "hi", "count": 1, "labels": {"a": "b"}}).encode(),
            extra=[("connect-protocol-version", "1"), ("connect-timeout-ms", "1500")]),
        "connect-unary-proto-error": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary", "application/proto", msg("bad", code=3)),
        "connect-stream": SETTINGS_FRAME + request(
            "/fuzz.Echo/Chat", "application/connect+json",
            b"\x00" + struct.pack(">I", 13) + b'{"text":"hi"}' + b"\x00" + struct.pack(">I", 2) + b"{}"),
        "connect-get": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary?encoding=json&message=" + urllib.parse.quote('{"text":"get"}') + "&connect=v1",
            None, method="GET"),
        "connect-get-base64": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary?encoding=proto&base64=1&message="
            + base64.urlsafe_b64encode(msg("b64")).decode().rstrip("="), None, method="GET"),
        "rest-get": SETTINGS_FRAME + request("/v1/echo/hello%20there?count=2&labels[k]=v", None, method="GET"),
        "rest-post": SETTINGS_FRAME + request("/v1/echo", "application/json", b'{"text":"posted","inner":{"id":"7"}}'),
        "rest-patch-rest": SETTINGS_FRAME + request("/v1/shelves/1/books/a/b", "application/json", b'"AQI="', method="PATCH"),
        "rest-delete-verb": SETTINGS_FRAME + request("/v1/items/7:purge", None, method="DELETE"),
        "rest-stream": SETTINGS_FRAME + request("/v1/repeat/x:stream?count=2", None, method="GET", extra=[("accept-encoding", "gzip")]),
        "cors-preflight": SETTINGS_FRAME + request(
            "/fuzz.Echo/Unary", None, method="OPTIONS",
            extra=[("origin", "https://a.test"), ("access-control-request-method", "POST"),
                   ("access-control-request-headers", "content-type,x-grpc-web")]),
        "bad-requests": SETTINGS_FRAME + grpc("/no.Such/Method", [b""])
        + grpc("/fuzz.Echo/Unary", [b""], extra=[("grpc-timeout", "1x")], stream=3)
        + request("/fuzz.Echo/Unary", "text/plain", b"x", stream=5)
        + grpc("/fuzz.Echo/Unary", [b""], extra=[("grpc-encoding", "br")], stream=7),
        "continuation-and-reset": SETTINGS_FRAME
        + record(HEADERS, 0, 1, hpack([(":method", "POST"), (":scheme", "http")]))
        + record(CONTINUATION, END_HEADERS, 1, hpack([(":path", "/fuzz.Echo/Collect"), ("content-type", "application/grpc")]))
        + record(DATA, 0, 1, grpc_frame(msg("part")))
        + record(RST_STREAM, 0, 1, struct.pack(">I", 8)),
        "control-frames": SETTINGS_FRAME + record(PING, 0, 0, b"12345678") + record(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1000))
        + record(PRIORITY, 0, 1, struct.pack(">IB", 0, 16)) + health_check
        + record(GOAWAY, 0, 0, struct.pack(">II", 1, 0)),
        "lying-length": SETTINGS_FRAME + lying(DATA, 0, 1, 0xFFFF, b"abc"),
        "message-split-over-frames": SETTINGS_FRAME
        + request("/fuzz.Echo/Unary", "application/grpc", grpc_frame(msg("split across"))[:7], extra=[("te", "trailers")], end=False)
        + FLUSH + record(DATA, END_STREAM, 1, grpc_frame(msg("split across"))[7:]),
        "http1-grpc-web": b"\xff" + b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nhost: fuzz\r\n"
        b"content-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\x00\x00\x00\x00\x00",
        "http1-connect-get": b"\xff" + ("GET /fuzz.Echo/Unary?encoding=json&message=%7B%7D HTTP/1.1\r\nhost: fuzz\r\n\r\n").encode(),
        "http1-rest-post": b"\xff" + b"POST /v1/echo HTTP/1.1\r\nhost: fuzz\r\ncontent-type: application/json\r\n"
        b"content-length: 15\r\n\r\n{\"text\":\"h1\"}\r\n",
    }
    return seeds


def web_seeds():
    def web(select, text=b"", block=b"", query=b"", content_type=b"", template=b"", path=b"", method=b"", body=b""):
        return bytes([select]) + b"\x00".join([text, block, query, content_type, template, path, method, body])

    return {
        "text-trailers": web(5, base64.b64encode(grpc_frame(b"hello")) + b"\r\n" + base64.b64encode(b"\x80\x00"),
                             b"grpc-status: 0\r\ngrpc-message: ok\r\nx-trace: a\r\n"),
        "text-padded-runs": web(2, b"YQ==YmM=ZGVm"),
        "connect-get": web(1, query=b"connect=v1&encoding=proto&base64=1&message=CAc&compression=gzip",
                           content_type=b"application/connect+proto"),
        "connect-json": web(0, query=b"encoding=json&message=%7B%22id%22%3A2%7D", content_type=b"application/json; charset=utf-8",
                            method=b"POST", path=b"/fuzz.Echo/Unary"),
        "template-verb": web(3, template=b"/v1/{name=shelves/*/books/**}:touch", path=b"/v1/shelves/1/books/a/b%2Fc:touch",
                             method=b"PATCH"),
        "template-vars": web(4, template=b"/v1/users/{user.id}/items/{item=*}", path=b"/v1/users/7/items/x",
                             method=b"GET"),
        "rest-claim": web(6, path=b"/v1/echo/hello?count=2", method=b"GET"),
        "cors": web(7, block=b"origin: https://a.test\r\naccess-control-request-method: POST\r\n"
                             b"access-control-request-headers: content-type\r\n", method=b"OPTIONS",
                    path=b"/fuzz.Echo/Unary"),
        "gzip-body": web(0x11 | 0x04, body=gzip.compress(b"a" * 300, mtime=0)),
        "deflate-body": web(0x38 | 0x08, body=zlib.compress(b'{"text":"x"}')),
        "status-trailers": web(9, block=b"grpc-status: 3\r\ngrpc-message: bad%20order\r\ngrpc-status-details-bin: "
                           + base64.b64encode(RICH_STATUS).rstrip(b"=") + b"\r\n"),
    }


def main():
    targets = {
        "frame": {
            "one-message": b"\x01\x00" + grpc_frame(b"abc"),
            "three-messages-chunked": b"\x02\x03" + grpc_frame(b"one") + grpc_frame(b"") + grpc_frame(b"three" * 10),
            "compressed": b"\x01\x07" + grpc_frame(gzip.compress(b"zip", mtime=0), compressed=True),
            "too-large": b"\x04\x01" + grpc_frame(b"12345"),
            "bad-flag": b"\x01\x00\x02\x00\x00\x00\x01a",
            "truncated": b"\x03\x02\x00\x00\x00\x00\x10abc",
        },
        "timeout": {
            "seconds": b"1S", "millis": b"250m", "max": b"99999999H", "micros": b"7u", "nanos": b"1n",
            "minutes": b"30M", "connect-ms": b"1500", "connect-max": b"9999999999",
            "duration-bytes": struct.pack("<QI", 123456789, 999999999),
        },
        "metadata": {
            "ok-with-metadata": b"0\n\n\nx-token:abc 123\nx-data-bin:AAH+/w\nx-data-bin:AAH+/w==\nx-token:second",
            "encoded-message": b"13\n%E2%98%BA 100%25 %zz%4\n",
            "details": b"3\nbad order\n" + base64.b64encode(RICH_STATUS).rstrip(b"=") + b"\nx-request-id:7",
            "malformed-status": b"abc\nignored\n!!!\ngrpc-previous-rpc-attempts:2\nte:trailers",
            "reserved-and-bin": b"99999999999\n\nCAU\ncontent-type:application/grpc\nx-bad-bin:***\nx-empty-bin:",
        },
        "status_details": {
            "rich": b"\x0b" + RICH_STATUS,
            "help-and-localized": b"\x0d" + rpc_status(13, "internal", [
                ("google.rpc.Help", HELP), ("google.rpc.LocalizedMessage", LOCALIZED),
                ("google.rpc.DebugInfo", field_bytes(1, "frame 1") + field_bytes(2, "detail")),
                ("google.rpc.QuotaFailure", field_bytes(1, field_bytes(1, "project:1") + field_bytes(2, "quota"))),
                ("google.rpc.PreconditionFailure", field_bytes(1, field_bytes(1, "TOS") + field_bytes(2, "s") + field_bytes(3, "d"))),
                ("google.rpc.RequestInfo", field_bytes(1, "req-1") + field_bytes(2, "trace")),
                ("google.rpc.ResourceInfo", field_bytes(1, "order") + field_bytes(2, "42") + field_bytes(3, "me") + field_bytes(4, "gone")),
            ]),
            "error-info-only": b"\x0d" + ERROR_INFO,
            "garbage": b"\x08\xff\xff\x01",
        },
        "web": web_seeds(),
        "service_config": {
            "retry": json.dumps({"methodConfig": [{
                "name": [{"service": "pkg.Svc", "method": "Method"}], "timeout": "1.5s", "waitForReady": True,
                "maxRequestMessageBytes": 1024, "maxResponseMessageBytes": "2048",
                "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
                                "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE", 4],
                                "perAttemptRecvTimeout": "0.5s"}}],
                "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}).encode(),
            "hedging": json.dumps({"methodConfig": [{
                "name": [{"service": "pkg.Svc"}, {}],
                "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE"]}}],
                "loadBalancingConfig": [{"unknown_policy": {}}, {"round_robin": {}}]}).encode(),
            "policy-name": json.dumps({"loadBalancingPolicy": "pick_first", "methodConfig": [{"name": [{"service": ""}], "timeout": "315576000000s"}]}).encode(),
            "duration": b"1.000340012s",
            "invalid": b'{"methodConfig": [{"name": [{"method": "M"}]}], "retryThrottling": {"maxTokens": 0}}',
        },
        "server_connection": server_connection_seeds(),
    }
    total = 0
    for target, seeds in targets.items():
        folder = os.path.join(ROOT, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in seeds.items():
            with open(os.path.join(folder, "seed-" + name), "wb") as f:
                f.write(data)
            total += len(data)
    print(f"wrote {sum(len(s) for s in targets.values())} seeds, {total} bytes, under {ROOT}")


if __name__ == "__main__":
    main()
