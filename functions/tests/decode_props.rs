//! Whatever a process writes, decoding it never panics; base64 round-trips.
//! proptest prints the failing input (and its seed) on a failure.

use hivemind_functions::wire::{
    base64_decode, base64_encode, decode_response, decode_stdout, Decoded,
};
use proptest::prelude::*;

/// JSON-ish text: the fragments a response is made of, in any order, so
/// the cases reach the decoder's later checks and not only the parser's.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"output\":".to_string()),
        Just("\"output_text\":".to_string()),
        Just("\"items\":".to_string()),
        Just("\"error\":".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("null".to_string()),
        "-?[0-9]{1,22}",
        "\"[A-Za-z0-9+/=]{0,12}\"",
        "\"[^\"\\\\]{0,8}\"",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_response(&bytes);
        let _ = decode_stdout(&bytes);
    }

    #[test]
    fn jsonish_text_never_panics(text in jsonish()) {
        match decode_stdout(text.as_bytes()) {
            Ok(_) | Err(Decoded::Failed(_)) => {}
            Err(Decoded::Bad(why)) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let enc = base64_encode(&bytes);
        prop_assert_eq!(enc.len() % 4, 0);
        prop_assert_eq!(base64_decode(&enc).unwrap(), bytes.clone());
        prop_assert_eq!(base64_decode(enc.trim_end_matches('=')).unwrap(), bytes);
    }

    #[test]
    fn base64_decode_never_panics(text in "\\PC{0,64}") {
        let _ = base64_decode(&text);
    }

    #[test]
    fn output_field_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300), items in any::<u32>()) {
        let line = format!("{{\"output\":\"{}\",\"items\":{items}}}", base64_encode(&bytes));
        let r = decode_response(line.as_bytes()).unwrap();
        prop_assert_eq!(&r.output[..], &bytes[..]);
        prop_assert_eq!(r.items, items);
    }
}
