//! Bounded reading of a process's pipes.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};

/// All of a stream up to `limit` bytes; `Err(())` as soon as it holds
/// more (the caller kills the writer; the rest is never read).
pub(super) async fn read_bounded<R: AsyncRead + Unpin>(
    mut r: R,
    limit: usize,
) -> std::io::Result<Result<Vec<u8>, ()>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(Ok(out));
        }
        if out.len().saturating_add(n) > limit {
            return Ok(Err(()));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// One line of a persistent worker's stdout.
#[allow(clippy::enum_variant_names)]
pub(super) enum Line {
    /// Without its `\n`.
    Text(Vec<u8>),
    /// The stream ended (the process closed stdout or died).
    Eof,
    /// Longer than the limit: the stream's framing is lost.
    TooLong,
}

/// The next non-blank line, reading at most `limit` bytes of it.
pub(super) async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> std::io::Result<Line> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            // A last line without its newline still counts; an
            // unterminated fragment is what the decoder will refuse.
            return Ok(if line.iter().all(u8::is_ascii_whitespace) {
                Line::Eof
            } else {
                Line::Text(line)
            });
        }
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        if line.len().saturating_add(chunk.len()) > limit {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(newline);
        r.consume(used);
        if newline {
            if line.iter().all(u8::is_ascii_whitespace) {
                line.clear();
                continue;
            }
            return Ok(Line::Text(line));
        }
    }
}

/// The last `cap` bytes of a stream, shared with whoever reports an error.
#[derive(Debug, Clone, Default)]
pub(super) struct Tail {
    inner: Arc<Mutex<TailBuf>>,
}

#[derive(Debug, Default)]
struct TailBuf {
    bytes: Vec<u8>,
    cut: u64,
}

impl Tail {
    /// Read `r` to its end, keeping the last `cap` bytes.
    pub(super) async fn drain<R: AsyncRead + Unpin>(&self, mut r: R, cap: usize) {
        let mut buf = vec![0u8; 8 << 10];
        // A read error ends the stream as EOF would: stderr is best effort.
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let Ok(mut t) = self.inner.lock() else { break };
            t.bytes.extend_from_slice(&buf[..n]);
            // Trimmed in batches, so each byte is moved O(1) times.
            if t.bytes.len() > cap.saturating_mul(2).max(buf.len()) {
                let excess = t.bytes.len() - cap;
                t.bytes.drain(..excess);
                t.cut = t.cut.saturating_add(excess as u64);
            }
        }
    }

    /// The kept bytes, lossily decoded, last `cap` only.
    pub(super) fn text(&self, cap: usize) -> String {
        let Ok(t) = self.inner.lock() else {
            return String::new();
        };
        let start = t.bytes.len().saturating_sub(cap);
        let cut = t.cut.saturating_add(start as u64);
        let text = String::from_utf8_lossy(&t.bytes[start..]);
        if cut > 0 {
            format!("[{cut} earlier bytes cut] {text}")
        } else {
            text.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_reads() {
        assert_eq!(
            read_bounded(&b"abc"[..], 3).await.unwrap(),
            Ok(b"abc".to_vec())
        );
        assert_eq!(read_bounded(&b"abcd"[..], 3).await.unwrap(), Err(()));
    }

    #[tokio::test]
    async fn lines() {
        let mut r = tokio::io::BufReader::new(&b"\n  \none\ntwo-without-newline"[..]);
        assert!(
            matches!(read_line_bounded(&mut r, 100).await.unwrap(), Line::Text(l) if l == b"one")
        );
        assert!(
            matches!(read_line_bounded(&mut r, 100).await.unwrap(), Line::Text(l) if l == b"two-without-newline")
        );
        assert!(matches!(
            read_line_bounded(&mut r, 100).await.unwrap(),
            Line::Eof
        ));
        // A small buffer: the limit holds across refills.
        let mut r = tokio::io::BufReader::with_capacity(4, &b"0123456789\n"[..]);
        assert!(matches!(
            read_line_bounded(&mut r, 8).await.unwrap(),
            Line::TooLong
        ));
        let mut r = tokio::io::BufReader::with_capacity(4, &b"0123456789\n"[..]);
        assert!(
            matches!(read_line_bounded(&mut r, 10).await.unwrap(), Line::Text(l) if l == b"0123456789")
        );
    }

    #[tokio::test]
    async fn tail_keeps_the_end() {
        let tail = Tail::default();
        let data: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        tail.drain(&data[..], 10).await;
        let text = tail.text(10);
        assert!(text.ends_with(std::str::from_utf8(&data[data.len() - 10..]).unwrap()));
        assert!(text.starts_with("[99990 earlier bytes cut]"), "{text}");
        let small = Tail::default();
        small.drain(&b"oops\n"[..], 10).await;
        assert_eq!(small.text(10), "oops\n");
    }

    proptest::proptest! {
        /// Any stream, any buffer size: the lines come back whole (blank
        /// ones skipped), and a small limit only ever says TooLong.
        #[test]
        fn lines_survive_any_chunking(
            data in proptest::collection::vec(proptest::prop_oneof![proptest::prelude::Just(b'\n'), proptest::prelude::Just(b' '), proptest::prelude::any::<u8>()], 0..400),
            cap in 1usize..64,
            limit in 0usize..32,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let expected: Vec<&[u8]> = data
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .collect();
                let mut r = tokio::io::BufReader::with_capacity(cap, &data[..]);
                let mut got = Vec::new();
                loop {
                    match read_line_bounded(&mut r, usize::MAX).await.unwrap() {
                        Line::Text(l) => got.push(l),
                        Line::Eof => break,
                        Line::TooLong => unreachable!(),
                    }
                }
                assert_eq!(got, expected);
                let mut r = tokio::io::BufReader::with_capacity(cap, &data[..]);
                for _ in 0..=data.len() {
                    match read_line_bounded(&mut r, limit).await.unwrap() {
                        Line::Text(l) => assert!(l.len() <= limit),
                        Line::Eof | Line::TooLong => break,
                    }
                }
            });
        }
    }
}
