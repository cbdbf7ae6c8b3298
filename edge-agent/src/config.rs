//! `hive-agent`'s configuration: the `[agent]` table of a deployment file
//! (`--config FILE` or `HIVEMIND_AGENT_CONFIG`) and `HIVEMIND_AGENT_*`
//! variables. Precedence, highest first: flag, variable, file, default.
//!
//! ```toml
//! [agent]
//! controller = "10.0.0.1:7000"
//! server_name = "hivemind.example"
//! pki = "pki"                 # or ca / cert / key
//! device = 3
//! mission = "tree_recognition"
//! fleet = "drones"
//! class = "drone"
//! state_dir = "/var/lib/hive-agent"
//! model_dir = "/var/lib/hive-agent/models"
//! max_backoff = "5 s"
//! give_up_after = "10 min"
//! stay = false
//! [agent.functions.detect]    # as the controller's [functions.NAME]
//! exec = "./detect.py"
//! mode = "persistent"
//! ```
//!
//! The controller's tables (`[controller]`, `[core]`, `[functions]`) may
//! be in the same file; the agent skips them (the controller checks them).
//! Relative paths in the file are taken from the file's directory.

use hivemind_functions::config::{
    named, parse_duration, read_file, FileError, FunctionConfig, Time,
};
use hivemind_functions::Backend;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The variable naming a config file when `--config` is not given.
pub const ENV_CONFIG: &str = "HIVEMIND_AGENT_CONFIG";

/// The variables [`AgentSettings::from_env`] reads, with their keys.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("HIVEMIND_AGENT_CONTROLLER", "controller"),
    ("HIVEMIND_AGENT_SERVER_NAME", "server_name"),
    ("HIVEMIND_AGENT_PKI", "pki"),
    ("HIVEMIND_AGENT_CA", "ca"),
    ("HIVEMIND_AGENT_CERT", "cert"),
    ("HIVEMIND_AGENT_KEY", "key"),
    ("HIVEMIND_AGENT_DEVICE", "device"),
    ("HIVEMIND_AGENT_MISSION", "mission"),
    ("HIVEMIND_AGENT_FLEET", "fleet"),
    ("HIVEMIND_AGENT_CLASS", "class"),
    ("HIVEMIND_AGENT_STATE_DIR", "state_dir"),
    ("HIVEMIND_AGENT_MODEL_DIR", "model_dir"),
    ("HIVEMIND_AGENT_MAX_BACKOFF", "max_backoff"),
    ("HIVEMIND_AGENT_GIVE_UP_AFTER", "give_up_after"),
];

/// The `[agent]` table; every key optional (unset: the next source).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Controller address, `host:port`.
    pub controller: Option<String>,
    /// The name the controller's certificate must carry.
    pub server_name: Option<String>,
    pub pki: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub device: Option<u32>,
    pub mission: Option<String>,
    pub fleet: Option<String>,
    /// `drone` or `car`.
    pub class: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub model_dir: Option<PathBuf>,
    pub max_backoff: Option<Time>,
    pub give_up_after: Option<Time>,
    pub stay: Option<bool>,
    /// Device functions as subprocesses (file only).
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config file {path}: {key}: {detail}")]
    Value {
        path: String,
        key: String,
        detail: String,
    },
    #[error("environment {var}={value:?}: {detail}")]
    Env {
        var: String,
        value: String,
        detail: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    agent: AgentSettings,
    // The controller's tables: checked by `hivemind up`.
    #[serde(default)]
    #[allow(dead_code)]
    controller: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    core: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    functions: Option<serde::de::IgnoredAny>,
}

/// A loaded `[agent]` table and where its relative paths start.
#[derive(Debug, Clone, Default)]
pub struct AgentFile {
    pub path: Option<PathBuf>,
    pub settings: AgentSettings,
    pub base: PathBuf,
}

impl AgentFile {
    /// The file named by `--config`, else by `HIVEMIND_AGENT_CONFIG`, else none.
    pub fn find(
        flag: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AgentFile, AgentConfigError> {
        match named(flag, ENV_CONFIG, lookup) {
            Some(p) => Self::load(&p),
            None => Ok(AgentFile {
                base: PathBuf::from("."),
                ..AgentFile::default()
            }),
        }
    }

    pub fn load(path: &Path) -> Result<AgentFile, AgentConfigError> {
        let shown = path.display().to_string();
        let (text, base) = read_file(path).map_err(|e| match e {
            FileError::Read(source) => AgentConfigError::Read {
                path: shown.clone(),
                source,
            },
            FileError::TooLarge(size) => AgentConfigError::Parse {
                path: shown.clone(),
                message: format!("{size} bytes is too large for a config file"),
            },
            FileError::NotUtf8(at) => AgentConfigError::Parse {
                path: shown.clone(),
                message: format!("not UTF-8 text (byte {at})"),
            },
        })?;
        Self::parse(&text, &shown, &base)
    }

    pub fn parse(text: &str, shown: &str, base: &Path) -> Result<AgentFile, AgentConfigError> {
        let file: File = toml::from_str(text).map_err(|e| AgentConfigError::Parse {
            path: shown.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut s = file.agent;
        for p in [
            &mut s.pki,
            &mut s.ca,
            &mut s.cert,
            &mut s.key,
            &mut s.state_dir,
            &mut s.model_dir,
        ]
        .into_iter()
        .flatten()
        {
            *p = base.join(&*p);
        }
        let value = |key: String, detail: String| AgentConfigError::Value {
            path: shown.to_string(),
            key,
            detail,
        };
        if let Some(c) = s
            .class
            .as_deref()
            .filter(|c| !matches!(*c, "drone" | "car"))
        {
            return Err(value(
                "agent.class".into(),
                format!("unknown device class `{c}` (drone or car)"),
            ));
        }
        for (name, f) in &s.functions {
            f.to_action(name, base)
                .map_err(|e| value(format!("agent.functions.{name}.{}", e.key), e.detail))?;
        }
        Ok(AgentFile {
            path: Some(PathBuf::from(shown)),
            settings: s,
            base: base.to_path_buf(),
        })
    }

    /// The agent's functions: `[agent.functions.NAME]` as subprocesses,
    /// then in-process functions with the synthetic fallback.
    pub fn backend(&self) -> Result<Arc<dyn Backend>, AgentConfigError> {
        hivemind_functions::config::backend(&self.settings.functions, &self.base).map_err(|e| {
            AgentConfigError::Value {
                path: self
                    .path
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.display().to_string()),
                key: format!("agent.functions.{}.{}", e.function, e.key),
                detail: e.detail,
            }
        })
    }
}

impl AgentSettings {
    /// Each key from `self`, else from `lower` (functions: the file's).
    pub fn or(self, lower: AgentSettings) -> AgentSettings {
        AgentSettings {
            controller: self.controller.or(lower.controller),
            server_name: self.server_name.or(lower.server_name),
            pki: self.pki.or(lower.pki),
            ca: self.ca.or(lower.ca),
            cert: self.cert.or(lower.cert),
            key: self.key.or(lower.key),
            device: self.device.or(lower.device),
            mission: self.mission.or(lower.mission),
            fleet: self.fleet.or(lower.fleet),
            class: self.class.or(lower.class),
            state_dir: self.state_dir.or(lower.state_dir),
            model_dir: self.model_dir.or(lower.model_dir),
            max_backoff: self.max_backoff.or(lower.max_backoff),
            give_up_after: self.give_up_after.or(lower.give_up_after),
            stay: self.stay.or(lower.stay),
            functions: if self.functions.is_empty() {
                lower.functions
            } else {
                self.functions
            },
        }
    }

    /// The settings the `HIVEMIND_AGENT_*` variables give ([`ENV_VARS`]).
    /// An empty variable counts as unset.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AgentSettings, AgentConfigError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let bad = |var: &str, value: &str, detail: String| AgentConfigError::Env {
            var: var.to_string(),
            value: value.to_string(),
            detail,
        };
        let time = |var: &str| -> Result<Option<Time>, AgentConfigError> {
            get(var)
                .map(|v| parse_duration(&v).map(Time).map_err(|e| bad(var, &v, e)))
                .transpose()
        };
        let path = |var: &str| get(var).map(PathBuf::from);
        let device = get("HIVEMIND_AGENT_DEVICE")
            .map(|v| {
                v.trim().parse::<u32>().map_err(|_| {
                    bad(
                        "HIVEMIND_AGENT_DEVICE",
                        &v,
                        "expected a device id (a whole number)".into(),
                    )
                })
            })
            .transpose()?;
        let class = get("HIVEMIND_AGENT_CLASS");
        if let Some(c) = class.as_deref().filter(|c| !matches!(*c, "drone" | "car")) {
            return Err(bad(
                "HIVEMIND_AGENT_CLASS",
                c,
                "expected drone or car".into(),
            ));
        }
        Ok(AgentSettings {
            controller: get("HIVEMIND_AGENT_CONTROLLER"),
            server_name: get("HIVEMIND_AGENT_SERVER_NAME"),
            pki: path("HIVEMIND_AGENT_PKI"),
            ca: path("HIVEMIND_AGENT_CA"),
            cert: path("HIVEMIND_AGENT_CERT"),
            key: path("HIVEMIND_AGENT_KEY"),
            device,
            mission: get("HIVEMIND_AGENT_MISSION"),
            fleet: get("HIVEMIND_AGENT_FLEET"),
            class,
            state_dir: path("HIVEMIND_AGENT_STATE_DIR"),
            model_dir: path("HIVEMIND_AGENT_MODEL_DIR"),
            max_backoff: time("HIVEMIND_AGENT_MAX_BACKOFF")?,
            give_up_after: time("HIVEMIND_AGENT_GIVE_UP_AFTER")?,
            stay: None,
            functions: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(text: &str) -> Result<AgentFile, AgentConfigError> {
        AgentFile::parse(text, "agent.toml", Path::new("/etc/hive"))
    }

    fn err(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    const FULL: &str = r#"
[controller]
listen = "whatever: the controller checks it"
[core]
tick_us = 1
[functions.x]
exec = "not checked here"

[agent]
controller = "127.0.0.1:7000"
server_name = "localhost"
pki = "pki"
device = 3
mission = "m"
fleet = "drones"
class = "car"
state_dir = "state"
model_dir = "/models"
max_backoff = "2 s"
give_up_after = "1 min"
stay = true
[agent.functions.detect]
exec = "sh"
mode = "one-shot"
"#;

    #[test]
    fn full_file() {
        let f = parse(FULL).expect("parses");
        let s = &f.settings;
        assert_eq!(s.controller.as_deref(), Some("127.0.0.1:7000"));
        assert_eq!(s.pki, Some(PathBuf::from("/etc/hive/pki")));
        assert_eq!(s.state_dir, Some(PathBuf::from("/etc/hive/state")));
        assert_eq!(s.model_dir, Some(PathBuf::from("/models")));
        assert_eq!(s.device, Some(3));
        assert_eq!(s.class.as_deref(), Some("car"));
        assert_eq!(s.max_backoff, Some(Time(Duration::from_secs(2))));
        assert_eq!(s.give_up_after, Some(Time(Duration::from_secs(60))));
        assert_eq!(s.stay, Some(true));
        assert!(f.backend().expect("backend").has("detect"));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        for (text, needle) in [
            ("[agent]\ndevise = 3\n", "devise"),
            ("[agents]\n", "agents"),
            ("[agent]\ndevice = \"three\"\n", "device"),
            ("[agent]\ndevice = -3\n", "device"),
            ("[agent]\nmax_backoff = 5\n", "max_backoff"),
            ("[agent]\nmax_backoff = \"5 m\"\n", "min"),
            ("[agent]\nclass = \"boat\"\n", "agent.class"),
            ("[agent]\nstay = \"yes\"\n", "stay"),
            (
                "[agent.functions.d]\nexec = \"./nope\"\n",
                "agent.functions.d.exec",
            ),
            (
                "[agent.functions.d]\nexec = \"sh\"\nmemmory_mb = 1\n",
                "memmory_mb",
            ),
            ("[agent", "agent"),
            ("[agent]\ncontroller = \"127.0.", "line 2"),
            ("\u{1}\u{2}garbage", "agent.toml"),
        ] {
            let e = err(text);
            assert!(e.starts_with("config file agent.toml: "), "{e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        for i in 0..FULL.len() {
            if FULL.is_char_boundary(i) {
                let _ = parse(&FULL[..i]);
            }
        }
    }

    #[test]
    fn precedence_and_env() {
        let file = parse("[agent]\ndevice = 1\nfleet = \"f\"\nmission = \"m\"\n")
            .expect("file")
            .settings;
        let env = AgentSettings::from_env(|v| match v {
            "HIVEMIND_AGENT_DEVICE" => Some("2".into()),
            "HIVEMIND_AGENT_FLEET" => Some("g".into()),
            "HIVEMIND_AGENT_MAX_BACKOFF" => Some("250 ms".into()),
            _ => None,
        })
        .expect("env");
        let flags = AgentSettings {
            device: Some(3),
            ..AgentSettings::default()
        };
        let s = flags.or(env).or(file);
        assert_eq!(s.device, Some(3));
        assert_eq!(s.fleet.as_deref(), Some("g"));
        assert_eq!(s.mission.as_deref(), Some("m"));
        assert_eq!(s.max_backoff, Some(Time(Duration::from_millis(250))));
        for (var, bad) in [
            ("HIVEMIND_AGENT_DEVICE", "x"),
            ("HIVEMIND_AGENT_CLASS", "boat"),
            ("HIVEMIND_AGENT_MAX_BACKOFF", "5"),
            ("HIVEMIND_AGENT_GIVE_UP_AFTER", "5 m"),
        ] {
            let e = AgentSettings::from_env(|v| (v == var).then(|| bad.to_string()))
                .expect_err(var)
                .to_string();
            assert!(e.starts_with(&format!("environment {var}=")), "{e}");
        }
        assert_eq!(ENV_VARS.len(), 14);
    }

    #[test]
    fn files_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.toml");
        assert!(AgentFile::load(&p).is_err());
        std::fs::write(&p, [0xc3, 0x28]).expect("write");
        assert!(AgentFile::load(&p)
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        std::fs::write(&p, "[agent]\nstate_dir = \"s\"\n").expect("write");
        let f = AgentFile::find(None, |v| (v == ENV_CONFIG).then(|| p.display().to_string()))
            .expect("found");
        assert_eq!(f.settings.state_dir, Some(dir.path().join("s")));
    }
}
