//! The vehicle over time: battery, patrols, long advances, landing,
//! interrupted segments.

use hivemind_ir::PointMm;
use hivemind_vehicle::{path_time_us, point_along, Maneuver, Vehicle, VehicleParams};

fn p(x: i64, y: i64) -> PointMm {
    PointMm { x_mm: x, y_mm: y }
}

const S: u64 = 1_000_000;

fn square() -> Vec<PointMm> {
    vec![p(0, 0), p(100_000, 0), p(100_000, 100_000), p(0, 100_000)]
}

fn patrol(start_mm: u64) -> Maneuver {
    Maneuver::Route {
        waypoints: square(),
        looping: true,
        start_mm,
    }
}

#[test]
fn battery_drains_at_power_times_time() {
    let params = VehicleParams::DRONE;
    // Moving: 55 W for the whole straight flight.
    let mut v = Vehicle::new(params, p(0, 0)).expect("params");
    v.command(0, Maneuver::Goto(p(1_000_000, 0))).expect("goto");
    let t = v.next_event_us().expect("moving");
    v.advance(t);
    assert_eq!(v.moving_us(), u128::from(t));
    let want = 55.0 * t as f64; // µJ
    let got = v.energy_used_uj() as f64;
    assert!((got - want).abs() <= want * 0.01, "{got} vs {want}");
    // Hovering there for ten minutes: 55 W × 600 s = 33 kJ more.
    let before = v.energy_used_uj();
    v.advance(t + 600 * S);
    assert_eq!(v.energy_used_uj() - before, 33_000_000_000);
    assert_eq!(
        v.battery_uj(),
        params.battery_uj - v.energy_used_uj(),
        "battery is capacity minus use"
    );
    // Other consumers charge through drain_uj.
    v.drain_uj(1_000);
    assert_eq!(v.energy_used_uj() - before, 33_000_001_000);
    // A car parked draws its parked power (none by default).
    let mut car = Vehicle::new(VehicleParams::CAR, p(0, 0)).expect("params");
    car.advance(3_600 * S);
    assert_eq!(car.energy_used_uj(), 0);
    assert_eq!(car.battery_uj(), VehicleParams::CAR.battery_uj);
}

#[test]
fn landing_stops_the_hover_drain() {
    let mut v = Vehicle::new(VehicleParams::DRONE, p(0, 0)).expect("params");
    v.command(0, Maneuver::Goto(p(50_000, 0))).expect("goto");
    assert!(v.airborne());
    v.advance(5 * S);
    assert!(v.speed_mm_s() > 0);
    v.command(5 * S, Maneuver::Land).expect("land");
    // It brakes first, then lands.
    let stop = v.next_event_us().expect("braking");
    assert_eq!(stop, 7 * S, "5 m/s at 2.5 m/s² stops in 2 s");
    v.advance(stop);
    assert!(!v.airborne() && v.is_idle());
    let used = v.energy_used_uj();
    v.advance(stop + 3_600 * S);
    assert_eq!(v.energy_used_uj(), used, "landed: no hover power");
    // 5 s from rest covers 2·1.25 m + 3 s·5 m/s... accelerating 2 s (5 m),
    // cruising 3 s (15 m), braking 2 s (5 m): 25 m.
    assert_eq!(v.position(), p(25_000, 0));
}

#[test]
fn patrol_devices_enter_at_their_offsets_and_keep_their_spacing() {
    let params = VehicleParams::DRONE;
    let lap_mm = 400_000u64;
    let home = p(50_000, 50_000);
    let lap_us = path_time_us(&[square(), vec![square()[0]]].concat(), &params).expect("params");
    for rank in 0..4u64 {
        let start = lap_mm * rank / 4;
        let (entry, _) = point_along(&square(), true, u128::from(start)).expect("route");
        assert_eq!(entry, square()[usize::try_from(rank).expect("small")]);
        let mut v = Vehicle::new(params, home).expect("params");
        v.command(0, patrol(start)).expect("patrol");
        let reach = v.next_event_us().expect("flying to the loop");
        v.advance(reach);
        assert_eq!(v.position(), entry, "rank {rank}");
        // Whole laps later it is back at its entry.
        v.advance(reach + u64::try_from(lap_us * 7).expect("fits"));
        assert_eq!(v.position(), entry, "rank {rank} after 7 laps");
        assert!(!v.is_idle(), "a patrol never ends");
    }
    // An offset inside a side: entered there, and the lap closes there.
    let (mid, next) = point_along(&square(), true, 150_000).expect("route");
    assert_eq!((mid, next), (p(100_000, 50_000), 2));
    let mut v = Vehicle::new(params, mid).expect("params");
    v.command(0, patrol(150_000)).expect("patrol");
    // Already there: the first leg goes to the next corner.
    let first = v.next_event_us().expect("moving");
    v.advance(first);
    assert_eq!(v.position(), p(100_000, 100_000));
}

#[test]
fn a_long_advance_skips_whole_laps_exactly_and_fast() {
    let params = VehicleParams::DRONE;
    let mut stepped = Vehicle::new(params, p(-20_000, 0)).expect("params");
    stepped.command(0, patrol(30_000)).expect("patrol");
    let mut jumped = stepped.clone();
    let hour = 3_600 * S;
    while let Some(t) = stepped.next_event_us().filter(|&t| t <= hour) {
        stepped.advance(t);
    }
    stepped.advance(hour);
    jumped.advance(hour);
    assert_eq!(jumped.position(), stepped.position());
    assert_eq!(jumped.energy_used_uj(), stepped.energy_used_uj());
    assert_eq!(jumped.distance_mm(), stepped.distance_mm());
    assert_eq!(jumped.moving_us(), stepped.moving_us());
    assert_eq!(jumped.next_event_us(), stepped.next_event_us());
    // A year of patrolling in one call is immediate (laps are skipped, not flown).
    let started = std::time::Instant::now();
    let mut year = jumped.clone();
    year.advance(365 * 24 * hour);
    assert!(started.elapsed().as_millis() < 100);
    assert!(
        year.distance_mm() > 100_000_000_000,
        "{}",
        year.distance_mm()
    );
}

#[test]
fn a_new_command_mid_segment_brakes_first() {
    let mut v = Vehicle::new(VehicleParams::DRONE, p(0, 0)).expect("params");
    v.command(0, Maneuver::Goto(p(100_000, 0))).expect("goto");
    v.advance(10 * S); // cruising at 5 m/s, 45 m out
    assert_eq!(v.position(), p(45_000, 0));
    v.command(10 * S, Maneuver::Goto(p(0, 0))).expect("goto");
    // Braking 5 m along the old heading (2 s), then 50 m back (12 s).
    let stop = v.next_event_us().expect("braking");
    v.advance(stop);
    assert_eq!(v.position(), p(50_000, 0));
    let home = v.next_event_us().expect("returning");
    assert_eq!(home - stop, 12 * S);
    v.advance(home);
    assert_eq!(v.position(), p(0, 0));
    assert_eq!(v.distance_mm(), 100_000);
}
