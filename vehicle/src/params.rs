//! What a vehicle is: its class, speed, acceleration, power draw and
//! battery, with documented defaults.

use hivemind_ir::DeviceClass;
use serde::{Deserialize, Serialize};

/// Cruise speeds the model accepts: 1 mm/s to 1 km/s (the cost profile's
/// `speed_mm_s` range).
pub const SPEED_MM_S: (u64, u64) = (1, 1_000_000);
/// Accelerations the model accepts: 1 mm/s² to 10⁶ m/s².
pub const ACCEL_MM_S2: (u64, u64) = (1, 1_000_000_000);
/// Powers the model accepts: at most 100 kW (the cost profile's range).
pub const POWER_MW_MAX: u64 = 100_000_000;

/// One vehicle's motion and battery parameters, in integer base units.
///
/// Deserialized parameters must be checked with [`VehicleParams::check`];
/// the motion code refuses (rather than misbehaves on) parameters outside
/// the ranges above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleParams {
    pub class: DeviceClass,
    /// Speed along a segment once accelerated.
    pub cruise_mm_s: u64,
    /// Acceleration limit, the same for braking.
    pub accel_mm_s2: u64,
    /// Power while moving along a segment.
    pub moving_mw: u64,
    /// Power while airborne and not moving (drones only; cars never hover).
    /// A drone moving draws at least this much.
    pub hover_mw: u64,
    /// Power while parked or landed, for motion alone: the CPU and radio
    /// are charged by whoever models them, through `Vehicle::drain_uj`.
    pub parked_mw: u64,
    /// Usable battery energy.
    pub battery_uj: u64,
}

impl VehicleParams {
    /// A Parrot AR.Drone 2.0-class quadcopter (the testbed of HiveMind and
    /// the examples' `drone` fleets).
    /// * 5 m/s cruise: the examples' survey speed (top speed ~11 m/s).
    /// * 2.5 m/s²: ArduCopter's default waypoint acceleration
    ///   (`WPNAV_ACCEL`, `AC_WPNav.h`: `WPNAV_ACCELERATION_MS 2.5`), within
    ///   the 2–4 m/s² multirotors fly missions at.
    /// * 55 W moving and hovering: 1500 mAh × 11.1 V = 16.65 Wh over
    ///   Parrot's ~18 min flight time (the cost profile's `motion_power_mw`);
    ///   a multirotor hovering draws about its cruise power.
    /// * 0 W parked: motors off; electronics are charged separately.
    /// * 16.65 Wh = 59,940 J battery.
    pub const DRONE: VehicleParams = VehicleParams {
        class: DeviceClass::Drone,
        cruise_mm_s: 5_000,
        accel_mm_s2: 2_500,
        moving_mw: 55_000,
        hover_mw: 55_000,
        parked_mw: 0,
        battery_uj: 59_940_000_000,
    };

    /// A Raspberry Pi 3-class robot car (the examples' `car` fleets).
    /// * 1 m/s cruise: walking pace, ArduPilot Rover frames' `CRUISE_SPEED`
    ///   of about 1 m/s (e.g. `Tools/Frame_params/AION_R1_Rover.param`).
    /// * 1 m/s²: between that frame's `ATC_ACCEL_MAX` 0.75 m/s² and
    ///   `ATC_DECEL_MAX` 1.5 m/s² (one figure serves both here).
    /// * 5 W moving: two small DC gear motors at walking pace (the cost
    ///   profile's assumption); a car does not hover (0 W).
    /// * 0 W parked: motors off; electronics are charged separately.
    /// * 5000 mAh × 7.4 V = 37 Wh = 133,200 J: the examples' car battery.
    pub const CAR: VehicleParams = VehicleParams {
        class: DeviceClass::Car,
        cruise_mm_s: 1_000,
        accel_mm_s2: 1_000,
        moving_mw: 5_000,
        hover_mw: 0,
        parked_mw: 0,
        battery_uj: 133_200_000_000,
    };

    /// The defaults of a class.
    pub const fn of(class: DeviceClass) -> VehicleParams {
        match class {
            DeviceClass::Drone => VehicleParams::DRONE,
            DeviceClass::Car => VehicleParams::CAR,
        }
    }

    /// Every value within its range.
    pub fn check(&self) -> Result<(), ParamsError> {
        let within = |key: &'static str, v: u64, (lo, hi): (u64, u64)| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(ParamsError::OutOfRange {
                    key,
                    value: v,
                    min: lo,
                    max: hi,
                })
            }
        };
        within("cruise_mm_s", self.cruise_mm_s, SPEED_MM_S)?;
        within("accel_mm_s2", self.accel_mm_s2, ACCEL_MM_S2)?;
        within("moving_mw", self.moving_mw, (0, POWER_MW_MAX))?;
        within("hover_mw", self.hover_mw, (0, POWER_MW_MAX))?;
        within("parked_mw", self.parked_mw, (0, POWER_MW_MAX))?;
        Ok(())
    }

    /// Power while moving: a drone draws at least its hover power.
    pub(crate) fn moving_power_mw(&self) -> u64 {
        match self.class {
            DeviceClass::Drone => self.moving_mw.max(self.hover_mw),
            DeviceClass::Car => self.moving_mw,
        }
    }
}

/// Parameters the model cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("vehicle parameter `{key}` = {value} is out of range [{min}, {max}]")]
    OutOfRange {
        key: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}
