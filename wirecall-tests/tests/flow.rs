//! Flow control under volume: a server stream of 200 messages of 64 KiB (12.8 MB) read whole
//! by a client. The server produces faster than the client reads, so its writes wait on the
//! client's reading and on its windows (and, on our engine, more than it lets wait unwritten
//! piles up, so it stops reading until the socket takes it): every message must still
//! arrive, in order.

mod common;

use common::bounded;
use wirecall_tests::echo::EchoRequest;

const MESSAGES: i32 = 200;
const SIZE: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_server_stream_of_large_messages_arrives_whole() {
    let server = common::start().await;
    let client = server.client();
    let request = EchoRequest {
        message: "big".into(),
        payload: vec![7u8; SIZE],
        repeat: MESSAGES,
        ..Default::default()
    };
    let mut stream = bounded("the stream's head", client.server_stream(request))
        .await
        .expect("the stream starts")
        .into_inner();
    let mut received = 0;
    while let Some(message) = bounded("the next message", stream.message())
        .await
        .expect("no error mid-stream")
    {
        assert_eq!(message.index, received, "in order");
        assert_eq!(message.payload.len(), SIZE);
        received += 1;
    }
    assert_eq!(received, MESSAGES);
}
