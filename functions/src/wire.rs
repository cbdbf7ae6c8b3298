//! The subprocess JSON contract (see the crate docs and
//! `docs/functions.md`): encoding a [`Request`], decoding a process's
//! untrusted output into a [`Response`]. Decoding never panics.

use crate::{Request, Response};
use serde::{Deserialize, Serialize};

/// A request as a process reads it.
#[derive(Debug, Serialize)]
struct WireRequest<'a> {
    function: &'a str,
    task: u32,
    instance: u64,
    model_version: u32,
    input: String,
    input_items: u32,
    deadline_ms: u64,
    params: &'a serde_json::Value,
}

/// A response as a process writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireResponse {
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    output_text: Option<String>,
    #[serde(default)]
    items: Option<u32>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Why a process's output is not a [`Response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The output is not a valid response.
    Bad(String),
    /// A valid `{"error": ...}`: the function reports a failure.
    Failed(String),
}

/// The request as one line of JSON (no newline: JSON strings escape theirs).
pub fn encode_request(req: &Request) -> Vec<u8> {
    let wire = WireRequest {
        function: &req.function,
        task: req.task,
        instance: req.instance,
        model_version: req.model_version,
        input: base64_encode(&req.input),
        input_items: req.input_items,
        deadline_ms: u64::try_from(req.deadline.as_millis()).unwrap_or(u64::MAX),
        params: &req.params,
    };
    // Strings, integers and a serde_json::Value (whose map keys are
    // strings) always serialize.
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// One response object (surrounding whitespace allowed).
pub fn decode_response(bytes: &[u8]) -> Result<Response, Decoded> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Decoded::Bad(format!("output is not UTF-8 ({e})")))?;
    if text.trim().is_empty() {
        return Err(Decoded::Bad("no output".into()));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Decoded::Bad(if e.is_eof() {
            format!("truncated JSON ({e})")
        } else {
            format!("not JSON ({e}): {}", excerpt(text))
        })
    })?;
    // A struct would also deserialize from a JSON array; only objects are
    // responses.
    if !value.is_object() {
        return Err(Decoded::Bad(format!(
            "not a JSON object: {}",
            excerpt(text)
        )));
    }
    let wire = WireResponse::deserialize(value).map_err(|e| Decoded::Bad(e.to_string()))?;
    if let Some(err) = wire.error {
        return Err(Decoded::Failed(match err {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }));
    }
    let output = match (wire.output, wire.output_text) {
        (Some(_), Some(_)) => {
            return Err(Decoded::Bad(
                "both `output` and `output_text`: give one".into(),
            ))
        }
        (Some(b64), None) => {
            base64_decode(&b64).map_err(|e| Decoded::Bad(format!("`output` is not base64: {e}")))?
        }
        (None, Some(text)) => text.into_bytes(),
        (None, None) => Vec::new(),
    };
    Ok(Response::new(output, wire.items.unwrap_or(1)))
}

/// A one-shot process's whole stdout: one JSON object, or else (the
/// OpenWhisk docker-skeleton convention) its last non-empty line, the
/// lines before it being the function's log.
pub fn decode_stdout(stdout: &[u8]) -> Result<Response, Decoded> {
    match decode_response(stdout) {
        Err(Decoded::Bad(whole)) => {
            let mut lines = stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
            match (lines.next_back(), lines.next()) {
                // More than one line: try the last.
                (Some(last), Some(_)) => decode_response(last).map_err(|e| match e {
                    Decoded::Bad(line) => Decoded::Bad(format!("{whole}; last line: {line}")),
                    failed => failed,
                }),
                _ => Err(Decoded::Bad(whole)),
            }
        }
        other => other,
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    let t = text.trim();
    if t.len() <= MAX {
        format!("{t:?}")
    } else {
        let mut end = MAX;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}… ({} bytes)", &t[..end], t.len())
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64; padding optional, anything else outside the alphabet
/// (whitespace included) refused.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let unpadded = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="));
    let data = match unpadded {
        Some(_) if !bytes.len().is_multiple_of(4) => {
            return Err(format!(
                "padded length {} is not a multiple of 4",
                bytes.len()
            ))
        }
        Some(d) => d,
        None => bytes,
    };
    if data.len() % 4 == 1 {
        return Err(format!("length {} cannot be base64", data.len()));
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(format!("byte {c:#04x} is not in the base64 alphabet")),
            };
            n |= u32::from(v) << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // 2 chars give 1 byte, 3 give 2, 4 give 3.
        out.extend_from_slice(&full[..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(
                base64_decode(enc.trim_end_matches('=')).unwrap(),
                plain.as_bytes()
            );
        }
    }

    #[test]
    fn base64_refusals() {
        assert!(base64_decode("Zm9v\n").is_err());
        assert!(base64_decode("Z").is_err());
        assert!(base64_decode("Zg=").is_err());
        assert!(base64_decode("Zm9vY").is_err());
        assert!(base64_decode("Zm*v").is_err());
        assert!(base64_decode("====").is_err());
    }

    #[test]
    fn responses() {
        let r = decode_response(br#"{"output":"aGk=","items":2}"#).unwrap();
        assert_eq!((&r.output[..], r.items), (&b"hi"[..], 2));
        let r = decode_response(b" {\"output_text\":\"hi\"}\n").unwrap();
        assert_eq!((&r.output[..], r.items), (&b"hi"[..], 1));
        let r = decode_response(b"{}").unwrap();
        assert_eq!((r.output.len(), r.items), (0, 1));
        assert_eq!(
            decode_response(br#"{"error":"no trees"}"#),
            Err(Decoded::Failed("no trees".into()))
        );
        assert_eq!(
            decode_response(br#"{"error":{"code":3}}"#),
            Err(Decoded::Failed(r#"{"code":3}"#.into()))
        );
    }

    #[test]
    fn bad_responses_say_why() {
        let bad = |b: &[u8]| match decode_response(b) {
            Err(Decoded::Bad(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(bad(b"").contains("no output"));
        assert!(bad(b"{\"output\":").contains("truncated"));
        assert!(bad(b"hello").contains("not JSON"));
        assert!(bad(b"[1,2]").contains("not a JSON object"));
        assert!(bad(br#"{"ouput":"x"}"#).contains("ouput"));
        assert!(bad(br#"{"output":"!!"}"#).contains("base64"));
        assert!(bad(br#"{"output":"aGk=","output_text":"hi"}"#).contains("both"));
        assert!(
            bad(br#"{"items":-1}"#).contains("items") || bad(br#"{"items":-1}"#).contains("-1")
        );
        assert!(bad(b"\xff\xfe").contains("UTF-8"));
    }

    #[test]
    fn stdout_last_line_is_the_result() {
        let r = decode_stdout(b"loading model\nstep 2\n{\"output_text\":\"ok\",\"items\":4}\n\n")
            .unwrap();
        assert_eq!((&r.output[..], r.items), (&b"ok"[..], 4));
        // Pretty-printed JSON over several lines is one value.
        let r = decode_stdout(b"{\n  \"items\": 3\n}\n").unwrap();
        assert_eq!(r.items, 3);
        let Err(Decoded::Bad(why)) = decode_stdout(b"log\nnot json\n") else {
            panic!()
        };
        assert!(why.contains("last line"), "{why}");
    }

    #[test]
    fn request_encoding() {
        let mut req = Request::new("detect", 3, 42);
        req.input = bytes::Bytes::from_static(b"hello");
        req.input_items = 1;
        req.deadline = std::time::Duration::from_millis(1500);
        req.params = serde_json::json!({"threshold": 0.5});
        let v: serde_json::Value = serde_json::from_slice(&encode_request(&req)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"function": "detect", "task": 3, "instance": 42,
                "model_version": 0, "input": "aGVsbG8=", "input_items": 1,
                "deadline_ms": 1500, "params": {"threshold": 0.5}})
        );
    }
}
