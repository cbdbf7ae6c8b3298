//! Length-delimited frames over any byte stream: a `u32` big-endian length,
//! then that many bytes. The payload is opaque here (the `proto` crate
//! encodes messages); this layer only guarantees that a frame arrives whole
//! or an error says why not.
//!
//! The reader never trusts the length prefix: a length above the maximum is
//! refused before anything is allocated, and an accepted length is read in
//! chunks so a peer that claims a large frame and sends little costs little.
//! After an error the reader is desynchronised and keeps returning
//! [`FrameError::Poisoned`]: a byte stream cannot be resynchronised, so the
//! caller should drop the stream (and usually the connection).

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Default largest payload accepted or sent: 8 MiB (a camera frame fits,
/// a runaway length does not).
pub const DEFAULT_MAX_FRAME: u32 = 8 * 1024 * 1024;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// The reader grows its buffer by at most this much per read, so memory
/// follows the bytes that actually arrived rather than the claimed length.
const READ_CHUNK: usize = 64 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix (read) or the payload (write) exceeds the maximum.
    #[error("frame of {len} bytes exceeds the {max}-byte maximum")]
    TooLarge {
        /// The claimed or attempted length.
        len: u64,
        /// The maximum in force.
        max: u32,
    },
    /// The stream ended inside a length prefix.
    #[error("stream ended inside a frame header ({got} of {HEADER_LEN} bytes)")]
    TruncatedHeader {
        /// Header bytes received.
        got: usize,
    },
    /// The stream ended inside a payload.
    #[error("stream ended inside a frame: {got} of {expected} payload bytes")]
    TruncatedBody {
        /// Payload bytes received.
        got: usize,
        /// Payload bytes announced.
        expected: usize,
    },
    /// The underlying stream failed.
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
    /// An earlier error left the stream between frames; nothing more can
    /// be read from it.
    #[error("frame stream unusable after an earlier error")]
    Poisoned,
}

/// Writes frames to `W`.
///
/// `write_frame` is not cancel-safe (a cancelled write may leave half a
/// frame on the stream); don't race it in `select!`, give it its own task.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    max: u32,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer with [`DEFAULT_MAX_FRAME`].
    pub fn new(inner: W) -> Self {
        Self::with_max_frame(inner, DEFAULT_MAX_FRAME)
    }

    /// A writer refusing payloads above `max` bytes.
    pub fn with_max_frame(inner: W, max: u32) -> Self {
        Self { inner, max }
    }

    /// Writes one frame. A payload above the maximum is refused before any
    /// byte is written, so the stream stays usable.
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<(), FrameError> {
        self.write_frames([payload]).await
    }

    /// Writes several frames with one write to the stream (one wake-up of
    /// a QUIC connection instead of two per frame). All payloads are
    /// checked first: if one is too large nothing is written.
    pub async fn write_frames<'a>(
        &mut self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), FrameError> {
        let mut buf = Vec::new();
        for payload in payloads {
            let len = u32::try_from(payload.len())
                .ok()
                .filter(|l| *l <= self.max)
                .ok_or(FrameError::TooLarge {
                    len: payload.len() as u64,
                    max: self.max,
                })?;
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(payload);
        }
        self.inner.write_all(&buf).await?;
        Ok(())
    }

    /// Flushes buffered bytes.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        self.inner.flush().await?;
        Ok(())
    }

    /// Ends the stream (for a quinn `SendStream`: finishes it) after
    /// flushing.
    pub async fn shutdown(&mut self) -> Result<(), FrameError> {
        self.inner.shutdown().await?;
        Ok(())
    }

    /// The maximum payload this writer sends.
    pub fn max_frame(&self) -> u32 {
        self.max
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives the underlying stream back.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Reads frames from `R`.
///
/// `read_frame` is cancel-safe: progress lives in the reader, so dropping
/// the future (e.g. losing a `select!` race against a timer) loses no bytes
/// and the next call continues the same frame.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max: u32,
    header: [u8; HEADER_LEN],
    header_got: usize,
    /// `Some(len)` once the header is complete.
    expected: Option<usize>,
    body: Vec<u8>,
    poisoned: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader with [`DEFAULT_MAX_FRAME`].
    pub fn new(inner: R) -> Self {
        Self::with_max_frame(inner, DEFAULT_MAX_FRAME)
    }

    /// A reader refusing frames above `max` bytes.
    pub fn with_max_frame(inner: R, max: u32) -> Self {
        Self {
            inner,
            max,
            header: [0; HEADER_LEN],
            header_got: 0,
            expected: None,
            body: Vec::new(),
            poisoned: false,
        }
    }

    /// The next frame's payload, or `None` when the stream ended cleanly
    /// between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        match self.read_inner().await {
            Ok(frame) => Ok(frame),
            Err(e) => {
                self.poisoned = true;
                self.body = Vec::new();
                Err(e)
            }
        }
    }

    async fn read_inner(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let expected = match self.expected {
            Some(n) => n,
            None => {
                while self.header_got < HEADER_LEN {
                    let n = self.inner.read(&mut self.header[self.header_got..]).await?;
                    if n == 0 {
                        if self.header_got == 0 {
                            return Ok(None);
                        }
                        return Err(FrameError::TruncatedHeader {
                            got: self.header_got,
                        });
                    }
                    self.header_got += n;
                }
                let len = u32::from_be_bytes(self.header);
                if len > self.max {
                    return Err(FrameError::TooLarge {
                        len: u64::from(len),
                        max: self.max,
                    });
                }
                // u32 -> usize cannot fail on the 32/64-bit targets we build
                // for; refuse rather than truncate anywhere else.
                let len = usize::try_from(len).map_err(|_| FrameError::TooLarge {
                    len: u64::from(len),
                    max: self.max,
                })?;
                self.expected = Some(len);
                self.body = Vec::with_capacity(len.min(READ_CHUNK));
                len
            }
        };
        while self.body.len() < expected {
            let remaining = expected - self.body.len();
            self.body.reserve(remaining.min(READ_CHUNK));
            let limit = remaining.min(READ_CHUNK) as u64;
            let n = (&mut self.inner)
                .take(limit)
                .read_buf(&mut self.body)
                .await?;
            if n == 0 {
                return Err(FrameError::TruncatedBody {
                    got: self.body.len(),
                    expected,
                });
            }
        }
        self.header_got = 0;
        self.expected = None;
        Ok(Some(std::mem::take(&mut self.body)))
    }

    /// The maximum payload this reader accepts.
    pub fn max_frame(&self) -> u32 {
        self.max
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Gives the underlying stream back (any partly read frame is lost).
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Opens a bidirectional QUIC stream as a framed pair.
pub async fn open_bi(
    connection: &quinn::Connection,
) -> Result<
    (
        FrameWriter<quinn::SendStream>,
        FrameReader<quinn::RecvStream>,
    ),
    quinn::ConnectionError,
> {
    let (send, recv) = connection.open_bi().await?;
    Ok((FrameWriter::new(send), FrameReader::new(recv)))
}

/// Accepts the peer's next bidirectional QUIC stream as a framed pair.
pub async fn accept_bi(
    connection: &quinn::Connection,
) -> Result<
    (
        FrameWriter<quinn::SendStream>,
        FrameReader<quinn::RecvStream>,
    ),
    quinn::ConnectionError,
> {
    let (send, recv) = connection.accept_bi().await?;
    Ok((FrameWriter::new(send), FrameReader::new(recv)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A peer claiming the largest allowed frame and sending a little
    /// costs about what it sent, and a read cancelled mid-frame (lost
    /// `select!` race) resumes where it stopped.
    #[tokio::test]
    async fn claimed_length_is_not_allocated_and_reads_are_cancel_safe() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let mut r = FrameReader::new(b);
        let len = DEFAULT_MAX_FRAME as usize;
        a.write_all(&DEFAULT_MAX_FRAME.to_be_bytes()).await.unwrap();
        a.write_all(&[1u8; 100]).await.unwrap();
        let pending = tokio::time::timeout(Duration::from_millis(50), r.read_frame()).await;
        assert!(pending.is_err(), "frame cannot be complete yet");
        assert_eq!(r.body.len(), 100);
        assert!(r.body.capacity() <= 2 * READ_CHUNK, "{}", r.body.capacity());

        let rest = vec![2u8; len - 100];
        let writer = tokio::spawn(async move {
            a.write_all(&rest).await.unwrap();
            a.write_all(&0u32.to_be_bytes()).await.unwrap();
            a
        });
        let frame = r.read_frame().await.unwrap().unwrap();
        assert_eq!(frame.len(), len);
        assert!(frame[..100].iter().all(|b| *b == 1));
        assert!(frame[100..].iter().all(|b| *b == 2));
        assert_eq!(r.read_frame().await.unwrap(), Some(Vec::new()));
        drop(writer.await.unwrap());
        assert_eq!(r.read_frame().await.unwrap(), None);
    }

    /// Cancelling inside the header keeps the header bytes read so far.
    #[tokio::test]
    async fn cancel_inside_header_loses_nothing() {
        let (mut a, b) = tokio::io::duplex(64);
        let mut r = FrameReader::new(b);
        a.write_all(&[0, 0]).await.unwrap();
        let pending = tokio::time::timeout(Duration::from_millis(20), r.read_frame()).await;
        assert!(pending.is_err());
        assert_eq!(r.header_got, 2);
        a.write_all(&[0, 3, b'a', b'b', b'c']).await.unwrap();
        assert_eq!(r.read_frame().await.unwrap(), Some(b"abc".to_vec()));
    }
}
