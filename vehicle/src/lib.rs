//! The vehicle model: how a drone or robot car moves and what it spends,
//! defined once for the cost model (predicted sweep and route times), the
//! swarm simulator and the edge agent's simulated vehicle.
//!
//! # Model
//!
//! A point mass in the plane. Every segment between two waypoints is flown
//! from rest to rest: accelerate at the acceleration limit up to cruise
//! speed, cruise, brake at the same limit to stop exactly at the waypoint
//! (a trapezoidal speed profile, or a triangular one when the segment is
//! too short to reach cruise). Turns therefore cost a stop and a restart,
//! which is what a waypoint mission with "stop at each waypoint" does and
//! an upper bound for one that cuts corners. A new command mid-segment
//! first brakes to a stop along the current heading.
//!
//! Energy: moving power while on a segment (a drone draws at least its
//! hover power), hover power while a drone is airborne and still, parked
//! power otherwise, plus whatever other consumers charge through
//! [`Vehicle::drain_uj`]. The battery is a bucket of µJ (no voltage sag,
//! no temperature, no Peukert effect).
//!
//! Not modelled: wind, climb and descent (take-off and landing are
//! instantaneous, flight is 2-D), turning radius, jerk limits, obstacles.
//! Parameter defaults and their sources are on [`VehicleParams`].
//!
//! # Arithmetic
//!
//! Integers only — µs, mm, mm/s, mm/s², mW, µJ — with `u128` intermediates,
//! saturating where a figure could exceed them and a 256-bit product where
//! a coordinate could (see `arith`), so no input panics or wraps: huge
//! coordinates saturate, parameters outside their ranges are refused
//! ([`ParamsError`]), maneuvers that cannot be flown are refused
//! ([`ManeuverError`]) and the vehicle keeps what it was doing.
//!
//! Motion is integrated exactly, in closed form per phase: positions are
//! functions of (segment, time into it), so one advance over an hour equals
//! any sequence of shorter ones, costs O(segments passed), and skips whole
//! laps of a patrol arithmetically. The closed forms the cost model reads
//! ([`segment_time_us`], [`path_time_us`], [`cover_path`]) use the same
//! segment profile and the same lane cursor as [`Vehicle`].

mod arith;
mod kinematics;
mod lanes;
mod maneuver;
mod params;
mod path;
pub mod strips;
mod vehicle;

pub use kinematics::segment_time_us;
pub use lanes::cover_waypoints;
pub use maneuver::{Maneuver, ManeuverError};
pub use params::{ParamsError, VehicleParams, ACCEL_MM_S2, POWER_MW_MAX, SPEED_MM_S};
pub use path::{cover_path, cover_time_us, path_time_us, point_along, CoverPath, COVER_WORK_LIMIT};
pub use vehicle::Vehicle;
