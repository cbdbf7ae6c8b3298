//! Framing over in-memory streams: round trips, bad input (truncated,
//! oversized, garbage) as clear errors, and property tests that no byte
//! stream panics the reader.

use hivemind_net::frame::{FrameError, FrameReader, FrameWriter, DEFAULT_MAX_FRAME, HEADER_LEN};
use proptest::prelude::*;
use tokio::io::AsyncWriteExt as _;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn framed(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Reads frames from `bytes` until end or error.
async fn read_all(bytes: &[u8], max: u32) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut r = FrameReader::with_max_frame(bytes, max);
    let mut frames = Vec::new();
    loop {
        match r.read_frame().await {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

#[tokio::test]
async fn frames_round_trip_through_a_small_duplex() {
    // A 7-byte pipe forces every frame to cross in many partial reads.
    let (a, b) = tokio::io::duplex(7);
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"x".to_vec(),
        (0..1000u32).map(|i| i as u8).collect(),
        vec![0xab; 200_000],
    ];
    let sent = payloads.clone();
    let writer = tokio::spawn(async move {
        let mut w = FrameWriter::new(a);
        for p in &sent {
            w.write_frame(p).await.unwrap();
        }
        w.shutdown().await.unwrap();
    });
    let mut r = FrameReader::new(b);
    for p in &payloads {
        assert_eq!(r.read_frame().await.unwrap().as_ref(), Some(p));
    }
    assert_eq!(r.read_frame().await.unwrap(), None);
    // A cleanly ended stream stays ended.
    assert_eq!(r.read_frame().await.unwrap(), None);
    writer.await.unwrap();
}

#[tokio::test]
async fn frame_of_exactly_the_maximum_is_accepted() {
    let max = 1024;
    let payload = vec![7u8; max as usize];
    let bytes = framed(&[&payload]);
    let (frames, err) = read_all(&bytes, max).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, vec![payload]);
}

#[tokio::test]
async fn oversized_length_is_refused_without_reading_the_body() {
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"tiny");
    let (frames, err) = read_all(&bytes, DEFAULT_MAX_FRAME).await;
    assert!(frames.is_empty());
    match err {
        Some(FrameError::TooLarge { len, max }) => {
            assert_eq!(len, u64::from(u32::MAX));
            assert_eq!(max, DEFAULT_MAX_FRAME);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let bytes = framed(&[b"ok", &[0u8; 11]]);
    let (frames, err) = read_all(&bytes, 10).await;
    assert_eq!(frames, vec![b"ok".to_vec()]);
    assert!(matches!(
        err,
        Some(FrameError::TooLarge { len: 11, max: 10 })
    ));
}

#[tokio::test]
async fn truncated_header_and_body_are_named() {
    for cut in 1..HEADER_LEN {
        let bytes = &5u32.to_be_bytes()[..cut];
        match read_all(bytes, 64).await.1 {
            Some(FrameError::TruncatedHeader { got }) => assert_eq!(got, cut),
            other => panic!("cut {cut}: expected TruncatedHeader, got {other:?}"),
        }
    }
    let mut bytes = 5u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"abc");
    match read_all(&bytes, 64).await.1 {
        Some(FrameError::TruncatedBody { got, expected }) => {
            assert_eq!((got, expected), (3, 5))
        }
        other => panic!("expected TruncatedBody, got {other:?}"),
    }
    // A header with no body at all.
    match read_all(&5u32.to_be_bytes(), 64).await.1 {
        Some(FrameError::TruncatedBody {
            got: 0,
            expected: 5,
        }) => {}
        other => panic!("expected TruncatedBody, got {other:?}"),
    }
    let e = read_all(&bytes, 64).await.1.unwrap().to_string();
    assert!(e.contains("3 of 5"), "{e}");
}

#[tokio::test]
async fn reader_is_poisoned_after_an_error() {
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&framed(&[b"would be misread"]));
    let mut r = FrameReader::with_max_frame(&bytes[..], 10);
    assert!(matches!(
        r.read_frame().await,
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(r.read_frame().await, Err(FrameError::Poisoned)));
    assert!(matches!(r.read_frame().await, Err(FrameError::Poisoned)));
}

#[tokio::test]
async fn writer_refuses_oversized_payload_and_writes_nothing() {
    let mut w = FrameWriter::with_max_frame(Vec::new(), 4);
    assert!(matches!(
        w.write_frame(b"12345").await,
        Err(FrameError::TooLarge { len: 5, max: 4 })
    ));
    assert!(w.get_mut().is_empty());
    // Still usable.
    w.write_frame(b"1234").await.unwrap();
    assert_eq!(w.into_inner(), framed(&[b"1234"]));
}

#[tokio::test]
async fn io_errors_surface_as_io() {
    // The write half is dropped mid-frame: the reader sees a truncation,
    // not a hang.
    let (mut a, b) = tokio::io::duplex(64);
    a.write_all(&10u32.to_be_bytes()).await.unwrap();
    a.write_all(b"abc").await.unwrap();
    drop(a);
    let mut r = FrameReader::new(b);
    assert!(matches!(
        r.read_frame().await,
        Err(FrameError::TruncatedBody {
            got: 3,
            expected: 10
        })
    ));
    // A writer whose peer is gone gets an I/O error.
    let (a, b) = tokio::io::duplex(8);
    drop(b);
    let mut w = FrameWriter::new(a);
    assert!(matches!(
        w.write_frame(b"hello").await,
        Err(FrameError::Io(_))
    ));
}

/// Decodes `bytes` the obvious way and checks the reader agrees: same
/// frames, same kind of error, no frame above the maximum.
fn check_against_reference(bytes: &[u8], max: u32) -> Result<(), TestCaseError> {
    let (frames, err) = rt().block_on(read_all(bytes, max));
    let mut want = Vec::new();
    let mut rest = bytes;
    let want_err = loop {
        if rest.is_empty() {
            break None;
        }
        if rest.len() < 4 {
            break Some("header");
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if len > max {
            break Some("large");
        }
        let len = len as usize;
        if rest.len() < 4 + len {
            break Some("body");
        }
        want.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    };
    prop_assert_eq!(&frames, &want);
    for f in &frames {
        prop_assert!(f.len() <= max as usize);
    }
    let kind = err.as_ref().map(|e| match e {
        FrameError::TruncatedHeader { .. } => "header",
        FrameError::TooLarge { .. } => "large",
        FrameError::TruncatedBody { .. } => "body",
        _ => "other",
    });
    prop_assert_eq!(kind, want_err);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes with an arbitrary (small) maximum never panic the
    /// reader, and every frame it returns respects the maximum and matches
    /// a straightforward decoding of the same bytes.
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        max in 0u32..300,
    ) {
        check_against_reference(&bytes, max)?;
    }

    /// Valid streams damaged by truncation, a flipped byte and an inserted
    /// byte: far more of these reach the body-reading paths than uniform
    /// random bytes do.
    #[test]
    fn damaged_valid_streams_never_panic_the_reader(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        flip_to in any::<u8>(),
        insert in any::<prop::sample::Index>(),
        max in 0u32..48,
    ) {
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let mut bytes = framed(&refs);
        if !bytes.is_empty() {
            let i = flip.index(bytes.len());
            bytes[i] = flip_to;
            let i = insert.index(bytes.len());
            bytes.insert(i, flip_to);
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep);
        }
        check_against_reference(&bytes, max)?;
    }

    /// Whatever is written comes back, in order, through a pipe of any
    /// small capacity.
    #[test]
    fn written_frames_read_back(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        pipe in 1usize..64,
    ) {
        let got = rt().block_on(async {
            let (a, b) = tokio::io::duplex(pipe);
            let sent = payloads.clone();
            let writer = tokio::spawn(async move {
                let mut w = FrameWriter::with_max_frame(a, 300);
                for p in &sent { w.write_frame(p).await.unwrap(); }
                w.shutdown().await.unwrap();
            });
            let mut r = FrameReader::with_max_frame(b, 300);
            let mut got = Vec::new();
            while let Some(f) = r.read_frame().await.unwrap() { got.push(f); }
            writer.await.unwrap();
            got
        });
        prop_assert_eq!(got, payloads);
    }
}

#[tokio::test]
async fn a_batch_of_frames_is_one_write_and_reads_back_in_order() {
    let mut w = FrameWriter::with_max_frame(Vec::new(), 16);
    let payloads: [&[u8]; 3] = [b"first", b"", b"third frame"];
    w.write_frames(payloads).await.unwrap();
    let bytes = w.into_inner();
    assert_eq!(bytes, framed(&payloads));
    let (frames, err) = read_all(&bytes, 16).await;
    assert!(err.is_none());
    assert_eq!(frames, payloads.map(<[u8]>::to_vec));
}

#[tokio::test]
async fn a_batch_with_one_oversized_frame_writes_nothing() {
    let mut w = FrameWriter::with_max_frame(Vec::new(), 4);
    let err = w
        .write_frames([&b"ok"[..], &b"too long"[..]])
        .await
        .unwrap_err();
    assert!(
        matches!(err, FrameError::TooLarge { len: 8, max: 4 }),
        "{err}"
    );
    assert!(
        w.into_inner().is_empty(),
        "no byte of the batch was written"
    );
}
