//! Warm workers kept by key, for a caller that runs invocations itself
//! (the edge agent: one per function; the controller's pool: guests
//! beside a parent's worker), and one invocation mapped to what a result
//! carries.

use crate::{Backend, Request, Worker};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Warm workers by key; a dead one is replaced on next use.
pub struct WarmWorkers<K> {
    map: tokio::sync::Mutex<BTreeMap<K, Arc<dyn Worker>>>,
}

impl<K: Ord> Default for WarmWorkers<K> {
    fn default() -> Self {
        WarmWorkers {
            map: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Ord> WarmWorkers<K> {
    /// The warm worker of `function` under `key`, started (a cold start)
    /// when there is none or the last one died.
    pub async fn get(
        &self,
        key: K,
        backend: &dyn Backend,
        function: &str,
    ) -> Result<Arc<dyn Worker>, String> {
        let mut map = self.map.lock().await;
        if let Some(w) = map.get(&key).filter(|w| w.is_alive()) {
            return Ok(w.clone());
        }
        let w: Arc<dyn Worker> =
            Arc::from(backend.start(function).await.map_err(|e| e.to_string())?);
        map.insert(key, w.clone());
        Ok(w)
    }

    /// Stop and forget the workers whose key matches.
    pub async fn stop_where(&self, doomed: impl Fn(&K) -> bool) {
        let gone: Vec<Arc<dyn Worker>> = {
            let mut map = self.map.lock().await;
            let mut gone = Vec::new();
            map.retain(|k, w| {
                let stop = doomed(k);
                if stop {
                    gone.push(w.clone());
                }
                !stop
            });
            gone
        };
        for w in gone {
            w.stop().await;
        }
    }
}

/// Run `req` on `worker` (or pass on why there is none): the output and
/// its item count, or the error as text (what a result message carries).
pub async fn invoke(
    worker: Result<Arc<dyn Worker>, String>,
    req: Request,
) -> Result<(Bytes, u32), String> {
    worker?
        .invoke(req)
        .await
        .map(|r| (r.output, r.items))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, InProcess, Registry, Response};

    fn backend() -> InProcess {
        let mut r = Registry::new();
        r.register_inline("echo", |_: &Ctx, req: &Request| {
            Ok(Response::new(req.input.clone(), 1))
        });
        InProcess::new(r)
    }

    #[tokio::test]
    async fn a_worker_is_reused_until_stopped_and_errors_are_text() {
        let b = backend();
        let warm = WarmWorkers::<u32>::default();
        let a = warm.get(1, &b, "echo").await.unwrap();
        let again = warm.get(1, &b, "echo").await.unwrap();
        assert!(Arc::ptr_eq(&a, &again), "the warm worker is reused");
        let mut req = Request::new("echo", 0, 1);
        req.input = Bytes::from_static(b"hi");
        assert_eq!(
            invoke(Ok(a.clone()), req).await,
            Ok((Bytes::from_static(b"hi"), 1))
        );
        warm.stop_where(|k| *k == 1).await;
        assert!(!a.is_alive());
        let fresh = warm.get(1, &b, "echo").await.unwrap();
        assert!(!Arc::ptr_eq(&a, &fresh), "a stopped worker is replaced");
        let missing = warm.get(2, &b, "nope").await.map(|_| ());
        assert!(missing.is_err());
        let err = invoke(Err("no worker".into()), Request::new("echo", 0, 2)).await;
        assert_eq!(err, Err("no worker".into()));
    }
}
