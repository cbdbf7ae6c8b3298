//! `hivemind certs`: the deployment's certificate authority and the
//! certificates of its controller and devices (`hivemind_net::pki`).

use anyhow::{Context, Result};
use hivemind_net::pki::{self, Validity};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Certs {
    /// Create the deployment CA, its (empty) revocation list and the
    /// controller's certificate in DIR. Refuses to replace an existing CA
    /// unless --force (every issued certificate would stop working).
    Init {
        #[arg(long, default_value = "pki", value_name = "DIR")]
        dir: PathBuf,
        /// Names and addresses the controller is reached by (repeat).
        #[arg(long = "name", value_name = "NAME", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])]
        names: Vec<String>,
        /// Validity of the CA and controller certificates, in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long)]
        force: bool,
    },
    /// Issue device DEVICE's client certificate (its id is in the
    /// certificate; the controller refuses a device claiming another id).
    Issue {
        device: u32,
        #[arg(long, default_value = "pki", value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Revoke device DEVICE's certificates: the controller refuses them
    /// from its next start on.
    Revoke {
        device: u32,
        #[arg(long, default_value = "pki", value_name = "DIR")]
        dir: PathBuf,
    },
}

pub fn run(cmd: Certs) -> Result<ExitCode> {
    match cmd {
        Certs::Init {
            dir,
            names,
            days,
            force,
        } => {
            let r = pki::init(&dir, Validity::days(days), force)
                .with_context(|| format!("certs init in {}", dir.display()))?;
            let c =
                pki::issue_controller(&dir, names.iter().map(String::as_str), Validity::days(days))
                    .context("controller certificate")?;
            println!(
                "CA:         {} (key {})",
                r.ca.cert.display(),
                r.ca.key.display()
            );
            println!("CRL:        {}", r.crl.display());
            println!(
                "controller: {} (key {}) for {}",
                c.cert.display(),
                c.key.display(),
                names.join(", ")
            );
        }
        Certs::Issue { device, dir, days } => {
            let i = pki::issue_device(&dir, device, Validity::days(days))
                .with_context(|| format!("certs issue {device}"))?;
            println!(
                "device {device}: {} (key {}), serial {}",
                i.cert.display(),
                i.key.display(),
                i.serial
            );
        }
        Certs::Revoke { device, dir } => {
            let r = pki::revoke(&dir, device).with_context(|| format!("certs revoke {device}"))?;
            println!(
                "device {device}: {} newly revoked, {} serials in {}",
                r.newly_revoked.len(),
                r.total_revoked,
                r.crl.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
