//! The HiveMind mission language.
//!
//! Phases, each its own module: [`parser`] (text → [`syntax`] AST),
//! [`check`] (AST → [`ir::TaskGraph`] with [`diagnostic`]s), [`format`]
//! (AST → canonical text). [`compile`] runs them for callers.
//!
//! This crate does no IO beyond what callers hand it: it takes `&str` and
//! returns values. See ARCHITECTURE.md for what may depend on it.

pub mod check;
pub mod diagnostic;
pub mod format;
mod lexical;
pub mod parser;
pub mod suggest;
pub mod syntax;
pub mod synthetic;
pub mod units;

pub use diagnostic::{Code, Diagnostic, Severity};
/// The IR this front end lowers to (its own crate, `hivemind-ir`).
pub use hivemind_ir as ir;
pub use hivemind_ir::TaskGraph;

/// Result of compiling a mission: the graph when there were no errors, and
/// every diagnostic in source order.
#[derive(Debug)]
pub struct Compiled {
    pub graph: Option<TaskGraph>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// Parse and check `src` (named `file` in diagnostics and the IR).
pub fn compile(src: &str, file: &str) -> Compiled {
    match parser::parse_all(src) {
        Err(diagnostics) => Compiled {
            graph: None,
            diagnostics,
        },
        Ok(mission) => {
            let c = check::check(&mission, src, file);
            Compiled {
                graph: c.graph,
                diagnostics: c.diagnostics,
            }
        }
    }
}
