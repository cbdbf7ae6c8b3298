use crate::{Backend, BoxFuture, FnError, Worker};

/// Several backends behind one: a name starts on the first backend that
/// has it, e.g. subprocess actions, then registered Rust functions, then
/// the synthetic fallback.
#[derive(Default)]
pub struct Stack {
    backends: Vec<Box<dyn Backend>>,
}

impl Stack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a backend, asked after those added before it.
    pub fn with(mut self, backend: impl Backend + 'static) -> Self {
        self.backends.push(Box::new(backend));
        self
    }
}

impl Backend for Stack {
    fn has(&self, function: &str) -> bool {
        self.backends.iter().any(|b| b.has(function))
    }

    fn start(&self, function: &str) -> BoxFuture<'static, Result<Box<dyn Worker>, FnError>> {
        match self.backends.iter().find(|b| b.has(function)) {
            Some(b) => b.start(function),
            None => {
                let err = FnError::UnknownFunction {
                    function: function.to_string(),
                    known: Vec::new(),
                };
                Box::pin(async move { Err(err) })
            }
        }
    }
}
