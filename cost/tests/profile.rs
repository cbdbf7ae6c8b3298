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

/// Cars are charged motion energy only while a behaviour drives them;
/// drones for the whole mission.
#[test]
fn cars_pay_for_the_distance_they_drive_drones_for_the_mission() {
    let src = |car_task: &str| {
        format!(
            "mission m {{\n  duration 1 h\n  fleet drones: drone x 1 {{ cpu 1 GHz; battery 100 Wh; radio 10 Mbit/s }}\n  fleet cars: car x 2 {{ cpu 1 GHz; battery 100 Wh; radio 10 Mbit/s; speed 2 m/s; home (0 m, 0 m) }}\n  task fly on drones {{ every 1 s; work 1 Mop }}\n  {car_task}\n}}\n"
        )
    };
    let moving = |car_task: &str| {
        let g = hivemind_dsl::compile(&src(car_task), "m.hm")
            .graph
            .expect("compiles");
        hivemind_cost::coverage::moving_us(&g, &hivemind_cost::Profile::default())
    };
    let hour = 3_600_000_000u128;
    // Parked: no behaviour moves the cars.
    assert_eq!(
        moving("task idle on cars { every 1 s; work 1 Mop }"),
        [hour, 0]
    );
    // 3.6 km at 2 m/s: 30 min, plus 2 s lost speeding up to 2 m/s and
    // braking at the car's 1 m/s².
    assert_eq!(
        moving("task go on cars { goto (3600 m, 0 m) }"),
        [hour, hour / 2 + 2_000_000]
    );
    // A route of 1 km plus 0 m from home: 500 s + 2 s.
    assert_eq!(
        moving("task r on cars { route (0 m, 0 m), (1000 m, 0 m) }"),
        [hour, 502_000_000]
    );
    // A patrol drives all mission.
    assert_eq!(
        moving("task p on cars { patrol (0 m, 0 m), (10 m, 0 m) }"),
        [hour, hour]
    );
    // Motion energy follows: 5 W for 1802 s is 9010 J per car.
    let g = hivemind_dsl::compile(&src("task go on cars { goto (3600 m, 0 m) }"), "m.hm")
        .graph
        .expect("compiles");
    let m = hivemind_cost::CostModel::new(&g, hivemind_cost::Profile::default()).expect("model");
    assert_eq!(m.motion_uj[1].get(), Some(2 * 9_010_000_000));
}
