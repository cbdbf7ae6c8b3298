//! `mqtt://host[:port]` broker addresses.

use std::fmt;
use std::str::FromStr;

/// MQTT's registered port.
pub const DEFAULT_PORT: u16 = 1883;

/// Where a broker listens: parsed from `mqtt://host[:port]` (or `tcp://`).
/// IPv6 literals go in brackets: `mqtt://[::1]:1883`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    host: String,
    port: u16,
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("broker URL `{0}` has no scheme: expected mqtt://host[:port]")]
    NoScheme(String),
    #[error(
        "broker URL scheme `{0}` is not supported: use mqtt:// (plain TCP; TLS is not built in)"
    )]
    Scheme(String),
    #[error("broker URL `{0}` has no host")]
    NoHost(String),
    #[error("broker URL `{url}`: bad port `{port}` (1-65535)")]
    Port { url: String, port: String },
    #[error("broker URL `{0}`: user names, paths and queries are not supported")]
    Extra(String),
    #[error("broker URL `{0}`: unclosed `[` in an IPv6 address")]
    Bracket(String),
}

impl BrokerUrl {
    /// A broker at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> BrokerUrl {
        BrokerUrl {
            host: host.into(),
            port,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for BrokerUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<BrokerUrl, UrlError> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(UrlError::NoScheme(url.to_owned()));
        };
        if !scheme.eq_ignore_ascii_case("mqtt") && !scheme.eq_ignore_ascii_case("tcp") {
            return Err(UrlError::Scheme(scheme.to_owned()));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(UrlError::Extra(url.to_owned()));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(UrlError::Bracket(url.to_owned()));
            };
            match after {
                "" => (host, None),
                p => match p.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => return Err(UrlError::Extra(url.to_owned())),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                // A bare IPv6 address without brackets is ambiguous.
                Some(_) => return Err(UrlError::Bracket(url.to_owned())),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(url.to_owned()));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 => n,
                _ => {
                    return Err(UrlError::Port {
                        url: url.to_owned(),
                        port: p.to_owned(),
                    })
                }
            },
        };
        Ok(BrokerUrl::new(host, port))
    }
}

/// Which broker to publish to, as a command line names it: `embedded` or a
/// broker URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BrokerChoice {
    /// Start the embedded broker in this process.
    Embedded,
    External(BrokerUrl),
}

impl FromStr for BrokerChoice {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<BrokerChoice, UrlError> {
        if s.trim().eq_ignore_ascii_case("embedded") {
            Ok(BrokerChoice::Embedded)
        } else {
            s.parse().map(BrokerChoice::External)
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "mqtt://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "mqtt://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> (String, u16) {
        match s.parse::<BrokerUrl>() {
            Ok(u) => (u.host().to_owned(), u.port()),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn good_urls() {
        assert_eq!(ok("mqtt://localhost"), ("localhost".into(), 1883));
        assert_eq!(ok("mqtt://127.0.0.1:11883"), ("127.0.0.1".into(), 11883));
        assert_eq!(ok("tcp://broker.lan:1884/"), ("broker.lan".into(), 1884));
        assert_eq!(ok("MQTT://[::1]:2000"), ("::1".into(), 2000));
        assert_eq!(ok("mqtt://[::1]"), ("::1".into(), 1883));
        assert_eq!(ok("mqtt://[::1]").0, "::1");
        assert_eq!(
            "mqtt://[::1]:5".parse::<BrokerUrl>().map(|u| u.to_string()),
            Ok("mqtt://[::1]:5".to_owned())
        );
    }

    #[test]
    fn bad_urls_say_why() {
        let cases: &[(&str, &str)] = &[
            ("localhost:1883", "no scheme"),
            ("", "no scheme"),
            ("mqtts://h:8883", "not supported"),
            ("ws://h", "not supported"),
            ("mqtt://", "no host"),
            ("mqtt://:1883", "no host"),
            ("mqtt://h:0", "bad port `0`"),
            ("mqtt://h:65536", "bad port `65536`"),
            ("mqtt://h:x", "bad port `x`"),
            ("mqtt://h:", "bad port ``"),
            ("mqtt://u:p@h", "not supported"),
            ("mqtt://h/topic", "not supported"),
            ("mqtt://[::1", "unclosed"),
            ("mqtt://::1", "unclosed"),
            ("mqtt://[::1]x", "not supported"),
        ];
        for (url, want) in cases {
            match url.parse::<BrokerUrl>() {
                Ok(u) => panic!("{url} parsed as {u}"),
                Err(e) => assert!(e.to_string().contains(want), "{url}: {e}"),
            }
        }
    }

    #[test]
    fn broker_choice() {
        assert_eq!("embedded".parse(), Ok(BrokerChoice::Embedded));
        assert_eq!(
            "mqtt://h:2".parse(),
            Ok(BrokerChoice::External(BrokerUrl::new("h", 2)))
        );
        assert!("embeded".parse::<BrokerChoice>().is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(s in any::<String>()) {
            let _ = s.parse::<BrokerUrl>();
            let _ = format!("mqtt://{s}").parse::<BrokerUrl>();
        }
    }
}
