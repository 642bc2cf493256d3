//! Sending under HTTP/2 flow control, shared by both sides of a call.

use std::future::poll_fn;

use bytes::Bytes;
use h2::SendStream;

/// Sends `data` without outrunning the peer's flow-control window: waits for capacity and
/// sends as much as is granted each time.
pub(crate) async fn send_data(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
) -> Result<(), h2::Error> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let granted = match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(result) => result?,
            None => return Err(h2::Error::from(h2::Reason::STREAM_CLOSED)),
        };
        if granted == 0 {
            continue;
        }
        let chunk = data.split_to(granted.min(data.len()));
        stream.send_data(chunk, false)?;
    }
    Ok(())
}
