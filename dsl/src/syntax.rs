//! Abstract syntax tree: what the mission text says, with spans, before any
//! meaning is checked. Numbers keep their source text and units stay words;
//! the checker ([`crate::check`]) turns them into typed, SI-scaled values.
//!
//! Declarations and items keep source order so the formatter can reproduce
//! the author's structure.

use serde::Serialize;

/// Half-open byte range `[start, end)` into the mission source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// Smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A number as written (`-1.50`), kept verbatim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Number {
    pub text: String,
    pub span: Span,
}

/// `number unit?` — `20 Mbit/s`, `1 s`, `16`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    pub number: Number,
    pub unit: Option<Ident>,
    pub span: Span,
}

/// `$0.0000166` — dollars as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Money {
    pub number: Number,
    pub span: Span,
}

/// A non-negative integer literal (counts, pixel sizes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Int {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub width: Int,
    pub height: Int,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub x: Quantity,
    pub y: Quantity,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mission {
    pub name: Ident,
    pub decls: Vec<Decl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Decl {
    Duration(DurationDecl),
    Area(AreaDecl),
    Sensor(SensorDecl),
    Fleet(FleetDecl),
    Cloud(CloudDecl),
    Task(TaskDecl),
    Flow(FlowDecl),
    Require(RequireDecl),
    Minimize(MinimizeDecl),
    Policy(PolicyDecl),
    Learning(LearningDecl),
}

impl Decl {
    pub fn span(&self) -> Span {
        match self {
            Decl::Duration(d) => d.span,
            Decl::Area(d) => d.span,
            Decl::Sensor(d) => d.span,
            Decl::Fleet(d) => d.span,
            Decl::Cloud(d) => d.span,
            Decl::Task(d) => d.span,
            Decl::Flow(d) => d.span,
            Decl::Require(d) => d.span,
            Decl::Minimize(d) => d.span,
            Decl::Policy(d) => d.span,
            Decl::Learning(d) => d.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DurationDecl {
    pub value: Quantity,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaDecl {
    pub name: Ident,
    pub shape: Shape,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Shape {
    /// `rect(x0, y0, x1, y1)`: opposite corners.
    Rect {
        corners: Box<[Quantity; 4]>,
        span: Span,
    },
    Polygon {
        points: Vec<Point>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetDecl {
    pub name: Ident,
    pub class: Ident,
    pub count: Int,
    pub props: Vec<DeviceProp>,
    pub span: Span,
}

/// A property line of a fleet or of the cloud (they share `cpu` and `memory`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DeviceProp {
    Cpu {
        clock: Quantity,
        cores: Option<Int>,
        span: Span,
    },
    Battery {
        capacity: Quantity,
        voltage: Option<Quantity>,
        span: Span,
    },
    Radio {
        bandwidth: Quantity,
        range: Option<Quantity>,
        /// `shared`: the fleet's devices share one channel of this rate.
        shared: bool,
        span: Span,
    },
    Speed {
        value: Quantity,
        span: Span,
    },
    Power {
        value: Quantity,
        span: Span,
    },
    Memory {
        value: Quantity,
        span: Span,
    },
    Sensors {
        sensors: Vec<Sensor>,
        span: Span,
    },
    Home {
        point: Point,
        span: Span,
    },
    Servers {
        count: Int,
        span: Span,
    },
    Cores {
        count: Int,
        span: Span,
    },
    Price {
        dollars: Money,
        per: Ident,
        span: Span,
    },
    Fpga {
        boards: Option<Int>,
        span: Span,
    },
    ColdStart {
        value: Quantity,
        span: Span,
    },
}

impl DeviceProp {
    pub fn span(&self) -> Span {
        match self {
            DeviceProp::Cpu { span, .. }
            | DeviceProp::Battery { span, .. }
            | DeviceProp::Radio { span, .. }
            | DeviceProp::Speed { span, .. }
            | DeviceProp::Power { span, .. }
            | DeviceProp::Memory { span, .. }
            | DeviceProp::Sensors { span, .. }
            | DeviceProp::Home { span, .. }
            | DeviceProp::Servers { span, .. }
            | DeviceProp::Cores { span, .. }
            | DeviceProp::Price { span, .. }
            | DeviceProp::Fpga { span, .. }
            | DeviceProp::ColdStart { span, .. } => *span,
        }
    }

    /// The keyword that starts the line; used for duplicate detection.
    pub fn keyword(&self) -> &'static str {
        match self {
            DeviceProp::Cpu { .. } => "cpu",
            DeviceProp::Battery { .. } => "battery",
            DeviceProp::Radio { .. } => "radio",
            DeviceProp::Speed { .. } => "speed",
            DeviceProp::Power { .. } => "power",
            DeviceProp::Memory { .. } => "memory",
            DeviceProp::Sensors { .. } => "sensors",
            DeviceProp::Home { .. } => "home",
            DeviceProp::Servers { .. } => "servers",
            DeviceProp::Cores { .. } => "cores",
            DeviceProp::Price { .. } => "price",
            DeviceProp::Fpga { .. } => "fpga",
            DeviceProp::ColdStart { .. } => "cold_start",
        }
    }
}

/// `camera(640x360)`, `gps`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensor {
    pub name: Ident,
    pub resolution: Option<Resolution>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudDecl {
    pub props: Vec<DeviceProp>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDecl {
    pub name: Ident,
    /// `None` when the header has no parentheses at all.
    pub params: Option<Vec<Param>>,
    /// Every placement pin written, in the header or the body (at most one is valid).
    pub pins: Vec<Pin>,
    /// Outputs from the header `-> …` and from body `out …` lines, in order.
    pub outputs: Vec<Output>,
    pub items: Vec<TaskItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    pub ty: Option<DataType>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub name: Ident,
    pub ty: Option<DataType>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PinKind {
    On,
    At,
}

/// `on drones`, `at cloud`, `at edge`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pin {
    pub kind: PinKind,
    pub target: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DataType {
    Image {
        resolution: Resolution,
        channels: Option<Ident>,
        span: Span,
    },
    List {
        element: Box<DataType>,
        max_items: Int,
        span: Span,
    },
    /// A named opaque payload of a given size: `boxes 4 KB`.
    /// A named opaque payload of a given size: `boxes 4 KB`; without a
    /// size, a declared sensor's reading (`rfid`).
    Blob {
        kind: Ident,
        size: Option<Quantity>,
        span: Span,
    },
}

impl DataType {
    pub fn span(&self) -> Span {
        match self {
            DataType::Image { span, .. }
            | DataType::List { span, .. }
            | DataType::Blob { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FnRef {
    Name(Ident),
    /// A quoted reference (a path or a command), without the quotes.
    Quoted {
        text: String,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum GotoTarget {
    Point(Point),
    Area(Ident),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FanOut {
    Count(Int),
    PerItem,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Gather {
    All,
    Count(Int),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TaskItem {
    Work {
        amount: Quantity,
        per_item: bool,
        span: Span,
    },
    Fn {
        target: FnRef,
        span: Span,
    },
    Every {
        period: Quantity,
        span: Span,
    },
    Once {
        span: Span,
    },
    Cover {
        area: Ident,
        span: Span,
    },
    Lane {
        width: Quantity,
        span: Span,
    },
    Goto {
        target: GotoTarget,
        span: Span,
    },
    Return {
        span: Span,
    },
    Land {
        span: Span,
    },
    FanOut {
        how: FanOut,
        span: Span,
    },
    Gather {
        how: Gather,
        span: Span,
    },
    Priority {
        level: Ident,
        span: Span,
    },
    Needs {
        sensors: Vec<Sensor>,
        span: Span,
    },
    /// `route P, P, …` (once, in order) or `patrol P, P, …` (looping).
    Route {
        waypoints: Vec<Point>,
        looping: bool,
        span: Span,
    },
    /// `assign 2 nearest`, `assign 1 by battery`.
    Assign {
        count: Int,
        rule: Ident,
        span: Span,
    },
}

impl TaskItem {
    pub fn span(&self) -> Span {
        match self {
            TaskItem::Work { span, .. }
            | TaskItem::Fn { span, .. }
            | TaskItem::Every { span, .. }
            | TaskItem::Once { span }
            | TaskItem::Cover { span, .. }
            | TaskItem::Lane { span, .. }
            | TaskItem::Goto { span, .. }
            | TaskItem::Return { span }
            | TaskItem::Land { span }
            | TaskItem::FanOut { span, .. }
            | TaskItem::Gather { span, .. }
            | TaskItem::Priority { span, .. }
            | TaskItem::Needs { span, .. }
            | TaskItem::Route { span, .. }
            | TaskItem::Assign { span, .. } => *span,
        }
    }

    pub fn keyword(&self) -> &'static str {
        match self {
            TaskItem::Work { .. } => "work",
            TaskItem::Fn { .. } => "fn",
            TaskItem::Every { .. } => "every",
            TaskItem::Once { .. } => "once",
            TaskItem::Cover { .. } => "cover",
            TaskItem::Lane { .. } => "lane",
            TaskItem::Goto { .. } => "goto",
            TaskItem::Return { .. } => "return",
            TaskItem::Land { .. } => "land",
            TaskItem::FanOut { .. } => "fanout",
            TaskItem::Gather { .. } => "gather",
            TaskItem::Priority { .. } => "priority",
            TaskItem::Needs { .. } => "needs",
            TaskItem::Route { looping: false, .. } => "route",
            TaskItem::Route { looping: true, .. } => "patrol",
            TaskItem::Assign { .. } => "assign",
        }
    }
}

/// `sensor rfid { rate 20 Hz, size 10 KB }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorDecl {
    pub name: Ident,
    pub props: Vec<SensorProp>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SensorProp {
    /// Readings per second.
    Rate { value: Quantity, span: Span },
    /// The time between readings (for sensors slower than 1 Hz).
    Every { value: Quantity, span: Span },
    /// Bytes of one reading.
    Size { value: Quantity, span: Span },
}

impl SensorProp {
    pub fn span(&self) -> Span {
        match self {
            SensorProp::Rate { span, .. }
            | SensorProp::Every { span, .. }
            | SensorProp::Size { span, .. } => *span,
        }
    }
    pub fn keyword(&self) -> &'static str {
        match self {
            SensorProp::Rate { .. } => "rate",
            SensorProp::Every { .. } => "every",
            SensorProp::Size { .. } => "size",
        }
    }
}

/// `flow a -> (b, c) -> d`: each step is one task or a parallel group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowDecl {
    pub steps: Vec<FlowStep>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowStep {
    pub tasks: Vec<Ident>,
    /// Written as a parenthesised group (even of one task).
    pub grouped: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
    pub fn is_upper_bound(self) -> bool {
        matches!(self, Cmp::Lt | Cmp::Le)
    }
}

/// `p99`, `p99.9`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentile {
    pub number: Number,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequireDecl {
    pub req: Requirement,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Requirement {
    Latency {
        from: Ident,
        to: Ident,
        percentile: Option<Percentile>,
        cmp: Cmp,
        bound: Quantity,
    },
    ExecTime {
        task: Option<Ident>,
        percentile: Option<Percentile>,
        cmp: Cmp,
        bound: Quantity,
    },
    CloudCost {
        cmp: Cmp,
        dollars: Money,
        per: Ident,
    },
    Battery {
        fleet: Option<Ident>,
        cmp: Cmp,
        bound: Quantity,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinimizeDecl {
    pub objectives: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum EventArg {
    /// `2x median`
    FactorOfMedian(Number),
    Percentile(Percentile),
    Quantity(Quantity),
}

/// The threshold in `on straggler(2x median)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventArgument {
    pub value: EventArg,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDecl {
    pub event: Ident,
    pub arg: Option<EventArgument>,
    pub actions: Vec<Action>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
    Repartition {
        area: Option<Ident>,
        span: Span,
    },
    Reassign {
        span: Span,
    },
    Relaunch {
        span: Span,
    },
    Retry {
        times: Int,
        backoff: Option<Quantity>,
        span: Span,
    },
    Abort {
        span: Span,
    },
    Return {
        span: Span,
    },
    Land {
        span: Span,
    },
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Repartition { span, .. }
            | Action::Reassign { span }
            | Action::Relaunch { span }
            | Action::Retry { span, .. }
            | Action::Abort { span }
            | Action::Return { span }
            | Action::Land { span } => *span,
        }
    }
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Repartition { .. } => "repartition",
            Action::Reassign { .. } => "reassign",
            Action::Relaunch { .. } => "relaunch",
            Action::Retry { .. } => "retry",
            Action::Abort { .. } => "abort",
            Action::Return { .. } => "return",
            Action::Land { .. } => "land",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearningDecl {
    pub enabled: bool,
    /// `None` for `learning on` without a body.
    pub retrain: Option<Vec<Retrain>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrain {
    pub task: Ident,
    pub every: Quantity,
    /// `from DATA_TASK`: the task whose outputs are the training samples.
    pub from: Option<Ident>,
    /// `model 40 MB`: the model pushed to the devices that run the task.
    pub model: Option<Quantity>,
    /// `work 2 Gop per sample`: training cost of one sample.
    pub work: Option<Quantity>,
    pub span: Span,
}
