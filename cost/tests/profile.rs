//! Cost profiles are untrusted input: bad values and keys are clear errors.

use hivemind_cost::{CostModel, Profile, ProfileError};

#[test]
fn empty_profile_is_the_documented_defaults() {
    assert_eq!(
        Profile::from_toml("").expect("empty is fine"),
        Profile::default()
    );
}

#[test]
fn measured_values_override_defaults() {
    let p = Profile::from_toml("[cloud]\nrpc_overhead_us = 900\n[fleet.drones]\nradio_bps = 5000000\n[task.detect]\nedge_us = 120000\n").expect("valid");
    assert_eq!(p.cloud.rpc_overhead_us, 900);
    assert_eq!(
        p.cloud.cpu_hz,
        Profile::default().cloud.cpu_hz,
        "unset keys keep defaults"
    );
    assert_eq!(p.fleet["drones"].radio_bps, Some(5_000_000));
    assert_eq!(p.task["detect"].edge_us, Some(120_000));
}

#[test]
fn zero_or_negative_bandwidth_and_speed_are_refused() {
    let e = Profile::from_toml("[fleet.drones]\nradio_bps = 0\n").unwrap_err();
    assert_eq!(
        e,
        ProfileError::NotPositive {
            key: "fleet.drones.radio_bps".into()
        }
    );
    assert!(matches!(
        Profile::from_toml("[fleet.drones]\nspeed_mm_s = 0\n"),
        Err(ProfileError::NotPositive { .. })
    ));
    let neg = Profile::from_toml("[fleet.drones]\nspeed_mm_s = -5\n").unwrap_err();
    assert!(matches!(neg, ProfileError::Toml(_)), "{neg}");
    assert!(matches!(
        Profile::from_toml("[cloud]\nstorage_bps = 0\n"),
        Err(ProfileError::NotPositive { .. })
    ));
}

#[test]
fn unknown_keys_wrong_types_and_garbage_are_refused() {
    let unknown = Profile::from_toml("[cloud]\nrpc_overhead = 5\n")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("rpc_overhead"), "{unknown}");
    let section = Profile::from_toml("[clowd]\n").unwrap_err().to_string();
    assert!(section.contains("clowd"), "{section}");
    let wrong_unit = Profile::from_toml("[drone]\nlink_latency_us = \"5 ms\"\n")
        .unwrap_err()
        .to_string();
    assert!(wrong_unit.contains("link_latency_us"), "{wrong_unit}");
    for garbage in ["[[[", "\u{0}\u{1}", "cloud = 3", &"x".repeat(100_000)] {
        assert!(Profile::from_toml(garbage).is_err(), "{garbage:.20}");
    }
    assert!(matches!(
        Profile::from_toml("[cloud]\nwarm_permille = 1500\n"),
        Err(ProfileError::OutOfRange { .. })
    ));
    assert!(matches!(
        Profile::from_toml("[tail]\np99_permille = 0\n"),
        Err(ProfileError::NotPositive { .. })
    ));
}

#[test]
fn profile_names_must_exist_in_the_mission() {
    let g = hivemind_dsl::compile(&hivemind_dsl::synthetic::mission(5), "m.hm")
        .graph
        .expect("graph");
    let p = Profile::from_toml("[fleet.dronez]\nops_per_s = 1000\n").expect("parses");
    assert_eq!(
        CostModel::new(&g, p).err(),
        Some(ProfileError::UnknownName {
            kind: "fleet",
            name: "dronez".into()
        })
    );
    let p = Profile::from_toml("[task.nope]\nedge_us = 10\n").expect("parses");
    assert!(matches!(
        CostModel::new(&g, p),
        Err(ProfileError::UnknownName { kind: "task", .. })
    ));
}

#[test]
fn the_shipped_reference_profile_lists_exactly_the_defaults() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/profiles/defaults.toml");
    let text = std::fs::read_to_string(path).expect("examples/profiles/defaults.toml");
    assert_eq!(
        Profile::from_toml(&text).expect("parses"),
        Profile::default()
    );
}
