//! Shared by the dsl's test files: every diagnostic of a compile as one
//! line each (code, message, help), for assertion messages.

use hivemind_dsl::Compiled;

pub fn messages(out: &Compiled) -> String {
    out.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}: {} [help: {}]\n",
                d.code,
                d.message,
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect()
}
