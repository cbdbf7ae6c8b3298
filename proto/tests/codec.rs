//! The frame codec on good and bad bytes.

use hivemind_ir::{Area, AreaId, AreaShape, FleetId, PointMm, SrcSpan, TaskId};
use hivemind_proto::wire::{
    decode_downlink, decode_uplink, encode_downlink, encode_uplink, DecodeError, MAX_FRAME_BYTES,
    MAX_PAYLOAD_BYTES, MAX_REASON_BYTES, MAX_TRACEPARENT_BYTES, VERSION,
};
use hivemind_proto::{
    BehaviourCommand, DeviceId, DeviceMsg, Downlink, Epoch, Handoff, Hello, InstanceId, Strip,
    Uplink,
};
use hivemind_proto::{LocalTask, PlanFragment};
use hivemind_vehicle::VehicleParams;
use proptest::prelude::*;

fn hello() -> Hello {
    Hello::new(
        DeviceId(7),
        "tree_recognition",
        "drones",
        59_940_000_000,
        PointMm {
            x_mm: -5,
            y_mm: 12_000,
        },
    )
}

fn fragment() -> PlanFragment {
    PlanFragment {
        fleet: FleetId(1),
        home: PointMm { x_mm: 0, y_mm: 0 },
        vehicle: VehicleParams::DRONE,
        areas: vec![Area {
            id: AreaId(0),
            name: "field".into(),
            shape: AreaShape::Rect {
                min: PointMm { x_mm: 0, y_mm: 0 },
                max: PointMm {
                    x_mm: 400_000,
                    y_mm: 300_000,
                },
            },
            size_mm2: 120_000_000_000,
            span: SrcSpan {
                start: 0,
                end: 1,
                line: 1,
                col: 1,
            },
        }],
        tasks: vec![LocalTask {
            task: TaskId(0),
            name: "capture".into(),
            function: "capture".into(),
            service_us: 20_000,
            output_bytes: 691_200,
            items: 1,
            local_successors: vec![(TaskId(1), 1)],
            needs: vec![TaskId(2)],
        }],
        cores: 1,
        cpu_power_mw: 1_500,
        radio_nj_per_bit: 50,
    }
}

fn every_uplink() -> Vec<Uplink> {
    vec![
        Uplink::Hello(hello()),
        Uplink::Heartbeat { epoch: Epoch(3) },
        Uplink::Telemetry {
            epoch: Epoch(3),
            position: PointMm {
                x_mm: i64::MIN,
                y_mm: i64::MAX,
            },
            battery_uj: u64::MAX,
        },
        Uplink::Result {
            epoch: Epoch(3),
            instance: InstanceId(u64::MAX),
            items: 12,
            model_version: 2,
            payload: vec![0xAB; 1000],
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        },
        Uplink::Error {
            epoch: Epoch(3),
            instance: InstanceId(9),
            reason: "camera unplugged".into(),
            traceparent: String::new(),
        },
        Uplink::ModelLoaded {
            epoch: Epoch(3),
            task: TaskId(4),
            version: 5,
        },
        Uplink::Goodbye { epoch: Epoch(3) },
    ]
}

fn every_downlink() -> Vec<Downlink> {
    let msgs = vec![
        DeviceMsg::Registered {
            heartbeat_period_us: 1_000_000,
        },
        DeviceMsg::RunTask {
            instance: InstanceId(1),
            task: TaskId(2),
            input: Handoff::Relay {
                from: InstanceId(0),
                bytes: 3,
            },
        },
        DeviceMsg::Behave(BehaviourCommand::Cover {
            area: AreaId(0),
            strips: vec![Strip {
                area: AreaId(0),
                x_min: 0,
                x_max: 10_000,
            }],
            lane_mm: 10_000,
        }),
        DeviceMsg::Behave(BehaviourCommand::Route {
            waypoints: vec![PointMm { x_mm: 1, y_mm: 2 }],
            looping: true,
            start_mm: 5,
        }),
        DeviceMsg::Behave(BehaviourCommand::Land),
        DeviceMsg::Cancel {
            instance: InstanceId(1),
        },
        DeviceMsg::Ack {
            instance: InstanceId(1),
        },
        DeviceMsg::Resync,
        DeviceMsg::Model {
            task: TaskId(1),
            version: 2,
            bytes: 250_000_000,
        },
        DeviceMsg::Fire {
            task: TaskId(0),
            instance: InstanceId(u64::MAX),
            at_us: u64::MAX,
            sent_us: 0,
        },
    ];
    let mut out = vec![
        Downlink::Accepted {
            version: VERSION,
            mission: "m".into(),
            fragment: Box::new(fragment()),
        },
        Downlink::Refused {
            reason: "certificate names device 3, hello claims 4".into(),
        },
        Downlink::Shutdown {
            reason: "operator stop".into(),
        },
    ];
    out.extend(msgs.into_iter().map(|msg| Downlink::Device {
        epoch: Epoch(1),
        msg,
        payload: vec![1, 2, 3],
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    }));
    out
}

#[test]
fn every_message_round_trips() {
    for m in every_uplink() {
        let bytes = encode_uplink(&m).unwrap();
        assert_eq!(decode_uplink(&bytes).unwrap(), m, "{}", m.kind_name());
    }
    for m in every_downlink() {
        let bytes = encode_downlink(&m).unwrap();
        assert_eq!(decode_downlink(&bytes).unwrap(), m, "{}", m.kind_name());
    }
}

#[test]
fn a_heartbeat_is_a_few_bytes() {
    let bytes = encode_uplink(&Uplink::Heartbeat { epoch: Epoch(3) }).unwrap();
    assert_eq!(bytes, vec![1, 3]);
}

#[test]
fn every_truncation_is_a_clear_error() {
    for m in every_uplink() {
        let bytes = encode_uplink(&m).unwrap();
        for cut in 0..bytes.len() {
            let err = decode_uplink(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Empty | DecodeError::Malformed { .. }),
                "{} cut at {cut}: {err}",
                m.kind_name()
            );
        }
    }
    for m in every_downlink() {
        let bytes = encode_downlink(&m).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                decode_downlink(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                m.kind_name()
            );
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = encode_uplink(&Uplink::Goodbye { epoch: Epoch(1) }).unwrap();
    bytes.push(0);
    assert_eq!(
        decode_uplink(&bytes),
        Err(DecodeError::Trailing {
            what: "goodbye",
            extra: 1
        })
    );
}

#[test]
fn unknown_kinds_are_refused_by_number() {
    let err = decode_uplink(&[7, 0, 0]).unwrap_err();
    assert_eq!(err, DecodeError::UnknownKind { kind: 7, known: 7 });
    assert!(err.to_string().contains("unknown frame kind 7"));
    assert!(matches!(
        decode_downlink(&[0xFF, 0x01]),
        Err(DecodeError::UnknownKind { kind: 0xFF, .. })
    ));
    assert_eq!(decode_uplink(&[]), Err(DecodeError::Empty));
}

#[test]
fn a_hello_from_another_version_is_refused_before_its_body_is_read() {
    // Kind 0, versions 7..=9 (varints), then bytes that are no Hello of ours.
    let err = decode_uplink(&[0, 7, 9, 0xFF, 0xFF, 0xFF]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedVersion {
            peer_min: 7,
            peer_max: 9
        }
    );
    assert!(err.to_string().contains("7..=9"), "{err}");
    // A range that includes ours is read as our Hello.
    let mut h = hello();
    h.max_version = 40;
    assert_eq!(
        decode_uplink(&encode_uplink(&Uplink::Hello(h.clone())).unwrap()).unwrap(),
        Uplink::Hello(h)
    );
}

#[test]
fn oversized_frames_and_fields_are_refused() {
    let big = vec![1u8; MAX_FRAME_BYTES + 1];
    assert!(matches!(
        decode_uplink(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    let payload = vec![0; MAX_FRAME_BYTES];
    let msg = Uplink::Result {
        epoch: Epoch(1),
        instance: InstanceId(1),
        items: 1,
        model_version: 0,
        payload,
        traceparent: String::new(),
    };
    assert!(
        encode_uplink(&msg).is_err(),
        "an oversized message is not sent"
    );
    let payload = vec![0; MAX_PAYLOAD_BYTES + 1];
    let msg = Uplink::Result {
        epoch: Epoch(1),
        instance: InstanceId(1),
        items: 1,
        model_version: 0,
        payload,
        traceparent: String::new(),
    };
    let bytes = encode_uplink(&msg).unwrap();
    assert!(matches!(
        decode_uplink(&bytes),
        Err(DecodeError::FieldTooLong {
            field: "payload",
            ..
        })
    ));
    let msg = Uplink::Error {
        epoch: Epoch(1),
        instance: InstanceId(1),
        reason: "x".repeat(MAX_REASON_BYTES + 1),
        traceparent: String::new(),
    };
    let err = decode_uplink(&encode_uplink(&msg).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::FieldTooLong {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let mut h = hello();
    h.fleet = "f".repeat(300);
    assert!(matches!(
        decode_uplink(&encode_uplink(&Uplink::Hello(h)).unwrap()),
        Err(DecodeError::FieldTooLong { field: "fleet", .. })
    ));
}

#[test]
fn an_overlong_traceparent_is_refused_in_every_frame_that_carries_one() {
    let long = "0".repeat(MAX_TRACEPARENT_BYTES + 1);
    let ups = [
        Uplink::Result {
            epoch: Epoch(1),
            instance: InstanceId(1),
            items: 1,
            model_version: 0,
            payload: vec![1],
            traceparent: long.clone(),
        },
        Uplink::Error {
            epoch: Epoch(1),
            instance: InstanceId(1),
            reason: "r".into(),
            traceparent: long.clone(),
        },
    ];
    for m in ups {
        let err = decode_uplink(&encode_uplink(&m).unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::FieldTooLong {
                    field: "traceparent",
                    ..
                }
            ),
            "{err}"
        );
    }
    let down = Downlink::Device {
        epoch: Epoch(1),
        msg: DeviceMsg::Resync,
        payload: Vec::new(),
        traceparent: long,
    };
    let err = decode_downlink(&encode_downlink(&down).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::FieldTooLong {
                field: "traceparent",
                ..
            }
        ),
        "{err}"
    );
    // The longest accepted one still decodes (the bound is inclusive), and
    // garbage text is the shape's business only: propagation ignores it.
    let ok = Downlink::Device {
        epoch: Epoch(1),
        msg: DeviceMsg::Resync,
        payload: Vec::new(),
        traceparent: "z".repeat(MAX_TRACEPARENT_BYTES),
    };
    assert_eq!(decode_downlink(&encode_downlink(&ok).unwrap()).unwrap(), ok);
}

#[test]
fn a_truncated_traceparent_is_malformed() {
    let m = Uplink::Error {
        epoch: Epoch(1),
        instance: InstanceId(1),
        reason: "r".into(),
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    };
    let bytes = encode_uplink(&m).unwrap();
    for cut in 1..bytes.len() {
        assert!(decode_uplink(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_huge_claimed_length_does_not_allocate_it() {
    // Result with a payload length varint of 2^35 but five bytes of data.
    let bytes = [
        3u8, 1, 1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 2, 3, 4, 5,
    ];
    assert!(matches!(
        decode_uplink(&bytes),
        Err(DecodeError::Malformed { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_uplink(&bytes);
        let _ = decode_downlink(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(which in 0usize..16, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let ups = every_uplink();
        let downs = every_downlink();
        let mut bytes = if which < ups.len() {
            encode_uplink(&ups[which]).unwrap()
        } else {
            encode_downlink(&downs[which % downs.len()]).unwrap()
        };
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_uplink(&bytes);
        let _ = decode_downlink(&bytes);
    }

    #[test]
    fn results_round_trip(epoch in any::<u32>(), instance in any::<u64>(), items in any::<u32>(), payload in proptest::collection::vec(any::<u8>(), 0..512), tp in "[0-9a-f-]{0,60}") {
        let m = Uplink::Result { epoch: Epoch(epoch), instance: InstanceId(instance), items, model_version: 0, payload, traceparent: tp };
        prop_assert_eq!(decode_uplink(&encode_uplink(&m).unwrap()).unwrap(), m);
    }
}
