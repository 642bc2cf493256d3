//! The gRPC message frame decoder: the input, cut into chunks at positions the input itself
//! picks, is a stream of DATA frames. Whatever it decodes to must re-encode to the bytes it
//! came from.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wirecall::frame::{self, FrameDecoder, FrameError, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    // [limit selector][cut seed][stream...]
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let Some((&seed, stream)) = rest.split_first() else {
        return;
    };
    let max_len = match limit % 4 {
        0 => usize::from(limit),
        1 => 4096,
        2 => frame::DEFAULT_MAX_RECEIVE_SIZE,
        _ => usize::MAX,
    };

    // Chunk lengths from a small generator seeded by the input: sizes 0..=seed, cycling.
    let mut decoder = FrameDecoder::new(max_len);
    let mut decoded = Vec::new();
    let mut error = None;
    let mut at = 0;
    let mut state = u32::from(seed) | 1;
    'feed: while at < stream.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = if seed == 0 {
            stream.len()
        } else {
            (state % (u32::from(seed) + 1)) as usize
        };
        let end = (at + len).min(stream.len());
        let mut chunk = Bytes::copy_from_slice(&stream[at..end]);
        at = end;
        loop {
            match decoder.decode(&mut chunk) {
                Ok(Some(frame)) => decoded.push(frame),
                Ok(None) => {
                    assert!(chunk.is_empty(), "bytes left in the chunk");
                    break;
                }
                Err(err) => {
                    error = Some(err);
                    break 'feed;
                }
            }
        }
    }

    // What was decoded is a prefix of the stream, frame by frame.
    let mut encoded = BytesMut::new();
    for f in &decoded {
        assert!(f.payload.len() <= max_len);
        frame::put_header(&mut encoded, f.compressed, f.payload.len() as u32);
        encoded.extend_from_slice(&f.payload);
    }
    assert!(encoded.len() <= stream.len());
    assert_eq!(&encoded[..], &stream[..encoded.len()]);
    let left = &stream[encoded.len()..];

    match error {
        Some(FrameError::InvalidFlag(flag)) => {
            assert!(flag > 1);
            assert_eq!(left[0], flag);
        }
        Some(FrameError::TooLarge { len, max }) => {
            assert_eq!(max, max_len);
            assert!(len > max);
            assert_eq!(
                u32::from_be_bytes([left[1], left[2], left[3], left[4]]) as usize,
                len
            );
        }
        Some(FrameError::Truncated { .. }) => unreachable!("only finish reports truncation"),
        Some(other) => panic!("decode failed with {other:?}"),
        None => match decoder.finish() {
            Ok(()) => assert!(left.is_empty(), "{} bytes never decoded", left.len()),
            Err(FrameError::Truncated { have }) => {
                assert_eq!(have, left.len());
                if have >= HEADER_LEN {
                    let len = u32::from_be_bytes([left[1], left[2], left[3], left[4]]) as usize;
                    assert!(have < HEADER_LEN + len, "a whole frame left undecoded");
                }
            }
            Err(other) => panic!("finish failed with {other:?}"),
        },
    }
    let _ = error.map(|e| e.to_string());
});
