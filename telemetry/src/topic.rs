//! The topic schema: `hivemind/<mission>/<device>/{telemetry,status,result}`
//! and `hivemind/<mission>/controller/{progress,events}`.
//!
//! Mission and device names come from mission files and devices, so they
//! may hold anything; a name becomes one topic level through [`segment`],
//! which percent-encodes what MQTT gives a meaning to. The encoding is
//! injective (two different names never share a topic) and reversible
//! ([`decode_segment`]), so a subscriber can recover the name; the payloads
//! also carry the device's name unchanged.

use std::fmt;

/// The first level of every topic this crate publishes.
pub const ROOT: &str = "hivemind";

/// Longest level [`segment`] produces, in bytes. MQTT allows 65,535 bytes
/// for a whole topic; a longer name is cut and a hash of the whole name
/// appended so that it stays distinct.
pub const MAX_SEGMENT_BYTES: usize = 256;

/// Delivery guarantee of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    /// QoS 0: fire and forget (telemetry: the next sample supersedes it).
    AtMostOnce,
    /// QoS 1: acknowledged by the broker, resent until then.
    AtLeastOnce,
}

/// The per-device topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceChannel {
    /// Position, battery: [`crate::Telemetry`], QoS 0.
    Telemetry,
    /// Joined / failed / left: [`crate::Status`], QoS 1.
    Status,
    /// A task instance's outcome: [`crate::TaskResult`], QoS 1.
    Result,
}

/// The controller's topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControllerChannel {
    /// Counts of task instances: [`crate::Progress`], QoS 1.
    Progress,
    /// Relaunches, repartitions, fleet lost, mission end: [`crate::Event`], QoS 1.
    Events,
}

impl DeviceChannel {
    /// The topic's last level.
    pub fn leaf(self) -> &'static str {
        match self {
            DeviceChannel::Telemetry => "telemetry",
            DeviceChannel::Status => "status",
            DeviceChannel::Result => "result",
        }
    }

    /// Telemetry is superseded by the next sample; the rest is not.
    pub fn qos(self) -> Qos {
        match self {
            DeviceChannel::Telemetry => Qos::AtMostOnce,
            DeviceChannel::Status | DeviceChannel::Result => Qos::AtLeastOnce,
        }
    }
}

impl ControllerChannel {
    /// The topic's last level.
    pub fn leaf(self) -> &'static str {
        match self {
            ControllerChannel::Progress => "progress",
            ControllerChannel::Events => "events",
        }
    }

    /// Always QoS 1.
    pub fn qos(self) -> Qos {
        Qos::AtLeastOnce
    }
}

/// A complete topic name with its QoS. Only built from the schema, so it
/// never holds a wildcard and always fits MQTT's limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    name: String,
    qos: Qos,
}

impl Topic {
    /// `hivemind/<mission>/<device>/<channel>`.
    pub fn device(mission: &str, device: &str, channel: DeviceChannel) -> Topic {
        Topic::device_in(&segment(mission), device, channel)
    }

    /// `hivemind/<mission>/controller/<channel>`.
    pub fn controller(mission: &str, channel: ControllerChannel) -> Topic {
        Topic::controller_in(&segment(mission), channel)
    }

    /// As [`Topic::device`] with the mission already encoded by [`segment`].
    pub(crate) fn device_in(mission_segment: &str, device: &str, channel: DeviceChannel) -> Topic {
        Topic {
            name: format!(
                "{ROOT}/{mission_segment}/{}/{}",
                segment(device),
                channel.leaf()
            ),
            qos: channel.qos(),
        }
    }

    pub(crate) fn controller_in(mission_segment: &str, channel: ControllerChannel) -> Topic {
        Topic {
            name: format!("{ROOT}/{mission_segment}/controller/{}", channel.leaf()),
            qos: channel.qos(),
        }
    }

    /// The topic name as published.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The QoS this topic is published with.
    pub fn qos(&self) -> Qos {
        self.qos
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Encodes a name as one topic level: `%`, `/`, `+`, `#`, `$`, `~` and
/// control characters (NUL is forbidden in MQTT topics, the others confuse
/// terminals) become `%XX` (UTF-8 bytes, upper-case hex); everything else,
/// including non-ASCII letters, stays. The empty name becomes a lone `%`
/// (an empty level is legal MQTT but easy to miss in `a//b`). A result
/// longer than [`MAX_SEGMENT_BYTES`] is cut at a character boundary and
/// ends in `~` and 16 hex digits of a 64-bit FNV-1a hash of the name
/// (a `~` appears in no other output, so a cut name never equals an uncut
/// one).
pub fn segment(name: &str) -> String {
    if name.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '%' | '/' | '+' | '#' | '$' | '~') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0xf));
            }
        } else {
            out.push(c);
        }
    }
    if out.len() <= MAX_SEGMENT_BYTES {
        return out;
    }
    // 17 bytes for the `~` and the hash.
    let mut cut = MAX_SEGMENT_BYTES - 17;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    // Don't leave half a `%XX` behind: it would read as a different escape.
    if let Some(p) = out[..cut].rfind('%') {
        if cut - p < 3 {
            cut = p;
        }
    }
    out.truncate(cut);
    out.push('~');
    out.push_str(&format!("{:016x}", fnv1a(name.as_bytes())));
    out
}

/// Reverses [`segment`] for levels that were not shortened (no `~` hash);
/// `None` for anything [`segment`] cannot have produced.
pub fn decode_segment(level: &str) -> Option<String> {
    if level.contains('~') {
        return None;
    }
    if level == "%" {
        return Some(String::new());
    }
    let bytes = level.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 0xf)])
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schema() {
        let t = Topic::device("trees", "drone-3", DeviceChannel::Telemetry);
        assert_eq!(t.as_str(), "hivemind/trees/drone-3/telemetry");
        assert_eq!(t.qos(), Qos::AtMostOnce);
        let t = Topic::device("trees", "drone-3", DeviceChannel::Status);
        assert_eq!(t.as_str(), "hivemind/trees/drone-3/status");
        assert_eq!(t.qos(), Qos::AtLeastOnce);
        let t = Topic::device("trees", "drone-3", DeviceChannel::Result);
        assert_eq!(t.as_str(), "hivemind/trees/drone-3/result");
        let t = Topic::controller("trees", ControllerChannel::Progress);
        assert_eq!(t.as_str(), "hivemind/trees/controller/progress");
        assert_eq!(t.qos(), Qos::AtLeastOnce);
        let t = Topic::controller("trees", ControllerChannel::Events);
        assert_eq!(t.as_str(), "hivemind/trees/controller/events");
    }

    #[test]
    fn hostile_names() {
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(segment("+"), "%2B");
        assert_eq!(segment("#"), "%23");
        assert_eq!(segment("$SYS"), "%24SYS");
        assert_eq!(segment("50%"), "50%25");
        assert_eq!(segment("nul\0"), "nul%00");
        assert_eq!(segment("a~b"), "a%7Eb");
        assert_eq!(segment(""), "%");
        assert_eq!(segment("drône_7 ü"), "drône_7 ü");
        let t = Topic::device("m/#", "d/+", DeviceChannel::Status);
        assert_eq!(t.as_str(), "hivemind/m%2F%23/d%2F%2B/status");
    }

    #[test]
    fn long_names_are_cut_and_stay_distinct() {
        let a = "x".repeat(100_000);
        let b = format!("{}y", "x".repeat(99_999));
        let (sa, sb) = (segment(&a), segment(&b));
        assert!(sa.len() <= MAX_SEGMENT_BYTES && sb.len() <= MAX_SEGMENT_BYTES);
        assert_ne!(sa, sb);
        // A cut through an escape drops the whole escape.
        let c = "/".repeat(1000);
        let sc = segment(&c);
        let body = sc.split('~').next().unwrap_or_default();
        assert!(body.len().is_multiple_of(3), "{sc}");
    }

    #[test]
    fn decode_rejects_what_segment_cannot_produce() {
        assert_eq!(decode_segment("%2"), None);
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%FF"), None); // not UTF-8
        assert_eq!(decode_segment("%"), Some(String::new()));
        assert_eq!(decode_segment("a%2Fb"), Some("a/b".to_owned()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn segments_are_safe_and_reversible(name in any::<String>()) {
            let s = segment(&name);
            prop_assert!(!s.is_empty());
            prop_assert!(s.len() <= MAX_SEGMENT_BYTES);
            prop_assert!(!s.contains(['/', '+', '#', '\0']), "{:?} -> {:?}", name, s);
            prop_assert!(!s.starts_with('$'));
            if !s.contains('~') {
                prop_assert_eq!(decode_segment(&s), Some(name.clone()));
            }
            let t = Topic::device(&name, &name, DeviceChannel::Telemetry);
            prop_assert_eq!(t.as_str().split('/').count(), 4);
            prop_assert!(t.as_str().len() < 65_535);
        }

        #[test]
        fn distinct_names_distinct_segments(a in ".{0,40}", b in ".{0,40}") {
            prop_assume!(a != b);
            prop_assert_ne!(segment(&a), segment(&b));
        }

        #[test]
        fn ordinary_names_unchanged(name in "[A-Za-z0-9_.-]{1,64}") {
            prop_assert_eq!(segment(&name), name);
        }
    }
}
