//! The checked task graph: the only thing later stages (synthesizer,
//! controller, simulator) read.
//!
//! Conventions
//! * Every quantity is an integer in a fixed base unit named by the field's
//!   suffix: `_us` microseconds, `_mm` millimetres, `_mm_s` mm/s, `_bytes`,
//!   `_bps` bit/s, `_hz`, `_ops` operations, `_uah` µAh, `_mv` millivolts,
//!   `_uj` microjoules, `_mw` milliwatts, `_bp` basis points (1/100 of a
//!   percent), `_nusd` nano-dollars.
//! * Ids are dense indices in declaration order (`tasks[i].id == i`), so later
//!   stages can use them as array indices; names are unique per kind.
//! * Spans point back into the mission source for error mapping.
//! * Serialization is deterministic (no hash maps): the same source gives the
//!   same bytes.

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to the JSON shape.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskGraph {
    pub schema_version: u32,
    pub mission: String,
    pub source: SourceInfo,
    /// Mission length: as written, else [`crate::defaults::MISSION_DURATION_US`].
    pub duration_us: u64,
    /// Whether the mission wrote `duration`.
    pub duration_stated: bool,
    pub areas: Vec<Area>,
    /// Sensors the mission declares (`sensor rfid { … }`), in order;
    /// [`SensorKind::Declared`] indexes this.
    pub sensors: Vec<DeclaredSensor>,
    pub fleets: Vec<Fleet>,
    pub cloud: Option<Cloud>,
    pub tasks: Vec<Task>,
    /// Data edges first (in consumer order, then input order), then ordering
    /// edges from `flow` that carry no data.
    pub edges: Vec<Edge>,
    pub requirements: Vec<Requirement>,
    /// Lexicographic: the first is optimised first. The mission's, else
    /// [`crate::defaults::OBJECTIVES`].
    pub objectives: Vec<Objective>,
    /// Whether the mission wrote `minimize`.
    pub objectives_stated: bool,
    pub policies: Policies,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    pub file: String,
    /// SHA-256 of the mission text, hex.
    pub sha256: String,
    pub bytes: u64,
}

/// Where a fact came from: byte range plus 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrcSpan {
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub col: u32,
}

macro_rules! id_type {
    ($name:ident) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
id_type!(TaskId);
id_type!(FleetId);
id_type!(AreaId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointMm {
    pub x_mm: i64,
    pub y_mm: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub id: AreaId,
    pub name: String,
    pub shape: AreaShape,
    /// Enclosed area in mm².
    pub size_mm2: u128,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AreaShape {
    /// Axis-aligned, `min` < `max` on both axes.
    Rect { min: PointMm, max: PointMm },
    /// Simple (non-self-intersecting) polygon, corners in written order.
    Polygon { points: Vec<PointMm> },
}

impl AreaShape {
    /// Lower-left and upper-right corners of the axis-aligned bounding box
    /// (the origin for a polygon without corners, which `validate` refuses).
    pub fn bounding_box(&self) -> (PointMm, PointMm) {
        match self {
            AreaShape::Rect { min, max } => (*min, *max),
            AreaShape::Polygon { points } => {
                let xs = points.iter().map(|q| q.x_mm);
                let ys = points.iter().map(|q| q.y_mm);
                (
                    PointMm {
                        x_mm: xs.clone().min().unwrap_or(0),
                        y_mm: ys.clone().min().unwrap_or(0),
                    },
                    PointMm {
                        x_mm: xs.max().unwrap_or(0),
                        y_mm: ys.max().unwrap_or(0),
                    },
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Drone,
    Car,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    Camera,
    DepthCamera,
    Thermal,
    Lidar,
    Gps,
    Imu,
    Ultrasonic,
    Microphone,
    Temperature,
    Humidity,
    Pressure,
    Wind,
    SoilMoisture,
    Ph,
    /// A sensor the mission declares: index into [`TaskGraph::sensors`].
    Declared(u32),
}

impl SensorKind {
    pub const ALL: &'static [(&'static str, SensorKind)] = &[
        ("camera", SensorKind::Camera),
        ("depth_camera", SensorKind::DepthCamera),
        ("thermal", SensorKind::Thermal),
        ("lidar", SensorKind::Lidar),
        ("gps", SensorKind::Gps),
        ("imu", SensorKind::Imu),
        ("ultrasonic", SensorKind::Ultrasonic),
        ("microphone", SensorKind::Microphone),
        ("temperature", SensorKind::Temperature),
        ("humidity", SensorKind::Humidity),
        ("pressure", SensorKind::Pressure),
        ("wind", SensorKind::Wind),
        ("soil_moisture", SensorKind::SoilMoisture),
        ("ph", SensorKind::Ph),
    ];
    pub fn name(self) -> &'static str {
        SensorKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
    /// Sensors that produce images and so may state a resolution.
    pub fn is_imaging(self) -> bool {
        matches!(
            self,
            SensorKind::Camera | SensorKind::DepthCamera | SensorKind::Thermal
        )
    }
}

/// `sensor rfid { rate 20 Hz, size 10 KB }`: a sensor the built-in list
/// lacks, with how often it gives a reading and how large one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSensor {
    pub name: String,
    /// Time between readings (`rate 20 Hz` is 50,000 µs, rounded to the
    /// nearest microsecond); a source task that reads the sensor and states
    /// no `every` fires once per reading.
    pub period_us: Option<u64>,
    /// Bytes of one reading: the size of the data type named after the sensor.
    pub reading_bytes: Option<u64>,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    pub kind: SensorKind,
    /// Width × height in pixels, for imaging sensors that state one.
    pub resolution: Option<[u32; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    pub id: FleetId,
    pub name: String,
    pub class: DeviceClass,
    pub count: u32,
    pub cpu_hz: u64,
    pub cores: u32,
    /// Usable battery energy per device.
    pub battery_uj: u64,
    /// Charge and voltage as written, when given that way.
    pub battery_charge_uah: Option<u64>,
    pub battery_voltage_mv: Option<u64>,
    pub radio_bps: u64,
    /// `radio … shared`: the fleet's devices share one channel of
    /// `radio_bps` (one access point), instead of one link each.
    #[serde(default)]
    pub radio_shared: bool,
    /// `radio … range R`: the link reaches R from the fleet's base station
    /// (at its `home`); a device farther away has no link until it comes
    /// back (the simulator models this; the cost model assumes every
    /// device is in range).
    pub radio_range_mm: Option<u64>,
    /// Cruise speed; required when a task of the fleet moves.
    pub speed_mm_s: Option<u64>,
    /// CPU active power; `None` means "use the cost model's default".
    pub cpu_power_mw: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub sensors: Vec<Sensor>,
    pub home: Option<PointMm>,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    pub servers: u32,
    pub cores_per_server: u32,
    pub cpu_hz: Option<u64>,
    pub memory_bytes_per_server: Option<u64>,
    /// Serverless price in nano-dollars per GB-second (GB = 10⁹ bytes).
    pub price_nusd_per_gb_s: Option<u64>,
    pub fpga: bool,
    pub fpga_boards: u32,
    pub cold_start_us: Option<u64>,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataType {
    pub kind: DataKind,
    /// Size of one value (for a list: at its maximum length).
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataKind {
    Image {
        width: u32,
        height: u32,
        bytes_per_pixel: u8,
    },
    List {
        element: Box<DataType>,
        max_items: u32,
    },
    Blob {
        name: String,
    },
}

impl DataType {
    /// How the type is written in the language.
    pub fn describe(&self) -> String {
        match &self.kind {
            DataKind::Image {
                width,
                height,
                bytes_per_pixel,
            } => {
                let ch = match bytes_per_pixel {
                    1 => " gray",
                    2 => " depth",
                    4 => " rgba",
                    _ => "",
                };
                format!("image {width}x{height}{ch}")
            }
            DataKind::List { element, max_items } => {
                format!("list<{}> x {max_items}", element.describe())
            }
            DataKind::Blob { name } => format!("{name} {} B", self.bytes),
        }
    }
    /// Items per value: the list length, or 1.
    pub fn items(&self) -> u32 {
        match &self.kind {
            DataKind::List { max_items, .. } => *max_items,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: TaskId,
    pub name: String,
    pub inputs: Vec<Input>,
    pub outputs: Vec<OutputData>,
    pub work: Option<Work>,
    /// Function the task calls (`fn`), resolved by the runtime.
    pub function: Option<String>,
    pub placement: Placement,
    pub trigger: Trigger,
    pub behaviour: Option<Behaviour>,
    pub fanout: Option<FanOut>,
    pub gather: Option<Gather>,
    pub priority: Priority,
    /// Sensors the task reads; the device running it must have them.
    pub needs: Vec<Sensor>,
    /// Which devices of its fleet run each value (`assign 2 nearest`).
    pub assign: Option<Assign>,
    pub span: SrcSpan,
    /// Where the placement pin is written, if any (for explanations).
    pub pin_span: Option<SrcSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub name: String,
    pub producer: TaskId,
    pub ty: DataType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputData {
    pub name: String,
    pub ty: DataType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Work {
    pub ops: u64,
    /// `ops` is per item of the list input (so total = ops × items).
    pub per_item: bool,
}

/// Where the mission allows the task to run; the synthesizer chooses within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Placement {
    Any,
    Edge,
    Cloud,
    Fleet { fleet: FleetId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A source that runs every period (see [`crate::activation`] for where).
    Periodic { period_us: u64 },
    /// `every` on a task with inputs: a tumbling window that fires once per
    /// period with the values gathered in it, none when empty.
    Window { period_us: u64 },
    /// Runs once at mission start.
    Once,
    /// Runs when its inputs (or ordering predecessors) complete.
    Upstream,
    /// A swarm behaviour: runs for the whole mission.
    Behaviour,
    /// Nothing starts it (a warning was reported).
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// Sweep the area in lanes of the given width (as written, else
    /// [`crate::defaults::LANE_MM`]).
    Cover {
        area: AreaId,
        lane_mm: u64,
    },
    GotoPoint {
        point: PointMm,
    },
    GotoArea {
        area: AreaId,
    },
    /// `goto p` where `p` is an input: go where the value was sensed (the
    /// position of the device it originated on when the task fires). Runs
    /// per value on the devices its [`Assign`] picks.
    GotoInput {
        /// Index into the task's inputs.
        input: u32,
    },
    /// `route` (once, in order, then hold at the last waypoint) or `patrol`
    /// (looping; the fleet's devices start evenly spaced along the loop).
    Route {
        waypoints: Vec<PointMm>,
        looping: bool,
    },
    ReturnHome,
    Land,
}

/// Which devices of the task's fleet run each value: the `count` nearest to
/// where the value was sensed, or the `count` with the most battery left;
/// ties go to the lower device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub count: u32,
    pub by: AssignBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignBy {
    Nearest,
    Battery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FanOut {
    Fixed { width: u32 },
    PerItem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Gather {
    All,
    Count { n: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: TaskId,
    pub to: TaskId,
    pub kind: EdgeKind,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EdgeKind {
    /// `bytes` per transfer (one value of the data's type).
    Data { name: String, bytes: u64 },
    /// Sequencing from `flow` without data.
    Order,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: u32,
    pub kind: RequirementKind,
    /// `<=`/`>=` rather than `<`/`>`.
    pub inclusive: bool,
    /// The requirement as written, for explanations.
    pub text: String,
    pub span: SrcSpan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RequirementKind {
    /// Time from `from` starting to `to` finishing, at `percentile_bp`
    /// (10000 = every instance).
    Latency {
        from: TaskId,
        to: TaskId,
        percentile_bp: u32,
        bound_us: u64,
    },
    /// One task's execution time, or the whole mission's when `task` is None.
    ExecTime {
        task: Option<TaskId>,
        percentile_bp: u32,
        bound_us: u64,
    },
    CloudCost {
        max_nusd_per_hour: u64,
    },
    /// Battery left at mission end, for one fleet or all.
    BatteryReserve {
        fleet: Option<FleetId>,
        min_bp: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    Latency,
    Energy,
    Cost,
    Bytes,
    ExecTime,
}

impl Objective {
    pub const ALL: &'static [(&'static str, Objective)] = &[
        ("latency", Objective::Latency),
        ("energy", Objective::Energy),
        ("cost", Objective::Cost),
        ("bytes", Objective::Bytes),
        ("exec_time", Objective::ExecTime),
    ];
}

/// Effective policies: what the mission wrote, or the documented default
/// (`span: None`). Later stages never invent their own defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    pub device_failure: FailurePolicy,
    pub straggler: Option<StragglerPolicy>,
    pub task_error: RetryPolicy,
    pub low_battery: Option<LowBatteryPolicy>,
    pub learning: Learning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicy {
    pub action: FailureAction,
    pub span: Option<SrcSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FailureAction {
    /// Re-split these areas among the surviving devices and re-place queued work.
    Repartition {
        areas: Vec<AreaId>,
    },
    /// Re-place queued and in-flight work only.
    Reassign,
    Abort,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StragglerPolicy {
    pub threshold: StragglerThreshold,
    pub span: Option<SrcSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StragglerThreshold {
    /// Slower than `permille`/1000 × the task kind's median.
    FactorOfMedian {
        permille: u32,
    },
    /// Slower than this percentile of the task kind.
    Percentile {
        bp: u32,
    },
    Absolute {
        us: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    pub retries: u32,
    pub backoff_us: u64,
    pub abort_after: bool,
    pub span: Option<SrcSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowBatteryPolicy {
    pub threshold_bp: u32,
    pub action: LowBatteryAction,
    pub span: Option<SrcSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LowBatteryAction {
    ReturnHome,
    Land,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Learning {
    pub enabled: bool,
    pub retrain: Vec<Retrain>,
    pub span: Option<SrcSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retrain {
    /// The task whose model is retrained (it calls a `fn`).
    pub task: TaskId,
    /// Rounds at `period_us, 2·period_us, …` after mission start
    /// ([`crate::activation::retrain_rounds`]).
    pub period_us: u64,
    /// The task whose output values are the training samples (one per
    /// value, one per item of a list value).
    pub data: TaskId,
    /// Size of the model pushed to every device that runs `task`.
    pub model_bytes: u64,
    /// Training work per sample: as written, else
    /// [`crate::defaults::TRAIN_OPS_PER_SAMPLE`].
    pub train_ops_per_sample: u64,
    pub span: SrcSpan,
}

#[derive(Debug, thiserror::Error)]
pub enum IrError {
    #[error("not a HiveMind task graph: {0}")]
    Json(#[from] serde_json::Error),
    #[error("task graph schema version {found} is not supported (this build reads version {SCHEMA_VERSION})")]
    Version { found: u64 },
    #[error("task graph is inconsistent: {0}")]
    Inconsistent(String),
}

impl TaskGraph {
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data with no maps cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a task graph written by `hivemind compile`, checking the schema
    /// version first (so an old file gets a version error, not a field error)
    /// and the id invariants after.
    pub fn from_json(text: &str) -> Result<TaskGraph, IrError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let found = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if found != u64::from(SCHEMA_VERSION) {
            return Err(IrError::Version { found });
        }
        let graph: TaskGraph = serde_json::from_value(value)?;
        graph.validate()?;
        Ok(graph)
    }

    /// Ids are dense indices and every reference points at something.
    pub fn validate(&self) -> Result<(), IrError> {
        let bad = |what: String| Err(IrError::Inconsistent(what));
        for (i, t) in self.tasks.iter().enumerate() {
            if t.id.index() != i {
                return bad(format!("task `{}` has id {} at index {i}", t.name, t.id.0));
            }
        }
        for (i, f) in self.fleets.iter().enumerate() {
            if f.id.index() != i {
                return bad(format!("fleet `{}` has id {} at index {i}", f.name, f.id.0));
            }
        }
        for (i, a) in self.areas.iter().enumerate() {
            if a.id.index() != i {
                return bad(format!("area `{}` has id {} at index {i}", a.name, a.id.0));
            }
        }
        let n = self.tasks.len();
        for e in &self.edges {
            if e.from.index() >= n || e.to.index() >= n {
                return bad(format!(
                    "edge {} -> {} names a missing task",
                    e.from.0, e.to.0
                ));
            }
        }
        for t in &self.tasks {
            if let Placement::Fleet { fleet } = t.placement {
                if fleet.index() >= self.fleets.len() {
                    return bad(format!(
                        "task `{}` is placed on missing fleet {}",
                        t.name, fleet.0
                    ));
                }
            }
            if t.inputs.iter().any(|i| i.producer.index() >= n) {
                return bad(format!("task `{}` reads from a missing task", t.name));
            }
            match &t.behaviour {
                Some(Behaviour::Cover { area, lane_mm }) => {
                    self.area_exists(*area, &t.name)?;
                    if *lane_mm == 0 {
                        return bad(format!("task `{}` covers in lanes of width 0", t.name));
                    }
                }
                Some(Behaviour::GotoArea { area }) => self.area_exists(*area, &t.name)?,
                Some(Behaviour::GotoInput { input }) if *input as usize >= t.inputs.len() => {
                    return bad(format!("task `{}` goes to a missing input", t.name));
                }
                Some(Behaviour::Route { waypoints, .. }) if waypoints.is_empty() => {
                    return bad(format!("task `{}` has a route with no waypoint", t.name));
                }
                _ => {}
            }
            if matches!(t.assign, Some(Assign { count: 0, .. })) {
                return bad(format!("task `{}` is assigned to 0 devices", t.name));
            }
            let sensor_ok = |s: &Sensor| match s.kind {
                SensorKind::Declared(i) => (i as usize) < self.sensors.len(),
                _ => true,
            };
            if !t.needs.iter().all(sensor_ok) {
                return bad(format!("task `{}` needs a missing sensor", t.name));
            }
            if let Trigger::Periodic { period_us: 0 } | Trigger::Window { period_us: 0 } = t.trigger
            {
                return bad(format!("task `{}` has a period of 0", t.name));
            }
            if matches!(t.fanout, Some(FanOut::Fixed { width: 0 }))
                || matches!(t.gather, Some(Gather::Count { n: 0 }))
            {
                return bad(format!("task `{}` fans out or gathers 0", t.name));
            }
        }
        for f in &self.fleets {
            let missing = f.sensors.iter().any(|s| match s.kind {
                SensorKind::Declared(i) => (i as usize) >= self.sensors.len(),
                _ => false,
            });
            if missing {
                return bad(format!("fleet `{}` has a missing sensor", f.name));
            }
        }
        if self.sensors.iter().any(|s| s.period_us == Some(0)) {
            return bad("a declared sensor has a period of 0".into());
        }
        for a in &self.areas {
            let ok = match &a.shape {
                AreaShape::Rect { min, max } => min.x_mm < max.x_mm && min.y_mm < max.y_mm,
                AreaShape::Polygon { points } => points.len() >= 3,
            };
            if !ok {
                return bad(format!("area `{}` has no interior", a.name));
            }
        }
        let task_ok = |t: TaskId| t.index() < n;
        let fleet_ok = |f: FleetId| f.index() < self.fleets.len();
        for r in &self.requirements {
            let ok = match r.kind {
                RequirementKind::Latency { from, to, .. } => task_ok(from) && task_ok(to),
                RequirementKind::ExecTime { task, .. } => task.is_none_or(task_ok),
                RequirementKind::BatteryReserve { fleet, .. } => fleet.is_none_or(fleet_ok),
                RequirementKind::CloudCost { .. } => true,
            };
            if !ok {
                return bad(format!(
                    "requirement `{}` names a missing task or fleet",
                    r.text
                ));
            }
        }
        if let FailureAction::Repartition { areas } = &self.policies.device_failure.action {
            if areas.iter().any(|a| a.index() >= self.areas.len()) {
                return bad("the device-failure policy repartitions a missing area".into());
            }
        }
        for r in &self.policies.learning.retrain {
            if !task_ok(r.task) || !task_ok(r.data) {
                return bad("a retrain policy names a missing task".into());
            }
            if r.period_us == 0 || r.model_bytes == 0 {
                return bad(format!(
                    "the retrain of task {} has a period or model size of 0",
                    r.task.0
                ));
            }
        }
        if topological_order(self).len() != n {
            return bad("the task graph has a cycle".into());
        }
        Ok(())
    }

    fn area_exists(&self, area: AreaId, task: &str) -> Result<(), IrError> {
        if area.index() < self.areas.len() {
            Ok(())
        } else {
            Err(IrError::Inconsistent(format!(
                "task `{task}` moves to a missing area {}",
                area.0
            )))
        }
    }

    /// SHA-256 of what the mission means: the graph without its source
    /// information (file name, text hash) and without spans, so the same
    /// mission read from `./m.hm` or `m.hm`, reformatted or commented, has the
    /// same identity. A plan is tied to this, not to the cost profile.
    pub fn identity_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.retain(|k, _| k != "source" && !k.ends_with("span"));
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = serde_json::to_value(self).unwrap_or_default();
        strip(&mut v);
        format!("{:x}", Sha256::digest(v.to_string().as_bytes()))
    }

    /// A sensor's name as the mission writes it.
    pub fn sensor_name(&self, kind: SensorKind) -> &str {
        match kind {
            SensorKind::Declared(i) => self.sensors.get(i as usize).map_or("?", |s| &s.name),
            builtin => builtin.name(),
        }
    }

    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Per task: whether it lies on some path from `from` to `to` (both
    /// included), i.e. is reachable from `from` and reaches `to`.
    pub fn tasks_between(&self, from: TaskId, to: TaskId) -> Vec<bool> {
        let n = self.tasks.len();
        let succ = self.successors();
        let pred = self.predecessors();
        let reach = |start: TaskId, next: &Vec<Vec<TaskId>>| {
            let mut seen = vec![false; n];
            let mut todo = vec![start];
            while let Some(v) = todo.pop() {
                if !std::mem::replace(&mut seen[v.index()], true) {
                    todo.extend(next[v.index()].iter().copied());
                }
            }
            seen
        };
        let down = reach(from, &succ);
        let up = reach(to, &pred);
        down.iter().zip(&up).map(|(a, b)| *a && *b).collect()
    }

    /// Distinct producers of each task over all edges (data and order), in
    /// edge order.
    pub fn predecessors(&self) -> Vec<Vec<TaskId>> {
        let mut pred = vec![Vec::new(); self.tasks.len()];
        for e in &self.edges {
            let list: &mut Vec<TaskId> = &mut pred[e.to.index()];
            if !list.contains(&e.from) {
                list.push(e.from);
            }
        }
        pred
    }

    /// Successors of each task over all edges, deduplicated, in edge order.
    pub fn successors(&self) -> Vec<Vec<TaskId>> {
        let mut succ = vec![Vec::new(); self.tasks.len()];
        for e in &self.edges {
            let list: &mut Vec<TaskId> = &mut succ[e.from.index()];
            if !list.contains(&e.to) {
                list.push(e.to);
            }
        }
        succ
    }
}

/// Kahn's algorithm over all edges (the checker guarantees a DAG).
pub fn topological_order(graph: &TaskGraph) -> Vec<TaskId> {
    let n = graph.tasks.len();
    let mut indeg = vec![0usize; n];
    let succ = graph.successors();
    for s in &succ {
        for t in s {
            indeg[t.index()] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).rev().collect();
    let mut out = Vec::with_capacity(n);
    while let Some(v) = ready.pop() {
        out.push(TaskId(v as u32));
        for t in &succ[v] {
            indeg[t.index()] -= 1;
            if indeg[t.index()] == 0 {
                ready.push(t.index());
            }
        }
    }
    out
}
