//! Figures for hivemind-net on loopback: `cargo bench -p hivemind-net`.
//! Prints medians and tails; asserts nothing about speed.

use std::time::{Duration, Instant};

use hivemind_net::frame::{self, FrameReader, FrameWriter};
use hivemind_net::pki::{self, Validity};
use hivemind_net::quic;
use hivemind_net::tls::{ClientIdentity, ServerIdentity};

const STEP: Duration = Duration::from_secs(10);

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    println!(
        "{name:<44} n={:<5} median {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}",
        xs.len(),
        pct(&xs, 0.5),
        pct(&xs, 0.99),
        xs[xs.len() - 1]
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();

    // PKI operations (what `hivemind certs` costs).
    let (_, t) = time(|| pki::init(d, Validity::days(3650), false).expect("init"));
    println!("{:<44} {t:>9.1?}", "pki::init");
    let none: [&str; 0] = [];
    pki::issue_controller(d, none, Validity::days(365)).expect("controller");
    let mut issue = Vec::new();
    for id in 0..200u32 {
        let (_, t) = time(|| pki::issue_device(d, id, Validity::days(365)).expect("issue"));
        issue.push(t);
    }
    report("pki::issue_device", issue);
    let mut revoke = Vec::new();
    for id in 0..200u32 {
        let (_, t) = time(|| pki::revoke(d, id).expect("revoke"));
        revoke.push(t);
    }
    report("pki::revoke (CRL growing to 200 entries)", revoke);
    let (_, t) = time(|| ServerIdentity::load(d).expect("load"));
    println!("{:<44} {t:>9.1?}", "ServerIdentity::load (200-entry CRL)");
    let id = pki::issue_device(d, 1000, Validity::days(365)).expect("issue");
    let _ = id;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = quic::server(
            "127.0.0.1:0".parse().expect("addr"),
            &ServerIdentity::load(d).expect("server identity"),
        )
        .expect("server");
        let addr = server.local_addr().expect("addr");
        let ep = server.clone();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                tokio::spawn(async move {
                    let Ok(acc) = quic::accept(incoming, STEP).await else {
                        return;
                    };
                    while let Ok((mut tx, mut rx)) = frame::accept_bi(&acc.connection).await {
                        tokio::spawn(async move {
                            while let Ok(Some(m)) = rx.read_frame().await {
                                if tx.write_frame(&m).await.is_err() {
                                    return;
                                }
                            }
                        });
                    }
                });
            }
        });
        let client_id = ClientIdentity::load(d, 1000).expect("client identity");
        let client =
            quic::client("127.0.0.1:0".parse().expect("addr"), &client_id).expect("client");

        // Full mTLS handshakes (new connection each time, same endpoint).
        let mut hs = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            let c = quic::connect(&client, addr, "localhost", STEP)
                .await
                .expect("connect");
            // Count until the server has checked us: first round trip.
            let (mut tx, mut rx) = frame::open_bi(&c).await.expect("open");
            tx.write_frame(b"x").await.expect("write");
            rx.read_frame().await.expect("read").expect("echo");
            hs.push(t.elapsed());
            c.close(0u32.into(), b"");
        }
        report("mTLS connect + first echo (new connection)", hs);

        let c = quic::connect(&client, addr, "localhost", STEP)
            .await
            .expect("connect");
        let (mut tx, mut rx) = frame::open_bi(&c).await.expect("open");
        for size in [64usize, 4096] {
            let msg = vec![7u8; size];
            let mut rtt = Vec::new();
            for _ in 0..2000 {
                let t = Instant::now();
                tx.write_frame(&msg).await.expect("write");
                rx.read_frame().await.expect("read").expect("echo");
                rtt.push(t.elapsed());
            }
            report(&format!("echo round trip, {size} B frame"), rtt);
        }

        // Throughput one way and back (echo): 1 MiB frames.
        let big = vec![3u8; 1 << 20];
        let n = 64usize;
        let t = Instant::now();
        let (mut tx2, mut rx2) = frame::open_bi(&c).await.expect("open");
        let writer = tokio::spawn(async move {
            for _ in 0..n {
                tx2.write_frame(&big).await.expect("write");
            }
            tx2
        });
        for _ in 0..n {
            rx2.read_frame().await.expect("read").expect("echo");
        }
        let _tx2 = writer.await.expect("writer");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{:<44} {:>9.1} MiB/s echoed ({n} x 1 MiB in {secs:.2} s)",
            "QUIC stream throughput",
            n as f64 / secs
        );
        c.close(0u32.into(), b"");

        // Framing alone over an in-memory pipe.
        let (a, b) = tokio::io::duplex(1 << 16);
        let payload = vec![1u8; 16 * 1024];
        let frames = 20_000usize;
        let t = Instant::now();
        let w = tokio::spawn(async move {
            let mut w = FrameWriter::new(a);
            for _ in 0..frames {
                w.write_frame(&payload).await.expect("write");
            }
            w.shutdown().await.expect("shutdown");
        });
        let mut r = FrameReader::new(b);
        let mut got = 0usize;
        while let Some(f) = r.read_frame().await.expect("read") {
            got += f.len();
        }
        w.await.expect("writer");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{:<44} {:>9.1} MiB/s ({} frames of 16 KiB), {:.2} µs/frame",
            "framing over tokio duplex",
            got as f64 / secs / (1 << 20) as f64,
            frames,
            secs * 1e6 / frames as f64
        );
        server.close(0u32.into(), b"");
    });
}
