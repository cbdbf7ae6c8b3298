//! One long advance equals many short ones.

use hivemind_ir::PointMm;
use hivemind_vehicle::{Maneuver, Vehicle, VehicleParams};
use proptest::prelude::*;

fn point() -> impl Strategy<Value = PointMm> {
    (-1_000_000i64..1_000_000, -1_000_000i64..1_000_000)
        .prop_map(|(x, y)| PointMm { x_mm: x, y_mm: y })
}

proptest! {
    #[test]
    fn small_steps_end_where_one_big_step_does(
        speed in 100u64..20_000,
        accel in 100u64..10_000,
        drone in any::<bool>(),
        start in point(),
        waypoints in prop::collection::vec(point(), 1..6),
        looping in any::<bool>(),
        start_mm in 0u64..5_000_000,
        steps in prop::collection::vec(1u64..50_000_000, 1..60),
    ) {
        let base = if drone { VehicleParams::DRONE } else { VehicleParams::CAR };
        let params = VehicleParams { cruise_mm_s: speed, accel_mm_s2: accel, ..base };
        let mut small = Vehicle::new(params, start).expect("params");
        small
            .command(0, Maneuver::Route { waypoints, looping, start_mm })
            .expect("route");
        let mut big = small.clone();
        let mut now = 0u64;
        for s in &steps {
            now += s;
            small.advance(now);
        }
        big.advance(now);
        let tolerance = i64::try_from(steps.len()).expect("few");
        let (a, b) = (small.position(), big.position());
        prop_assert!((a.x_mm - b.x_mm).abs() <= tolerance && (a.y_mm - b.y_mm).abs() <= tolerance,
            "{a:?} vs {b:?}");
        prop_assert_eq!(small.energy_used_uj(), big.energy_used_uj());
        prop_assert_eq!(small.moving_us(), big.moving_us());
        prop_assert_eq!(small.distance_mm(), big.distance_mm());
    }
}
