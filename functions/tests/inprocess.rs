//! The in-process backend and the synthetic family, run for real on a
//! tokio runtime.

use hivemind_functions::synthetic::{self, Clock, SyntheticParams};
use hivemind_functions::{
    Backend, Ctx, FnError, HandlerResult, InProcess, Registry, Request, Response, Stack, Worker,
};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn upper(_: &Ctx, req: &Request) -> HandlerResult {
    Ok(Response::new(
        req.input.to_ascii_uppercase(),
        req.input_items + 1,
    ))
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("upper", upper);
    r.register("boom", |_: &Ctx, req: &Request| {
        if req.instance == 7 {
            panic!("instance 7 is cursed");
        }
        Ok(Response::new(&b"fine"[..], 1))
    });
    r.register_inline("quick_upper", upper);
    r.register_inline("quick_boom", |_: &Ctx, _: &Request| -> HandlerResult {
        panic!("inline panic")
    });
    r.register("fails", |_: &Ctx, _: &Request| {
        Err("no trees in frame".into())
    });
    r.register("nap", |_: &Ctx, req: &Request| {
        std::thread::sleep(Duration::from_millis(50));
        Ok(Response::new(req.instance.to_le_bytes().to_vec(), 1))
    });
    r
}

fn req(function: &str, instance: u64, input: &'static [u8]) -> Request {
    let mut r = Request::new(function, 1, instance);
    r.input = bytes::Bytes::from_static(input);
    r.input_items = 2;
    r
}

#[tokio::test]
async fn calls_a_registered_function_warm() {
    let backend = InProcess::new(registry());
    assert!(backend.has("upper") && backend.has("synthetic") && !backend.has("nope"));
    let worker = backend.start("upper").await.unwrap();
    assert_eq!(worker.function(), "upper");
    for i in 0..3 {
        let resp = worker.invoke(req("upper", i, b"tree")).await.unwrap();
        assert_eq!(resp, Response::new(&b"TREE"[..], 3));
    }
    assert!(worker.is_alive());
    worker.stop().await;
    assert!(!worker.is_alive());
    let err = worker.invoke(req("upper", 9, b"x")).await.unwrap_err();
    assert!(matches!(err, FnError::WorkerDead { .. }), "{err}");
}

#[tokio::test]
async fn unknown_function_is_a_clear_error() {
    let backend = InProcess::new(registry());
    let err = backend.start("uper").await.err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, FnError::UnknownFunction { .. }));
    assert!(text.contains("unknown function `uper`"), "{text}");
    assert!(text.contains("upper"), "names the known ones: {text}");
}

#[tokio::test]
async fn a_panic_is_an_error_and_the_worker_lives_on() {
    let backend = InProcess::new(registry());
    let worker = backend.start("boom").await.unwrap();
    let err = worker.invoke(req("boom", 7, b"")).await.unwrap_err();
    assert!(
        matches!(&err, FnError::Panicked { message, .. } if message == "instance 7 is cursed"),
        "{err}"
    );
    // The process, the runtime and the worker survived.
    let ok = worker.invoke(req("boom", 8, b"")).await.unwrap();
    assert_eq!(&ok.output[..], b"fine");
    assert!(worker.is_alive());
}

#[tokio::test]
async fn inline_functions_run_on_the_calling_task() {
    let backend = InProcess::new(registry());
    let w = backend.start("quick_upper").await.unwrap();
    let r = w.invoke(req("quick_upper", 1, b"tree")).await.unwrap();
    assert_eq!(r, Response::new(&b"TREE"[..], 3));
    let w = backend.start("quick_boom").await.unwrap();
    let err = w.invoke(req("quick_boom", 1, b"")).await.unwrap_err();
    assert!(
        matches!(&err, FnError::Panicked { message, .. } if message == "inline panic"),
        "{err}"
    );
    assert!(
        w.invoke(req("quick_boom", 2, b"")).await.is_err(),
        "still callable"
    );
}

#[tokio::test]
async fn a_returned_error_is_failed() {
    let backend = InProcess::new(registry());
    let worker = backend.start("fails").await.unwrap();
    let err = worker.invoke(req("fails", 1, b"")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "function `fails` failed: no trees in frame"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_run_at_once() {
    let backend = InProcess::new(registry());
    let worker: Arc<dyn Worker> = Arc::from(backend.start("nap").await.unwrap());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..32u64 {
        let w = worker.clone();
        tasks.push(tokio::spawn(async move {
            (i, w.invoke(req("nap", i, b"")).await)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        assert_eq!(r.unwrap().output[..], i.to_le_bytes());
    }
    // 32 × 50 ms one after another would be 1.6 s; sleeping threads overlap.
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(800), "took {took:?}");
}

#[tokio::test]
async fn a_factory_gives_each_worker_its_own_state() {
    let made = Arc::new(AtomicU32::new(0));
    let mut r = Registry::new();
    let m = made.clone();
    r.register_factory("count", move || {
        m.fetch_add(1, Ordering::SeqCst);
        let calls = AtomicU32::new(0);
        Ok(move |_: &Ctx, _: &Request| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Response::new(n.to_le_bytes().to_vec(), n))
        })
    });
    r.register_factory(
        "bad_start",
        || -> Result<fn(&Ctx, &Request) -> HandlerResult, FnError> { panic!("model file missing") },
    );
    let backend = InProcess::new(r);
    let a = backend.start("count").await.unwrap();
    let b = backend.start("count").await.unwrap();
    assert_eq!(
        made.load(Ordering::SeqCst),
        2,
        "one factory call per cold start"
    );
    for _ in 0..3 {
        a.invoke(req("count", 1, b"")).await.unwrap();
    }
    assert_eq!(a.invoke(req("count", 1, b"")).await.unwrap().items, 4);
    assert_eq!(b.invoke(req("count", 1, b"")).await.unwrap().items, 1);
    let err = backend.start("bad_start").await.err().unwrap();
    assert!(
        matches!(&err, FnError::Panicked { message, .. } if message == "model file missing"),
        "{err}"
    );
}

fn synth(params: &SyntheticParams, deadline: Duration) -> Request {
    let mut r = Request::new("tree_detect", 4, 99);
    r.params = params.to_value();
    r.input_items = 3;
    r.deadline = deadline;
    r
}

#[tokio::test]
async fn synthetic_does_the_declared_work() {
    let backend = InProcess::new(Registry::new());
    assert!(!backend.has("tree_detect"));
    let err = backend.start("tree_detect").await.err().unwrap();
    assert!(matches!(err, FnError::UnknownFunction { .. }));

    let backend = backend.with_synthetic_fallback(true);
    let worker = backend.start("tree_detect").await.unwrap();
    assert_eq!(worker.function(), "tree_detect");
    // 1 ms + (2 M ops + 3 items × 1 M ops) at 250 Mop/s = 1 + 20 ms of CPU.
    let p = SyntheticParams {
        busy_us: 1_000,
        ops: 2_000_000,
        ops_per_item: 1_000_000,
        ops_per_sec: 250_000_000,
        output_bytes: 5_000,
        output_items: Some(6),
        ..Default::default()
    };
    let t0 = Instant::now();
    let r = worker
        .invoke(synth(&p, Duration::from_secs(10)))
        .await
        .unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(21), "busy for {took:?}");
    assert_eq!((r.output.len(), r.items), (5_000, 6));
    // Same instance, same bytes: a relaunched attempt's output is identical.
    let again = worker
        .invoke(synth(&p, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(r.output, again.output);
    let mut other = synth(&p, Duration::from_secs(10));
    other.instance = 100;
    assert_ne!(worker.invoke(other).await.unwrap().output, r.output);
    // The family's own name works without the fallback.
    let plain = InProcess::new(Registry::new());
    let w = plain.start(synthetic::NAME).await.unwrap();
    let r = w.invoke(Request::new(synthetic::NAME, 0, 0)).await.unwrap();
    assert_eq!((r.output.len(), r.items), (0, 1));
}

#[tokio::test]
async fn synthetic_refuses_bad_parameters_and_can_fail() {
    let backend = InProcess::new(Registry::new());
    let w = backend.start(synthetic::NAME).await.unwrap();
    let mut r = Request::new(synthetic::NAME, 0, 0);
    r.params = serde_json::json!({"busy_ms": 3});
    let err = w.invoke(r.clone()).await.unwrap_err();
    assert!(matches!(err, FnError::BadParams { .. }), "{err}");
    assert!(err.to_string().contains("busy_ms"), "{err}");
    r.params = serde_json::json!({"ops": 10});
    assert!(w
        .invoke(r.clone())
        .await
        .unwrap_err()
        .to_string()
        .contains("rate"));
    r.params = serde_json::json!({"output_bytes": 1u64 << 40});
    assert!(w
        .invoke(r.clone())
        .await
        .unwrap_err()
        .to_string()
        .contains("limit"));
    r.params = serde_json::json!({"fail": "injected"});
    let err = w.invoke(r).await.unwrap_err();
    assert_eq!(err.to_string(), "function `synthetic` failed: injected");
}

#[tokio::test]
async fn a_deadline_stops_a_long_synthetic_invocation() {
    let backend = InProcess::new(Registry::new());
    let w = backend.start(synthetic::NAME).await.unwrap();
    let p = SyntheticParams {
        busy_us: 30_000_000,
        clock: Clock::Wall,
        ..Default::default()
    };
    let t0 = Instant::now();
    let err = w
        .invoke(synth(&p, Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(matches!(err, FnError::Timeout { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    // The worker is still good.
    let ok = w
        .invoke(synth(&SyntheticParams::default(), Duration::from_secs(1)))
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn dropping_an_invocation_tells_the_function() {
    let stopped = Arc::new(AtomicBool::new(false));
    let s = stopped.clone();
    let mut r = Registry::new();
    r.register("loop", move |ctx: &Ctx, _: &Request| {
        // Bounded: a broken cancellation fails the test instead of hanging.
        for _ in 0..1000 {
            if ctx.check().is_err() {
                s.store(true, Ordering::SeqCst);
                return Err(ctx.check().unwrap_err().into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Response::default())
    });
    let backend = InProcess::new(r);
    let w = backend.start("loop").await.unwrap();
    let call = w.invoke(req("loop", 1, b""));
    // Run it a little, then cancel it by dropping it.
    let _ = tokio::time::timeout(Duration::from_millis(50), call).await;
    for _ in 0..200 {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the function never saw the cancellation");
}

#[tokio::test]
async fn a_stack_asks_backends_in_order() {
    let mut first = Registry::new();
    first.register("upper", |_: &Ctx, _: &Request| {
        Ok(Response::new(&b"first"[..], 1))
    });
    let stack = Stack::new()
        .with(InProcess::new(first))
        .with(InProcess::new(registry()).with_synthetic_fallback(true));
    let w = stack.start("upper").await.unwrap();
    assert_eq!(
        &w.invoke(req("upper", 1, b"a")).await.unwrap().output[..],
        b"first"
    );
    let w = stack.start("fails").await.unwrap();
    assert!(w.invoke(req("fails", 1, b"")).await.is_err());
    let w = stack.start("never_written").await.unwrap();
    assert_eq!(
        w.invoke(req("never_written", 1, b"")).await.unwrap().items,
        1
    );
    let empty = Stack::new();
    assert!(matches!(
        empty.start("x").await.err().unwrap(),
        FnError::UnknownFunction { .. }
    ));
}
