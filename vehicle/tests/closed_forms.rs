//! The closed forms the cost model reads against the integrated vehicle
//! and against the textbook formulas (in floating point, as an independent
//! check), within 1%.

use hivemind_ir::{AreaShape, PointMm};
use hivemind_vehicle::{
    cover_path, cover_time_us, path_time_us, segment_time_us, Maneuver, Vehicle, VehicleParams,
};

fn p(x: i64, y: i64) -> PointMm {
    PointMm { x_mm: x, y_mm: y }
}

/// Fly until the maneuver is done, segment by segment; the time it took.
fn fly(v: &mut Vehicle) -> u64 {
    while let Some(t) = v.next_event_us() {
        v.advance(t);
    }
    assert!(v.is_idle());
    v.now_us()
}

/// d/v + v/a, or 2·√(d/a) when cruise is not reached (seconds).
fn textbook_s(d_m: f64, v: f64, a: f64) -> f64 {
    if d_m >= v * v / a {
        d_m / v + v / a
    } else {
        2.0 * (d_m / a).sqrt()
    }
}

fn within_1pct(got_us: u128, want_s: f64) {
    let got = got_us as f64 / 1e6;
    assert!(
        (got - want_s).abs() <= want_s * 0.01,
        "got {got} s, want {want_s} s"
    );
}

#[test]
fn a_straight_segment_long_and_short_matches_the_vehicle_and_the_textbook() {
    for params in [VehicleParams::DRONE, VehicleParams::CAR] {
        let (v, a) = (
            params.cruise_mm_s as f64 / 1e3,
            params.accel_mm_s2 as f64 / 1e3,
        );
        // 1 km (trapezoid), 3 m and 0.2 m (triangles: below v²/a).
        for d in [1_000_000i64, 3_000, 200] {
            let closed = segment_time_us(d.unsigned_abs().into(), &params).expect("params");
            within_1pct(closed, textbook_s(d as f64 / 1e3, v, a));
            let mut veh = Vehicle::new(params, p(0, 0)).expect("params");
            veh.command(0, Maneuver::Goto(p(d, 0))).expect("goto");
            assert_eq!(u128::from(fly(&mut veh)), closed);
            assert_eq!(veh.position(), p(d, 0));
            assert_eq!(veh.distance_mm(), d.unsigned_abs().into());
        }
    }
}

#[test]
fn a_rectangle_sweep_is_lanes_plus_turns() {
    // 400 m × 300 m, 10 m lanes, one drone: 40 lanes of 300 m, 39 turns of 10 m.
    let params = VehicleParams::DRONE;
    let rect = AreaShape::Rect {
        min: p(0, 0),
        max: p(400_000, 300_000),
    };
    let strips = [(0, 400_000)];
    let lane = 10_000;
    let closed = cover_path(&rect, &strips, lane, &params).expect("cover");
    assert_eq!(closed.lanes, 40);
    assert_eq!(closed.length_mm, 40 * 300_000 + 39 * 10_000);
    // Lane: 300/5 + 5/2.5 = 62 s; turn: 10 m = v²/a, 4 s. 40·62 + 39·4 = 2636 s.
    let hand = 40.0 * textbook_s(300.0, 5.0, 2.5) + 39.0 * textbook_s(10.0, 5.0, 2.5);
    assert_eq!(hand, 2636.0);
    within_1pct(closed.time_us, hand);
    // Flown from the first lane's start, the vehicle takes exactly as long.
    let mut veh = Vehicle::new(params, closed.first).expect("params");
    veh.command(
        0,
        Maneuver::Cover {
            shape: rect.clone(),
            strips: strips.to_vec(),
            lane_mm: lane,
        },
    )
    .expect("cover");
    assert_eq!(u128::from(fly(&mut veh)), closed.time_us);
    assert_eq!(veh.position(), closed.last);
    assert_eq!(veh.distance_mm(), closed.length_mm);
    // Cruise alone (distance / speed, the old estimate) would say 2478 s.
    assert_eq!(closed.length_mm / 5_000, 2_478);
}

#[test]
fn a_polygon_sweep_is_flown_as_predicted_strip_after_strip() {
    let params = VehicleParams::CAR;
    let hexagon = AreaShape::Polygon {
        points: vec![
            p(0, 50_000),
            p(40_000, 0),
            p(120_000, 0),
            p(160_000, 50_000),
            p(120_000, 100_000),
            p(40_000, 100_000),
        ],
    };
    let strips = hivemind_vehicle::strips::cut(0, 160_000, 3);
    let closed = cover_path(&hexagon, &strips, 7_000, &params).expect("cover");
    let mut veh = Vehicle::new(params, closed.first).expect("params");
    veh.command(
        0,
        Maneuver::Cover {
            shape: hexagon.clone(),
            strips: strips.clone(),
            lane_mm: 7_000,
        },
    )
    .expect("cover");
    assert_eq!(u128::from(fly(&mut veh)), closed.time_us);
    assert_eq!(veh.position(), closed.last);
    assert_eq!(
        cover_time_us(&hexagon, &strips, 7_000, &params),
        Ok(closed.time_us)
    );
}

#[test]
fn a_route_stops_at_every_waypoint() {
    let params = VehicleParams::DRONE;
    let route = [p(0, 0), p(100_000, 0), p(100_000, 2_000), p(0, 2_000)];
    let closed = path_time_us(&route, &params).expect("params");
    let hand = 2.0 * textbook_s(100.0, 5.0, 2.5) + textbook_s(2.0, 5.0, 2.5);
    within_1pct(closed, hand);
    let mut veh = Vehicle::new(params, route[0]).expect("params");
    veh.command(
        0,
        Maneuver::Route {
            waypoints: route.to_vec(),
            looping: false,
            start_mm: 0,
        },
    )
    .expect("route");
    assert_eq!(u128::from(fly(&mut veh)), closed);
    assert_eq!(veh.position(), route[3]);
}
