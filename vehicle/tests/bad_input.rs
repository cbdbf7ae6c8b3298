//! Inputs the model cannot use get a clear refusal, never a panic.

use hivemind_ir::{AreaShape, PointMm};
use hivemind_vehicle::{
    cover_path, path_time_us, segment_time_us, Maneuver, ManeuverError, ParamsError, Vehicle,
    VehicleParams,
};

fn p(x: i64, y: i64) -> PointMm {
    PointMm { x_mm: x, y_mm: y }
}

#[test]
fn zero_speed_or_acceleration_is_refused_with_the_key() {
    for (speed, accel, key) in [(0, 2_500, "cruise_mm_s"), (5_000, 0, "accel_mm_s2")] {
        let params = VehicleParams {
            cruise_mm_s: speed,
            accel_mm_s2: accel,
            ..VehicleParams::DRONE
        };
        let err = Vehicle::new(params, p(0, 0)).expect_err("refused");
        assert!(matches!(err, ParamsError::OutOfRange { key: k, .. } if k == key));
        assert!(segment_time_us(10, &params).is_err());
        assert!(path_time_us(&[p(0, 0), p(1, 1)], &params).is_err());
        assert!(err.to_string().contains(key));
    }
    let huge = VehicleParams {
        cruise_mm_s: u64::MAX,
        ..VehicleParams::DRONE
    };
    assert!(huge.check().is_err());
}

#[test]
fn unusable_maneuvers_are_refused_and_the_vehicle_carries_on() {
    let mut v = Vehicle::new(VehicleParams::CAR, p(0, 0)).expect("params");
    v.command(0, Maneuver::Goto(p(10_000, 0))).expect("goto");
    let empty = Maneuver::Route {
        waypoints: vec![],
        looping: true,
        start_mm: 5,
    };
    assert_eq!(v.command(1, empty), Err(ManeuverError::EmptyRoute));
    let line = AreaShape::Polygon {
        points: vec![p(0, 0), p(10, 10)],
    };
    let cover = |shape: AreaShape, strips: Vec<(i64, i64)>, lane_mm| Maneuver::Cover {
        shape,
        strips,
        lane_mm,
    };
    assert_eq!(
        v.command(2, cover(line.clone(), vec![(0, 10)], 5)),
        Err(ManeuverError::NothingToCover)
    );
    let square = AreaShape::Rect {
        min: p(0, 0),
        max: p(10, 10),
    };
    assert_eq!(
        v.command(3, cover(square.clone(), vec![(0, 10)], 0)),
        Err(ManeuverError::ZeroLane)
    );
    assert_eq!(
        v.command(4, cover(square.clone(), vec![(10, 0)], 5)),
        Err(ManeuverError::InvertedStrip(10, 0))
    );
    assert_eq!(
        v.command(5, cover(square.clone(), vec![], 5)),
        Err(ManeuverError::NothingToCover)
    );
    assert_eq!(
        cover_path(&line, &[(0, 10)], 5, &VehicleParams::CAR),
        Err(ManeuverError::NothingToCover)
    );
    // Still on its way.
    assert_eq!(v.maneuver(), &Maneuver::Goto(p(10_000, 0)));
    while let Some(t) = v.next_event_us() {
        v.advance(t);
    }
    assert_eq!(v.position(), p(10_000, 0));
}

#[test]
fn coordinates_at_the_ends_of_i64_do_not_overflow() {
    let fast = VehicleParams {
        cruise_mm_s: 1_000_000,
        accel_mm_s2: 1_000_000_000,
        ..VehicleParams::DRONE
    };
    let (lo, hi) = (p(i64::MIN, i64::MIN), p(i64::MAX, i64::MAX));
    let mut v = Vehicle::new(fast, lo).expect("params");
    v.command(0, Maneuver::Goto(hi)).expect("goto");
    // ~2.6·10¹⁹ µs away: beyond u64 time, so no event to wait for.
    assert_eq!(v.next_event_us(), None);
    let mut last = v.position();
    for t in [1, 1_000_000, u64::MAX / 2, u64::MAX] {
        v.advance(t);
        let now = v.position();
        assert!(now.x_mm >= last.x_mm && now.y_mm >= last.y_mm);
        last = now;
    }
    assert!(v.energy_used_uj() > 0 && v.battery_uj() == 0);
    // A patrol and a sweep spanning the whole plane.
    let mut w = Vehicle::new(fast, hi).expect("params");
    w.command(
        0,
        Maneuver::Route {
            waypoints: vec![lo, hi, p(i64::MIN, i64::MAX)],
            looping: true,
            start_mm: u64::MAX,
        },
    )
    .expect("patrol");
    w.advance(u64::MAX);
    let plane = AreaShape::Rect { min: lo, max: hi };
    let sweep = cover_path(&plane, &[(i64::MIN, i64::MAX)], 1, &fast).expect("closed form");
    assert_eq!(sweep.time_us, u128::MAX, "saturated, not wrapped");
    w.command(
        u64::MAX,
        Maneuver::Cover {
            shape: plane,
            strips: vec![(i64::MIN, i64::MAX)],
            lane_mm: 1,
        },
    )
    .expect("cover");
    let tri = AreaShape::Polygon {
        points: vec![lo, p(i64::MAX, i64::MIN), hi],
    };
    assert_eq!(
        cover_path(&tri, &[(i64::MIN, i64::MAX)], 1, &fast),
        Err(ManeuverError::TooManyLanes)
    );
    let mut z = Vehicle::new(fast, lo).expect("params");
    z.command(
        0,
        Maneuver::Cover {
            shape: tri,
            strips: vec![(i64::MIN, i64::MAX)],
            lane_mm: 1 << 62,
        },
    )
    .expect("cover");
    z.advance(u64::MAX);
}
