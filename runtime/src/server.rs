//! The controller's side of the device link: QUIC with mutual TLS
//! (`hivemind-net`), one connection per agent, one bidirectional stream of
//! frames (`hivemind-proto`) for control and payloads.
//!
//! Per connection: the handshake checks the client certificate (CA,
//! validity, revocation) and names the device; the first frame must be a
//! Hello claiming that same device; then a reader turns frames into
//! [`Input::Uplink`] and a writer sends what the driver queues. A frame
//! that does not decode closes that connection with a reason; the
//! controller and every other connection carry on.

use crate::driver::Input;
use hivemind_controller::DeviceId;
use hivemind_net::frame::{FrameReader, FrameWriter};
use hivemind_net::quic;
use hivemind_proto::wire::{decode_uplink, encode_downlink, MAX_FRAME_BYTES};
use hivemind_proto::{Downlink, Uplink};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

/// Frames queued towards one device before the connection counts as
/// unable to keep up (the driver then closes it).
pub const DEVICE_QUEUE: usize = 4096;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Application close codes (besides the transport's own).
pub mod close {
    pub const PROTOCOL: u32 = 0x10;
    pub const REFUSED: u32 = 0x12;
    pub const SHUTDOWN: u32 = 0x13;
    /// The mission is over (finished or aborted): the agent may exit.
    pub const MISSION_OVER: u32 = 0x14;
}

/// Accept devices on `endpoint` until it is closed.
pub async fn serve(endpoint: quinn::Endpoint, inputs: Sender<Input>) {
    let next = Arc::new(AtomicU64::new(1));
    while let Some(incoming) = endpoint.accept().await {
        let inputs = inputs.clone();
        let conn_id = next.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            // `accept` logs every refusal itself.
            if let Ok(accepted) = quic::accept(incoming, HANDSHAKE_TIMEOUT).await {
                serve_connection(accepted, conn_id, inputs).await;
            }
        });
    }
}

async fn serve_connection(accepted: quic::Accepted, conn_id: u64, inputs: Sender<Input>) {
    let conn = accepted.connection;
    let device = DeviceId(accepted.device);
    let remote = conn.remote_address();
    let (send, recv) = match tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!(%device, %remote, "connection ended before its stream: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%device, %remote, "no stream within {HELLO_TIMEOUT:?}: closing");
            conn.close(close::PROTOCOL.into(), b"no control stream");
            return;
        }
    };
    let max = u32::try_from(MAX_FRAME_BYTES).unwrap_or(u32::MAX);
    let mut reader = FrameReader::with_max_frame(recv, max);
    let mut writer = FrameWriter::with_max_frame(send, max);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, reader.read_frame()).await {
        Ok(Ok(Some(bytes))) => match decode_uplink(&bytes) {
            Ok(Uplink::Hello(h)) => h,
            Ok(other) => {
                return refuse(
                    &conn,
                    &mut writer,
                    device,
                    format!("first frame must be a hello, got {}", other.kind_name()),
                )
                .await
            }
            Err(e) => return refuse(&conn, &mut writer, device, e.to_string()).await,
        },
        Ok(Ok(None)) => return,
        Ok(Err(e)) => return refuse(&conn, &mut writer, device, e.to_string()).await,
        Err(_) => return refuse(&conn, &mut writer, device, "no hello in time".into()).await,
    };
    if hello.device != device {
        let reason = format!(
            "certificate names device {}, hello claims {}",
            device.0, hello.device.0
        );
        return refuse(&conn, &mut writer, device, reason).await;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Downlink>(DEVICE_QUEUE);
    if inputs
        .send(Input::Connected {
            device,
            conn: conn_id,
            hello,
            tx,
        })
        .is_err()
    {
        conn.close(close::SHUTDOWN.into(), b"controller stopping");
        return;
    }
    // Writer: until the driver drops the queue (connection replaced,
    // closed as slow, or the driver stopped) or a refusal/shutdown is sent.
    let writer_conn = conn.clone();
    let writer_task = tokio::spawn(async move {
        // Everything queued when the writer wakes goes out in one write.
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            let end = batch
                .iter()
                .position(|m| matches!(m, Downlink::Refused { .. } | Downlink::Shutdown { .. }));
            let upto = end.map_or(batch.len(), |i| i + 1);
            let frames: Result<Vec<Vec<u8>>, String> = batch[..upto]
                .iter()
                .map(|m| encode_downlink(m).map_err(|e| e.to_string()))
                .collect();
            let sent = match frames {
                Ok(f) => writer
                    .write_frames(f.iter().map(Vec::as_slice))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::info!(%device, "send failed: {e}");
                break;
            }
            if let Some(i) = end {
                let _ = writer.flush().await;
                let (code, why) = match &batch[i] {
                    Downlink::Refused { reason } => (close::REFUSED, reason.as_str()),
                    Downlink::Shutdown { reason } if mission_over(reason) => {
                        (close::MISSION_OVER, reason.as_str())
                    }
                    Downlink::Shutdown { reason } => (close::SHUTDOWN, reason.as_str()),
                    _ => (close::SHUTDOWN, ""),
                };
                let mut why = why.as_bytes().to_vec();
                why.truncate(1000);
                // Give the frame a moment to reach the peer before closing.
                tokio::time::sleep(Duration::from_millis(50)).await;
                writer_conn.close(code.into(), &why);
                return;
            }
            batch.clear();
        }
        writer_conn.close(
            close::SHUTDOWN.into(),
            b"connection dropped by the controller",
        );
    });
    // Whether the driver stopped taking input (the mission ended): then
    // the writer still has the last word (the shutdown frame and the
    // mission-over close), so it is awaited rather than aborted.
    let mut driver_gone = false;
    loop {
        match reader.read_frame().await {
            Ok(Some(bytes)) => match decode_uplink(&bytes) {
                Ok(Uplink::Hello(_)) => {
                    tracing::warn!(%device, "second hello on one connection: closing");
                    conn.close(close::PROTOCOL.into(), b"second hello");
                    break;
                }
                Ok(msg) => {
                    if inputs
                        .send(Input::Uplink {
                            device,
                            conn: conn_id,
                            msg,
                        })
                        .is_err()
                    {
                        driver_gone = true;
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(%device, %remote, "bad frame, closing the connection: {e}");
                    let reason = format!("bad frame: {e}");
                    conn.close(close::PROTOCOL.into(), reason.as_bytes());
                    break;
                }
            },
            Ok(None) => break,
            Err(e) => {
                tracing::info!(%device, %remote, "connection read ended: {e}");
                conn.close(close::PROTOCOL.into(), e.to_string().as_bytes());
                break;
            }
        }
    }
    let _ = inputs.send(Input::Closed {
        device,
        conn: conn_id,
    });
    if driver_gone {
        let abort = writer_task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), writer_task)
            .await
            .is_err()
        {
            abort.abort();
        }
    } else {
        writer_task.abort();
    }
}

/// Messages the writer sends in one write at most.
const WRITE_BATCH: usize = 256;

/// The driver's last word to every agent names the mission's end.
pub fn mission_over(reason: &str) -> bool {
    reason.starts_with("mission finished") || reason.starts_with("mission aborted")
}

async fn refuse(
    conn: &quinn::Connection,
    writer: &mut FrameWriter<quinn::SendStream>,
    device: DeviceId,
    reason: String,
) {
    tracing::warn!(%device, remote = %conn.remote_address(), "refused: {reason}");
    // The reason travels twice: as a frame and as the close reason, so a
    // peer that loses the frame in the close still learns why.
    let mut why = reason.clone().into_bytes();
    why.truncate(1000);
    let _ = send_frame(writer, &Downlink::Refused { reason }).await;
    let _ = writer.flush().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.close(close::REFUSED.into(), &why);
}

async fn send_frame(
    writer: &mut FrameWriter<quinn::SendStream>,
    msg: &Downlink,
) -> Result<(), String> {
    let bytes = encode_downlink(msg).map_err(|e| e.to_string())?;
    writer.write_frame(&bytes).await.map_err(|e| e.to_string())
}
