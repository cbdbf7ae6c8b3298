//! What a vehicle can be told to do, and why it may refuse.

use crate::params::ParamsError;
use hivemind_ir::{AreaShape, PointMm};
use serde::{Deserialize, Serialize};

/// One command to a vehicle; a new one replaces the current one (the
/// vehicle first brakes to a stop along its current segment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Maneuver {
    /// Stay where it is (a drone in the air hovers, on the ground stays parked).
    Hold,
    /// Fly straight to the point and stop there.
    Goto(PointMm),
    /// Fly through `waypoints`, stopping at each; a loop (patrol) goes
    /// round forever. The vehicle first flies to the point `start_mm`
    /// along the path (wrapping round a loop) and continues from there.
    Route {
        waypoints: Vec<PointMm>,
        looping: bool,
        start_mm: u64,
    },
    /// Sweep `strips` (x-ranges `[x_min, x_max]`) of `shape` in vertical
    /// lanes `lane_mm` apart (see `cover_waypoints`), strip after strip.
    Cover {
        shape: AreaShape,
        strips: Vec<(i64, i64)>,
        lane_mm: u64,
    },
    /// Fly to home and stop there (landing is a separate `Land`).
    ReturnHome(PointMm),
    /// Brake to a stop and land where it is: a drone stops drawing hover
    /// power; a car just stops.
    Land,
}

/// Why a maneuver (or a closed form of one) was refused; the vehicle keeps
/// its current maneuver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManeuverError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("a route needs at least one waypoint")]
    EmptyRoute,
    #[error("a cover needs a lane width above zero")]
    ZeroLane,
    #[error("cover strip [{0}, {1}] ends before it starts")]
    InvertedStrip(i64, i64),
    #[error("no lane of the cover meets the area")]
    NothingToCover,
    /// Only from `cover_path`: a polygon with more lanes × corners than
    /// `COVER_WORK_LIMIT` is not totalled (a vehicle can still fly it).
    #[error("the cover has too many lanes to total")]
    TooManyLanes,
}

/// Lane width and strips a cover can be flown with.
pub(crate) fn check_cover(strips: &[(i64, i64)], lane_mm: u64) -> Result<(), ManeuverError> {
    if lane_mm == 0 {
        return Err(ManeuverError::ZeroLane);
    }
    if let Some(&(a, b)) = strips.iter().find(|(a, b)| b < a) {
        return Err(ManeuverError::InvertedStrip(a, b));
    }
    if strips.is_empty() {
        return Err(ManeuverError::NothingToCover);
    }
    Ok(())
}
