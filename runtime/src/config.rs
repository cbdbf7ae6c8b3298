//! The controller's configuration file (`hivemind up --config FILE`) and
//! environment (`HIVEMIND_*`). Precedence, highest first: command-line
//! flag, environment variable, file, built-in default; [`Settings::or`]
//! stacks them and the caller applies the defaults (some depend on
//! `--local`).
//!
//! One TOML file describes a deployment; every table refuses unknown keys.
//!
//! ```toml
//! [controller]          # Settings; each key also HIVEMIND_<KEY>
//! listen = "0.0.0.0:7000"
//! start_timeout = "30 s"
//! [core]                # hivemind_controller::Config, partial, over its defaults
//! heartbeat_period_us = 1000000
//! [core.pool]
//! keep_alive_us = 10000000
//! [functions.detect]    # hivemind_functions::config::FunctionConfig
//! exec = "./detect.py"
//! mode = "persistent"
//! [agent]               # hive-agent's part: checked by hive-agent, skipped here
//! ```
//!
//! Relative paths in the file are taken from the file's directory; in
//! the environment and on the command line, from the working directory.

use hivemind_controller::Config;
pub use hivemind_functions::config::{
    named, parse_duration, read_file, FileError, FunctionConfig, Time, MAX_FILE_BYTES,
};
use hivemind_functions::Backend;
use hivemind_telemetry::BrokerUrl;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The environment variable naming a config file when `--config` is not given.
pub const ENV_CONFIG: &str = "HIVEMIND_CONFIG";

/// The environment variables [`Settings::from_env`] reads, with their keys.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("HIVEMIND_LISTEN", "listen"),
    ("HIVEMIND_PKI", "pki"),
    ("HIVEMIND_STATE_DIR", "state_dir"),
    ("HIVEMIND_MQTT", "mqtt"),
    ("HIVEMIND_MQTT_PORT", "mqtt_port"),
    ("HIVEMIND_EXPECT", "expect"),
    ("HIVEMIND_START_TIMEOUT", "start_timeout"),
    ("HIVEMIND_DURATION", "duration"),
    ("HIVEMIND_SEED", "seed"),
    ("HIVEMIND_STORE_MB", "store_mb"),
    ("HIVEMIND_PROFILE", "profile"),
];

/// Where telemetry goes, as written: `embedded`, `off` or a broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttSetting {
    Embedded,
    Off,
    Url(BrokerUrl),
}

impl std::str::FromStr for MqttSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(MqttSetting::Embedded),
            "off" => Ok(MqttSetting::Off),
            url => url
                .parse::<BrokerUrl>()
                .map(MqttSetting::Url)
                .map_err(|e| format!("`{url}` is not `embedded`, `off` or a broker URL: {e}")),
        }
    }
}

impl<'de> Deserialize<'de> for MqttSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The `[controller]` table; every key optional (unset: the next source).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// QUIC address agents connect to.
    pub listen: Option<SocketAddr>,
    /// PKI directory (`hivemind certs init`).
    pub pki: Option<PathBuf>,
    /// Journal and mission clock.
    pub state_dir: Option<PathBuf>,
    pub mqtt: Option<MqttSetting>,
    /// Port of the embedded broker.
    pub mqtt_port: Option<u16>,
    /// Start once this many devices registered...
    pub expect: Option<u32>,
    /// ...or after this long.
    pub start_timeout: Option<Time>,
    /// Stop the mission after this long, then drain.
    pub duration: Option<Time>,
    pub seed: Option<u64>,
    /// Content-store budget in MiB.
    pub store_mb: Option<u64>,
    /// Cost-model profile (TOML).
    pub profile: Option<PathBuf>,
}

impl Settings {
    /// Each key from `self`, else from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            pki: self.pki.or(lower.pki),
            state_dir: self.state_dir.or(lower.state_dir),
            mqtt: self.mqtt.or(lower.mqtt),
            mqtt_port: self.mqtt_port.or(lower.mqtt_port),
            expect: self.expect.or(lower.expect),
            start_timeout: self.start_timeout.or(lower.start_timeout),
            duration: self.duration.or(lower.duration),
            seed: self.seed.or(lower.seed),
            store_mb: self.store_mb.or(lower.store_mb),
            profile: self.profile.or(lower.profile),
        }
    }

    /// The settings the `HIVEMIND_*` variables give ([`ENV_VARS`]);
    /// `lookup` is `std::env::var(..).ok()` outside tests. An empty
    /// variable counts as unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let bad = |var: &str, value: &str, detail: String| ConfigError::Env {
            var: var.to_string(),
            value: value.to_string(),
            detail,
        };
        let parse = |var: &str, what: &str| -> Result<Option<u64>, ConfigError> {
            get(var)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad(var, &v, format!("expected {what}")))
                })
                .transpose()
        };
        let time = |var: &str| -> Result<Option<Time>, ConfigError> {
            get(var)
                .map(|v| parse_duration(&v).map(Time).map_err(|e| bad(var, &v, e)))
                .transpose()
        };
        let small = |var: &str, max: u64| -> Result<Option<u64>, ConfigError> {
            match parse(var, &format!("a whole number up to {max}"))? {
                Some(n) if n > max => {
                    let v = get(var).unwrap_or_default();
                    Err(bad(var, &v, format!("expected a whole number up to {max}")))
                }
                n => Ok(n),
            }
        };
        Ok(Settings {
            listen: get("HIVEMIND_LISTEN")
                .map(|v| {
                    v.trim().parse::<SocketAddr>().map_err(|e| {
                        bad("HIVEMIND_LISTEN", &v, format!("{e} (expected host:port)"))
                    })
                })
                .transpose()?,
            pki: get("HIVEMIND_PKI").map(PathBuf::from),
            state_dir: get("HIVEMIND_STATE_DIR").map(PathBuf::from),
            mqtt: get("HIVEMIND_MQTT")
                .map(|v| v.trim().parse().map_err(|e| bad("HIVEMIND_MQTT", &v, e)))
                .transpose()?,
            mqtt_port: small("HIVEMIND_MQTT_PORT", u16::MAX.into())?
                .and_then(|n| u16::try_from(n).ok()),
            expect: small("HIVEMIND_EXPECT", u32::MAX.into())?.and_then(|n| u32::try_from(n).ok()),
            start_timeout: time("HIVEMIND_START_TIMEOUT")?,
            duration: time("HIVEMIND_DURATION")?,
            seed: parse("HIVEMIND_SEED", "a whole number")?,
            store_mb: parse("HIVEMIND_STORE_MB", "a whole number of MiB")?,
            profile: get("HIVEMIND_PROFILE").map(PathBuf::from),
        })
    }

    /// The content-store budget in bytes, if set.
    pub fn store_bytes(&self) -> Option<usize> {
        self.store_mb
            .and_then(|mb| mb.checked_mul(1 << 20))
            .and_then(|b| usize::try_from(b).ok())
    }
}

/// The file as written (see the module docs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    controller: Settings,
    #[serde(default)]
    core: Option<toml::Table>,
    #[serde(default)]
    functions: BTreeMap<String, FunctionConfig>,
    /// hive-agent reads and checks this table.
    #[serde(default)]
    #[allow(dead_code)]
    agent: Option<serde::de::IgnoredAny>,
}

/// A loaded controller configuration.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The file it came from (None: no file, all defaults).
    pub path: Option<PathBuf>,
    pub settings: Settings,
    /// The core's tunables: `[core]` over `Config::default()`.
    pub core: Config,
    pub functions: BTreeMap<String, FunctionConfig>,
    /// Whether the file has an `[agent]` table (`--local` then hands the
    /// file to its agents).
    pub has_agent: bool,
    /// Relative paths of the file are taken from here.
    pub base: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {size} bytes is too large for a config file (at most {MAX_FILE_BYTES})")]
    TooLarge { path: String, size: u64 },
    /// toml's message names the line, the column and the key.
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

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            path: None,
            settings: Settings::default(),
            core: Config::default(),
            functions: BTreeMap::new(),
            has_agent: false,
            base: PathBuf::from("."),
        }
    }
}

impl ControllerConfig {
    /// Read and check a file.
    pub fn load(path: &Path) -> Result<ControllerConfig, ConfigError> {
        let shown = path.display().to_string();
        let (text, base) = read_file(path).map_err(|e| match e {
            FileError::Read(source) => ConfigError::Read {
                path: shown.clone(),
                source,
            },
            FileError::TooLarge(size) => ConfigError::TooLarge {
                path: shown.clone(),
                size,
            },
            FileError::NotUtf8(at) => ConfigError::Parse {
                path: shown.clone(),
                message: format!("not UTF-8 text (byte {at})"),
            },
        })?;
        Self::parse(&text, &shown, &base)
    }

    /// Check `text` as the file `shown` whose relative paths start at `base`.
    pub fn parse(text: &str, shown: &str, base: &Path) -> Result<ControllerConfig, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: shown.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let value = |key: &str, detail: String| ConfigError::Value {
            path: shown.to_string(),
            key: key.to_string(),
            detail,
        };
        let core = match file.core {
            None => Config::default(),
            Some(t) => core_config(t).map_err(|e| value("[core]", e))?,
        };
        let mut settings = file.controller;
        for p in [
            &mut settings.pki,
            &mut settings.state_dir,
            &mut settings.profile,
        ]
        .into_iter()
        .flatten()
        {
            *p = base.join(&*p);
        }
        if settings.store_mb == Some(0)
            || settings.store_mb.is_some() && settings.store_bytes().is_none()
        {
            return Err(value(
                "controller.store_mb",
                "must be at least 1 and fit in memory".into(),
            ));
        }
        for (name, f) in &file.functions {
            f.to_action(name, base)
                .map_err(|e| value(&format!("functions.{name}.{}", e.key), e.detail))?;
        }
        Ok(ControllerConfig {
            path: Some(PathBuf::from(shown)),
            settings,
            core,
            functions: file.functions,
            has_agent: file.agent.is_some(),
            base: base.to_path_buf(),
        })
    }

    /// The file named by `--config`, else by `HIVEMIND_CONFIG`, else none.
    pub fn find(
        flag: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ControllerConfig, ConfigError> {
        match named(flag, ENV_CONFIG, lookup) {
            Some(p) => Self::load(&p),
            None => Ok(ControllerConfig::default()),
        }
    }

    /// The functions backend: the mapped functions as subprocesses, then
    /// in-process functions with the synthetic fallback.
    pub fn backend(&self) -> Result<Arc<dyn Backend>, ConfigError> {
        hivemind_functions::config::backend(&self.functions, &self.base).map_err(|e| {
            ConfigError::Value {
                path: self
                    .path
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.display().to_string()),
                key: format!("functions.{}.{}", e.function, e.key),
                detail: e.detail,
            }
        })
    }
}

/// `[core]` over the core's defaults, table by table, then the values
/// checked where a bad one would stall the mission rather than fail.
fn core_config(overrides: toml::Table) -> Result<Config, String> {
    let mut base = toml::Table::try_from(Config::default()).map_err(|e| e.to_string())?;
    merge(&mut base, overrides);
    let c: Config = toml::Value::Table(base)
        .try_into()
        .map_err(|e: toml::de::Error| e.to_string().trim_end().to_string())?;
    let positive = [
        ("heartbeat_period_us", c.heartbeat_period_us),
        ("suspect_after_us", c.suspect_after_us),
        ("tick_us", c.tick_us),
        ("device_slots", c.device_slots.into()),
        ("pool.concurrency", c.pool.concurrency.into()),
        (
            "pool.max_workers_per_function",
            c.pool.max_workers_per_function.into(),
        ),
    ];
    if let Some((k, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(format!("{k} must be above 0"));
    }
    if c.suspect_after_us <= c.heartbeat_period_us {
        return Err(format!(
            "suspect_after_us ({}) must exceed heartbeat_period_us ({}), or every device is declared failed",
            c.suspect_after_us, c.heartbeat_period_us
        ));
    }
    Ok(c)
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `Duration` of an optional [`Time`].
pub fn time(t: Option<Time>) -> Option<Duration> {
    t.map(|Time(d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ControllerConfig, ConfigError> {
        ControllerConfig::parse(text, "deploy.toml", Path::new("/etc/hivemind"))
    }

    fn err(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    const FULL: &str = r#"
[controller]
listen = "0.0.0.0:7100"
pki = "pki"
state_dir = "/var/lib/hivemind"
mqtt = "mqtt://127.0.0.1:1883"
mqtt_port = 1884
expect = 12
start_timeout = "5 s"
duration = "2 min"
seed = 7
store_mb = 64
profile = "profile.toml"

[core]
heartbeat_period_us = 500000
suspect_after_us = 1500000
phase_gap_us = 2000

[core.pool]
keep_alive_us = 2000000

[functions.detect]
exec = "sh"
mode = "persistent"
timeout = "10 s"
memory_mb = 512

[agent]
controller = "anything: hive-agent checks this"
"#;

    #[test]
    fn full_file() {
        let c = parse(FULL).expect("parses");
        let s = &c.settings;
        assert_eq!(s.listen, Some("0.0.0.0:7100".parse().expect("addr")));
        assert_eq!(s.pki, Some(PathBuf::from("/etc/hivemind/pki")));
        assert_eq!(s.state_dir, Some(PathBuf::from("/var/lib/hivemind")));
        assert!(matches!(s.mqtt, Some(MqttSetting::Url(_))));
        assert_eq!(s.mqtt_port, Some(1884));
        assert_eq!(s.expect, Some(12));
        assert_eq!(time(s.start_timeout), Some(Duration::from_secs(5)));
        assert_eq!(time(s.duration), Some(Duration::from_secs(120)));
        assert_eq!(s.seed, Some(7));
        assert_eq!(s.store_bytes(), Some(64 << 20));
        assert_eq!(c.core.heartbeat_period_us, 500_000);
        assert_eq!(c.core.phase_gap_us, 2_000);
        assert_eq!(c.core.pool.keep_alive_us, 2_000_000);
        // Keys not written keep the core's defaults.
        assert_eq!(c.core.tick_us, Config::default().tick_us);
        assert_eq!(c.core.pool.concurrency, Config::default().pool.concurrency);
        assert!(c.has_agent);
        assert!(c.functions.contains_key("detect"));
        assert!(c.backend().is_ok());
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = parse("").expect("parses");
        assert_eq!(c.settings, Settings::default());
        assert_eq!(c.core, Config::default());
        assert!(!c.has_agent);
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let e = err("[controller]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
        assert!(e.starts_with("config file deploy.toml: "), "{e}");
        assert!(e.contains("line 3") && e.contains("lisen"), "{e}");
        let e = err("[controler]\n");
        assert!(e.contains("controler"), "{e}");
        let e = err("[core]\nheartbeat = 1\n");
        assert!(e.contains("[core]") && e.contains("heartbeat"), "{e}");
        let e = err("[core.pool]\nkeepalive_us = 1\n");
        assert!(e.contains("keepalive_us"), "{e}");
        let e = err("[functions.detect]\nexec = \"sh\"\nmemory = 5\n");
        assert!(e.contains("memory"), "{e}");
    }

    #[test]
    fn wrong_types_and_values() {
        for (text, needle) in [
            ("[controller]\nseed = \"seven\"\n", "seed"),
            ("[controller]\nexpect = -1\n", "expect"),
            ("[controller]\nmqtt_port = 70000\n", "mqtt_port"),
            ("[controller]\nlisten = \"nowhere\"\n", "listen"),
            ("[controller]\nmqtt = \"carrier-pigeon\"\n", "mqtt"),
            ("[controller]\nstart_timeout = 5\n", "start_timeout"),
            ("[controller]\nstart_timeout = \"5 m\"\n", "min"),
            ("[controller]\nduration = \"5\"\n", "unit"),
            ("[controller]\nstore_mb = 0\n", "store_mb"),
            (
                "[core]\nheartbeat_period_us = \"1 s\"\n",
                "heartbeat_period_us",
            ),
            ("[core]\ntick_us = 0\n", "tick_us"),
            ("[core]\nphase_gap_us = \"1 ms\"\n", "phase_gap_us"),
            ("[core]\nphase_gap_us = -1\n", "phase_gap_us"),
            ("[core]\nsuspect_after_us = 10\n", "suspect_after_us"),
            (
                "[functions.detect]\nexec = \"./missing.py\"\n",
                "functions.detect.exec",
            ),
            (
                "[functions.detect]\nexec = \"sh\"\nmode = \"forever\"\n",
                "mode",
            ),
            ("[functions.detect]\nmode = \"persistent\"\n", "exec"),
            ("controller = 3\n", "controller"),
        ] {
            let e = err(text);
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.starts_with("config file deploy.toml"), "{e}");
        }
    }

    #[test]
    fn garbage_and_truncated_files() {
        for text in [
            "[controller",
            "[controller]\nlisten = \"127.0.0.1:7",
            "[controller]\nlisten =",
            "\u{0}\u{1}\u{2}garbage",
            "{}{}{}",
            "[[controller]]\n",
        ] {
            let e = err(text);
            assert!(e.starts_with("config file deploy.toml: "), "{text:?}: {e}");
        }
        // Every prefix of a good file parses or fails cleanly.
        for i in 0..FULL.len() {
            if FULL.is_char_boundary(i) {
                let _ = parse(&FULL[..i]);
            }
        }
    }

    #[test]
    fn files_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("deploy.toml");
        let e = ControllerConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("deploy.toml"), "{e}");
        std::fs::write(&p, [0xff, 0xfe, 0x00]).expect("write");
        let e = ControllerConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("UTF-8"), "{e}");
        std::fs::write(&p, vec![b'#'; (MAX_FILE_BYTES + 1) as usize]).expect("write");
        let e = ControllerConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        std::fs::write(&p, "[controller]\nstate_dir = \"state\"\n").expect("write");
        let c = ControllerConfig::load(&p).expect("loads");
        assert_eq!(c.settings.state_dir, Some(dir.path().join("state")));
        let via_env =
            ControllerConfig::find(None, |v| (v == ENV_CONFIG).then(|| p.display().to_string()))
                .expect("found");
        assert_eq!(via_env.settings, c.settings);
        assert!(ControllerConfig::find(None, |_| None)
            .expect("none")
            .path
            .is_none());
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let file = parse("[controller]\nseed = 1\nexpect = 2\nduration = \"10 s\"\n")
            .expect("file")
            .settings;
        let env = Settings::from_env(|v| match v {
            "HIVEMIND_SEED" => Some("3".into()),
            "HIVEMIND_EXPECT" => Some("4".into()),
            _ => None,
        })
        .expect("env");
        let flags = Settings {
            seed: Some(5),
            ..Settings::default()
        };
        let s = flags.or(env).or(file);
        assert_eq!(s.seed, Some(5));
        assert_eq!(s.expect, Some(4));
        assert_eq!(time(s.duration), Some(Duration::from_secs(10)));
        assert_eq!(s.listen, None);
    }

    #[test]
    fn every_env_var_is_read_and_checked() {
        let good = |v: &str| {
            Some(
                match v {
                    "HIVEMIND_LISTEN" => "127.0.0.1:9",
                    "HIVEMIND_MQTT" => "off",
                    "HIVEMIND_START_TIMEOUT" | "HIVEMIND_DURATION" => "3 s",
                    _ => "5",
                }
                .to_string(),
            )
        };
        let s = Settings::from_env(good).expect("env");
        assert_eq!(s.listen, Some("127.0.0.1:9".parse().expect("addr")));
        assert_eq!(s.mqtt, Some(MqttSetting::Off));
        assert_eq!(s.pki, Some(PathBuf::from("5")));
        assert_eq!(s.store_mb, Some(5));
        for (var, _) in ENV_VARS {
            if matches!(
                *var,
                "HIVEMIND_PKI" | "HIVEMIND_STATE_DIR" | "HIVEMIND_PROFILE"
            ) {
                continue;
            }
            let e = Settings::from_env(|v| {
                if v == *var {
                    Some("5 m".into())
                } else {
                    good(v)
                }
            })
            .expect_err(var)
            .to_string();
            assert!(e.starts_with(&format!("environment {var}=\"5 m\"")), "{e}");
        }
        let e = Settings::from_env(|v| (v == "HIVEMIND_MQTT_PORT").then(|| "70000".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("65535"), "{e}");
        assert_eq!(
            Settings::from_env(|_| Some("  ".into())).expect("blank"),
            Settings::default()
        );
    }
}
