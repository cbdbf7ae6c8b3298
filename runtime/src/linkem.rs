//! A user-space link emulator for UDP (QUIC) between an agent and the
//! controller: what `tc netem` would do, here where the kernel cannot.
//!
//! Each direction is a FIFO at a rate: a datagram leaves when the link is
//! free and has been serialized (`bytes × 8 / bps`), and arrives `latency`
//! after that; a lost datagram is dropped after taking its airtime (the
//! sender's radio spent it). This is the simulator's link model
//! (`hivemind_sim::radio::Link`) at datagram granularity, so a run through
//! these proxies and a simulated run have the same links. A [`Wire`] can be
//! shared by several proxies and both directions: one radio channel for a
//! whole fleet (`radio … shared`).
//!
//! One proxy serves one client (the agent): it listens on a loopback port
//! and forwards to the controller from its own socket, so the controller
//! sees one address per agent.

use std::net::SocketAddr;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A link (or a shared channel): its rate, latency and loss.
pub struct Wire {
    bps: u64,
    latency: Duration,
    loss_permille: u32,
    state: Mutex<WireState>,
}

struct WireState {
    busy_until: Instant,
    rng: u64,
    /// Datagrams and bytes carried, and dropped.
    carried: (u64, u64),
    lost: u64,
}

/// What a wire carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    pub datagrams: u64,
    pub bytes: u64,
    pub lost: u64,
}

impl Wire {
    pub fn new(bps: u64, latency: Duration, loss_permille: u32, seed: u64) -> Arc<Wire> {
        Arc::new(Wire {
            bps: bps.max(1),
            latency,
            loss_permille: loss_permille.min(1000),
            state: Mutex::new(WireState {
                busy_until: Instant::now(),
                rng: seed | 1,
                carried: (0, 0),
                lost: 0,
            }),
        })
    }

    /// When a datagram of `bytes` handed over now arrives (`None`: lost).
    fn schedule(&self, bytes: usize) -> Option<Instant> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let air_ns = (bytes as u128 * 8 * 1_000_000_000).div_ceil(u128::from(self.bps));
        let start = st.busy_until.max(now);
        let done = start + Duration::from_nanos(u64::try_from(air_ns).unwrap_or(u64::MAX));
        st.busy_until = done;
        // xorshift64: deterministic per seed and datagram order.
        st.rng ^= st.rng << 13;
        st.rng ^= st.rng >> 7;
        st.rng ^= st.rng << 17;
        if (st.rng % 1000) < u64::from(self.loss_permille) {
            st.lost += 1;
            return None;
        }
        st.carried.0 += 1;
        st.carried.1 += bytes as u64;
        Some(done + self.latency)
    }

    pub fn stats(&self) -> WireStats {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        WireStats {
            datagrams: st.carried.0,
            bytes: st.carried.1,
            lost: st.lost,
        }
    }
}

/// A running proxy; dropping it stops it (its receiving tasks end, and
/// with them the senders its delivery threads wait on: those threads then
/// end by themselves).
pub struct Proxy {
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A proxy on a loopback port that forwards to `upstream` through `up`
/// (client → upstream) and `down` (upstream → client).
pub async fn proxy(upstream: SocketAddr, up: Arc<Wire>, down: Arc<Wire>) -> std::io::Result<Proxy> {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    back.connect(upstream).await?;
    let addr = front.local_addr()?;
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let (up_tx, up_rx) = std_mpsc::channel::<(Instant, Vec<u8>)>();
    let (down_tx, down_rx) = std_mpsc::channel::<(Instant, Vec<u8>)>();
    let mut tasks = Vec::new();
    {
        let (front, client) = (front.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                *client.lock().unwrap_or_else(|e| e.into_inner()) = Some(from);
                if let Some(at) = up.schedule(n) {
                    let _ = up_tx.send((at, buf[..n].to_vec()));
                }
            }
        }));
    }
    {
        let back = back.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = back.recv(&mut buf).await {
                if let Some(at) = down.schedule(n) {
                    let _ = down_tx.send((at, buf[..n].to_vec()));
                }
            }
        }));
    }
    // Delivery on threads of their own: tokio's timer wheel ticks in
    // milliseconds, so a datagram held by `sleep_until` arrived up to a
    // millisecond late, about one per hop on an emulated path (S6's 16 ms
    // path has three); a thread's `nanosleep` is within ~0.1 ms. They send
    // through duplicates of the proxy's sockets (same ports).
    let back_tx = std_socket(&back)?;
    let front_tx = std_socket(&front)?;
    deliver("linkem-up", up_rx, move |d| {
        let _ = back_tx.send(&d);
    })?;
    deliver("linkem-down", down_rx, move |d| {
        let to = *client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(to) = to {
            let _ = front_tx.send_to(&d, to);
        }
    })?;
    Ok(Proxy { addr, tasks })
}

/// A duplicate of `socket` (the same port), for a delivery thread. Sends
/// on it may meet `WouldBlock` (the socket is non-blocking):
/// a datagram dropped then is a full socket buffer, as on a real link.
fn std_socket(socket: &UdpSocket) -> std::io::Result<std::net::UdpSocket> {
    use std::os::fd::AsFd;
    Ok(std::net::UdpSocket::from(
        socket.as_fd().try_clone_to_owned()?,
    ))
}

/// Sends each datagram at its arrival time, in order (arrival times of one
/// queue never decrease: the wire is FIFO); the thread ends when its
/// queue's sender is dropped (the proxy stopped).
fn deliver<F>(
    name: &str,
    rx: std_mpsc::Receiver<(Instant, Vec<u8>)>,
    send: F,
) -> std::io::Result<()>
where
    F: Fn(Vec<u8>) + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            while let Ok((at, d)) = rx.recv() {
                let at = at.into_std();
                let now = std::time::Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                send(d);
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_datagram_takes_its_airtime_plus_latency_and_queues_behind_others() {
        let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up = Wire::new(8_000_000, Duration::from_millis(20), 0, 1); // 1 byte per µs
        let down = Wire::new(8_000_000, Duration::from_millis(20), 0, 2);
        let p = proxy(sink.local_addr().unwrap(), up.clone(), down)
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let t0 = std::time::Instant::now();
        for _ in 0..5 {
            client.send_to(&[7u8; 10_000], p.addr).await.unwrap();
        }
        let mut buf = vec![0u8; 20_000];
        let mut arrivals = Vec::new();
        for _ in 0..5 {
            let n = sink.recv(&mut buf).await.unwrap();
            assert_eq!(n, 10_000);
            arrivals.push(t0.elapsed());
        }
        // 10 ms of airtime each, 20 ms latency: the 1st at ~30 ms, the 5th at ~70 ms.
        assert!(arrivals[0] >= Duration::from_millis(29), "{arrivals:?}");
        assert!(arrivals[4] >= Duration::from_millis(69), "{arrivals:?}");
        assert!(arrivals[4] < Duration::from_millis(200), "{arrivals:?}");
        assert_eq!(up.stats().datagrams, 5);
        assert_eq!(up.stats().bytes, 50_000);
    }

    #[tokio::test]
    async fn replies_go_back_to_the_client() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let wire = || Wire::new(1_000_000_000, Duration::from_millis(1), 0, 3);
        let p = proxy(server.local_addr().unwrap(), wire(), wire())
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"ping", p.addr).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, back) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        server.send_to(b"pong", back).await.unwrap();
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"pong"[..], p.addr));
    }

    #[tokio::test]
    async fn loss_drops_the_stated_share_deterministically() {
        let wire = Wire::new(1_000_000_000, Duration::ZERO, 100, 42);
        let lost = (0..10_000).filter(|_| wire.schedule(100).is_none()).count();
        assert!((800..1200).contains(&lost), "{lost} of 10000 lost at 10%");
        let again = Wire::new(1_000_000_000, Duration::ZERO, 100, 42);
        let lost2 = (0..10_000)
            .filter(|_| again.schedule(100).is_none())
            .count();
        assert_eq!(lost, lost2, "same seed, same losses");
    }
}
