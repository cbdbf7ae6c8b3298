//! The HiveMind scenarios S1–S10 as missions in the HiveMind language, on
//! the paper's testbed (16 drones, 14 robot cars, 12 servers × 40 cores).
//!
//! The `.hm` files under `missions/` are the source of truth; this crate
//! embeds them so tools and tests can use them without a file system.

/// One scenario: its id (`s01` … `s10`), file name and text.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub id: &'static str,
    pub file: &'static str,
    pub source: &'static str,
}

macro_rules! scenarios {
    ($($id:literal => $file:literal),* $(,)?) => {
        /// All ten scenarios, in order.
        pub const SCENARIOS: &[Scenario] = &[
            $(Scenario { id: $id, file: $file, source: include_str!(concat!("../missions/", $file)) },)*
        ];
    };
}

scenarios! {
    "s01" => "s01_face_recognition.hm",
    "s02" => "s02_tree_recognition.hm",
    "s03" => "s03_drone_detection.hm",
    "s04" => "s04_obstacle_avoidance.hm",
    "s05" => "s05_people_dedup.hm",
    "s06" => "s06_maze_navigation.hm",
    "s07" => "s07_weather_analytics.hm",
    "s08" => "s08_soil_analytics.hm",
    "s09" => "s09_image_to_text.hm",
    "s10" => "s10_slam.hm",
}

/// Missions beyond the paper's scenarios that show one language feature
/// each end to end (`search_and_rescue`: a declared sensor, a patrol, and
/// behaviours driven by data).
pub const SHOWCASES: &[Scenario] = &[Scenario {
    id: "sar",
    file: "search_and_rescue.hm",
    source: include_str!("../missions/search_and_rescue.hm"),
}];

/// Find a scenario or showcase by id (`s02`) or by file stem (`s02_tree_recognition`).
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS
        .iter()
        .chain(SHOWCASES)
        .find(|s| s.id == name || s.file.trim_end_matches(".hm") == name)
}
