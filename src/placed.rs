//! A mission read, checked, scaled to a number of devices and placed by
//! the synthesizer: where `sim`, `up` and `validate` start.

use crate::{input, print_diagnostics, status_line};
use anyhow::{anyhow, Result};
use hivemind_cost::Profile;
use hivemind_ir::plan::Plan;
use hivemind_ir::TaskGraph;
use hivemind_synth::{synthesize, Options, Synthesis};
use std::path::Path;
use std::process::ExitCode;

pub struct Placed {
    pub name: String,
    pub graph: TaskGraph,
    pub profile: Profile,
    pub synthesis: Synthesis,
    pub plan: Plan,
}

/// `Ok(Err(code))` when the mission has errors or no plan fits: the
/// diagnostics are printed and the command exits with `code`.
pub fn place(
    file: &Path,
    devices: Option<u32>,
    profile: Option<&Path>,
) -> Result<Result<Placed, ExitCode>> {
    let name = file.display().to_string();
    let src = input::read_mission(file)?;
    let compiled = hivemind_dsl::compile(&src, &name);
    let Some(mut graph) = compiled.graph else {
        print_diagnostics(&compiled.diagnostics, &name, &src);
        eprintln!("{}", status_line(&name, &compiled.diagnostics));
        return Ok(Err(ExitCode::from(1)));
    };
    if let Some(n) = devices {
        hivemind_sim::scale::scale_fleets(&mut graph, n)?;
    }
    let profile = match profile {
        Some(p) => Profile::from_toml(&input::read_text(p, "profile", 1 << 20)?)
            .map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => Profile::default(),
    };
    let synthesis = synthesize(&graph, profile.clone(), &Options::default())
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let Some(plan) = synthesis.plan.clone() else {
        print_diagnostics(
            &hivemind_synth::report::diagnostics(&graph, &synthesis),
            &name,
            &src,
        );
        eprintln!("{name}: no plan meets the requirements; see `hivemind synth {name}`");
        return Ok(Err(ExitCode::from(1)));
    };
    Ok(Ok(Placed {
        name,
        graph,
        profile,
        synthesis,
        plan,
    }))
}
