//! Mission duration, areas, fleets and the cloud.

use super::quantities::{range, short, Range, POSITIVE};
use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, AreaId, AreaShape, DeviceClass, FleetId, PointMm, SensorKind};
use crate::suggest;
use crate::syntax::{Decl, DeviceProp, Mission, Point, Sensor, SensorProp, Shape, Span};
use crate::units::Dim;

const SECOND: i128 = 1_000_000;
const HOUR: i128 = 3_600 * SECOND;
/// Coordinates within ±1,000 km of the mission origin.
const COORD: Range = range(-1_000_000_000, 1_000_000_000);

pub(super) fn duration(cx: &mut Ctx, m: &Mission) -> Option<u64> {
    let mut seen: Option<Span> = None;
    let mut out = None;
    for d in &m.decls {
        if let Decl::Duration(d) = d {
            if let Some(first) = seen {
                cx.push(duplicate("`duration`", d.span, first));
                continue;
            }
            seen = Some(d.span);
            out = cx
                .measure(
                    &d.value,
                    Dim::Time,
                    "mission duration",
                    range(SECOND, 7 * 24 * HOUR),
                )
                .map(|v| v as u64);
        }
    }
    out
}

pub(super) fn duplicate(what: &str, here: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::DuplicateProperty, format!("{what} is given twice"))
        .label(here, "given again here")
        .label(first, "first given here")
        .help("keep one of them")
}

fn duplicate_name(kind: &str, name: &str, here: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::DuplicateName,
        format!("{kind} `{name}` is declared twice"),
    )
    .label(here, "declared again here")
    .label(first, "first declared here")
    .help(format!(
        "rename one of them; {kind} names are unique per mission"
    ))
}

fn point(cx: &mut Ctx, p: &Point) -> Option<PointMm> {
    let x = cx.measure(&p.x, Dim::Length, "a coordinate", COORD);
    let y = cx.measure(&p.y, Dim::Length, "a coordinate", COORD);
    Some(PointMm {
        x_mm: x? as i64,
        y_mm: y? as i64,
    })
}

pub(super) fn areas<'a>(cx: &mut Ctx<'a>, m: &'a Mission) {
    let mut first_span = std::collections::HashMap::new();
    for d in &m.decls {
        let Decl::Area(a) = d else { continue };
        if let Some(&first) = first_span.get(a.name.name.as_str()) {
            cx.push(duplicate_name("area", &a.name.name, a.name.span, first));
            continue;
        }
        first_span.insert(a.name.name.as_str(), a.name.span);
        let id = AreaId(cx.areas.len() as u32);
        cx.area_ids.insert(a.name.name.as_str(), id);
        let (shape, size) = match &a.shape {
            Shape::Rect { corners, span } => {
                let v: Vec<_> = corners
                    .iter()
                    .map(|q| cx.measure(q, Dim::Length, "a rectangle corner", COORD))
                    .collect();
                match (v[0], v[1], v[2], v[3]) {
                    (Some(x0), Some(y0), Some(x1), Some(y1)) if x1 > x0 && y1 > y0 => (
                        AreaShape::Rect {
                            min: PointMm {
                                x_mm: x0 as i64,
                                y_mm: y0 as i64,
                            },
                            max: PointMm {
                                x_mm: x1 as i64,
                                y_mm: y1 as i64,
                            },
                        },
                        ((x1 - x0) * (y1 - y0)) as u128,
                    ),
                    (Some(_), Some(_), Some(_), Some(_)) => {
                        cx.push(
                            Diagnostic::error(
                                Code::EmptyArea,
                                format!("rectangle `{}` has no extent", a.name.name),
                            )
                            .label(*span, "second corner is not above and right of the first")
                            .help("write `rect(x0, y0, x1, y1)` with x1 > x0 and y1 > y0"),
                        );
                        placeholder()
                    }
                    _ => placeholder(),
                }
            }
            Shape::Polygon { points, span } => polygon(cx, &a.name.name, points, *span),
        };
        let span = cx.span(a.span);
        cx.areas.push(ir::Area {
            id,
            name: a.name.name.clone(),
            shape,
            size_mm2: size,
            span,
        });
    }
}

fn placeholder() -> (AreaShape, u128) {
    (AreaShape::Polygon { points: Vec::new() }, 0)
}

fn polygon(cx: &mut Ctx, name: &str, points: &[Point], span: Span) -> (AreaShape, u128) {
    if points.len() < 3 || points.len() > 10_000 {
        cx.push(
            Diagnostic::error(
                Code::BadPolygon,
                format!("polygon `{name}` has {} corners", points.len()),
            )
            .label(span, "a polygon needs 3 to 10000 corners"),
        );
        return placeholder();
    }
    let pts: Vec<_> = points.iter().map(|p| point(cx, p)).collect();
    let Some(pts) = pts.into_iter().collect::<Option<Vec<_>>>() else {
        return placeholder();
    };
    if let Some((i, j)) = first_crossing(&pts) {
        cx.push(
            Diagnostic::error(Code::BadPolygon, format!("polygon `{name}` crosses itself"))
                .label(points[i].span, "the edge from this corner")
                .label(points[j].span, "crosses the edge from this one")
                .help("list the corners in order around the boundary"),
        );
        return placeholder();
    }
    let twice: i128 = (0..pts.len())
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            i128::from(a.x_mm) * i128::from(b.y_mm) - i128::from(b.x_mm) * i128::from(a.y_mm)
        })
        .sum();
    if twice == 0 {
        cx.push(
            Diagnostic::error(
                Code::EmptyArea,
                format!("polygon `{name}` encloses no area"),
            )
            .label(span, "all corners on one line"),
        );
        return placeholder();
    }
    (AreaShape::Polygon { points: pts }, twice.unsigned_abs() / 2)
}

/// First pair of non-adjacent polygon edges that intersect, by starting corner.
fn first_crossing(p: &[PointMm]) -> Option<(usize, usize)> {
    let n = p.len();
    if n > 2_000 {
        return None; // quadratic check; huge polygons are generated, not hand-written
    }
    let cross = |o: PointMm, a: PointMm, b: PointMm| -> i128 {
        (i128::from(a.x_mm) - i128::from(o.x_mm)) * (i128::from(b.y_mm) - i128::from(o.y_mm))
            - (i128::from(a.y_mm) - i128::from(o.y_mm)) * (i128::from(b.x_mm) - i128::from(o.x_mm))
    };
    let on_segment = |a: PointMm, b: PointMm, c: PointMm| {
        c.x_mm >= a.x_mm.min(b.x_mm)
            && c.x_mm <= a.x_mm.max(b.x_mm)
            && c.y_mm >= a.y_mm.min(b.y_mm)
            && c.y_mm <= a.y_mm.max(b.y_mm)
    };
    let intersects = |a: PointMm, b: PointMm, c: PointMm, d: PointMm| {
        let (d1, d2, d3, d4) = (
            cross(c, d, a),
            cross(c, d, b),
            cross(a, b, c),
            cross(a, b, d),
        );
        if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))
        {
            return true;
        }
        (d1 == 0 && on_segment(c, d, a))
            || (d2 == 0 && on_segment(c, d, b))
            || (d3 == 0 && on_segment(a, b, c))
            || (d4 == 0 && on_segment(a, b, d))
    };
    for i in 0..n {
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            if adjacent {
                continue;
            }
            if intersects(p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]) {
                return Some((i, j));
            }
        }
    }
    None
}

fn wrong_section(prop: &DeviceProp, section: &str, belongs: &str) -> Diagnostic {
    Diagnostic::error(
        Code::WrongSection,
        format!("`{}` does not belong in {section}", prop.keyword()),
    )
    .label(prop.span(), format!("only {belongs} have this"))
}

/// Reports duplicate property lines; returns the props with duplicates dropped.
fn dedup_props<'p>(cx: &mut Ctx, props: &'p [DeviceProp]) -> Vec<&'p DeviceProp> {
    let mut out: Vec<&DeviceProp> = Vec::new();
    for p in props {
        if let Some(first) = out.iter().find(|q| q.keyword() == p.keyword()) {
            cx.push(duplicate(
                &format!("`{}`", p.keyword()),
                p.span(),
                first.span(),
            ));
        } else {
            out.push(p);
        }
    }
    out
}

/// Sensors the mission declares: `sensor rfid { rate 20 Hz, size 10 KB }`.
pub(super) fn sensors<'a>(cx: &mut Ctx<'a>, m: &'a Mission) {
    let mut first_span = std::collections::HashMap::new();
    for d in &m.decls {
        let Decl::Sensor(x) = d else { continue };
        let name = x.name.name.as_str();
        if let Some(&first) = first_span.get(name) {
            cx.push(duplicate_name("sensor", name, x.name.span, first));
            continue;
        }
        if SensorKind::ALL.iter().any(|(n, _)| *n == name) {
            cx.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("`{name}` is a built-in sensor"),
                )
                .label(x.name.span, "already known to the language")
                .help(format!(
                    "use `{name}` in `sensors` and `needs` without declaring it, or declare your sensor under another name"
                )),
            );
            continue;
        }
        first_span.insert(name, x.name.span);
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        let (mut period_us, mut reading_bytes) = (None, None);
        for p in &x.props {
            let kw = p.keyword();
            if let Some(&(_, first)) = seen.iter().find(|(k, _)| *k == kw) {
                cx.push(duplicate(&format!("`{kw}`"), p.span(), first));
                continue;
            }
            if let Some(&(other, first)) = seen
                .iter()
                .find(|(k, _)| matches!((*k, kw), ("rate", "every") | ("every", "rate")))
            {
                cx.push(
                    Diagnostic::error(
                        Code::SensorRate,
                        format!("sensor `{name}` gives its rate twice (`{other}` and `{kw}`)"),
                    )
                    .label(p.span(), "second")
                    .label(first, "first")
                    .help("keep one: `rate 20 Hz` or `every 10 s`"),
                );
                continue;
            }
            seen.push((kw, p.span()));
            match p {
                SensorProp::Rate { value, .. } => {
                    period_us = cx
                        .measure(value, Dim::Frequency, "sensor rate", range(1, 1_000_000))
                        // Nearest microsecond: 3 Hz reads every 333,333 µs.
                        .map(|hz| ((2 * SECOND + hz) / (2 * hz)) as u64);
                }
                SensorProp::Every { value, .. } => {
                    period_us = cx
                        .measure(value, Dim::Time, "sensor period", range(1, 24 * HOUR))
                        .map(|us| us as u64);
                }
                SensorProp::Size { value, .. } => {
                    reading_bytes = cx
                        .measure(value, Dim::Data, "reading size", range(POSITIVE, 1 << 40))
                        .map(|b| b as u64);
                }
            }
        }
        cx.sensor_ids.insert(name, cx.sensors.len() as u32);
        let span = cx.span(x.span);
        cx.sensors.push(ir::DeclaredSensor {
            name: name.to_string(),
            period_us,
            reading_bytes,
            span,
        });
    }
}

pub(super) fn sensor(cx: &mut Ctx, s: &Sensor) -> Option<ir::Sensor> {
    if let Some(&id) = cx.sensor_ids.get(s.name.name.as_str()) {
        if let Some(r) = &s.resolution {
            return no_resolution(cx, s, r.span);
        }
        return Some(ir::Sensor {
            kind: SensorKind::Declared(id),
            resolution: None,
        });
    }
    let Some(&(_, kind)) = SensorKind::ALL.iter().find(|(n, _)| *n == s.name.name) else {
        let declared: Vec<&str> = cx.sensor_ids.keys().copied().collect();
        let names = || {
            SensorKind::ALL
                .iter()
                .map(|(n, _)| *n)
                .chain(declared.iter().copied())
        };
        let hint = suggest::did_you_mean(&s.name.name, names());
        let known: Vec<_> = names().collect();
        cx.unknown_with(Code::UnknownSensor, &s.name, |_| {
            Diagnostic::error(
                Code::UnknownSensor,
                format!("unknown sensor `{}`", short(&s.name.name)),
            )
            .label(s.name.span, "not a sensor")
            .help(hint.unwrap_or_else(|| {
                format!(
                    "known sensors: {}; declare others with `sensor {} {{ rate 20 Hz, size 10 KB }}`",
                    known.join(", "),
                    short(&s.name.name)
                )
            }))
        });
        return None;
    };
    let resolution = match &s.resolution {
        None => None,
        Some(r) if kind.is_imaging() => {
            let w = cx.count(&r.width, "image width", 1, 65_536);
            let h = cx.count(&r.height, "image height", 1, 65_536);
            Some([w? as u32, h? as u32])
        }
        Some(r) => return no_resolution(cx, s, r.span),
    };
    Some(ir::Sensor { kind, resolution })
}

/// A resolution on a sensor that takes none.
fn no_resolution(cx: &mut Ctx, s: &Sensor, at: Span) -> Option<ir::Sensor> {
    cx.push(
        Diagnostic::error(
            Code::UnknownSensor,
            format!("sensor `{}` has no resolution", s.name.name),
        )
        .label(at, "only cameras take a resolution"),
    );
    None
}

pub(super) fn fleets<'a>(cx: &mut Ctx<'a>, m: &'a Mission) {
    let mut first_span = std::collections::HashMap::new();
    for d in &m.decls {
        let Decl::Fleet(f) = d else { continue };
        if let Some(&first) = first_span.get(f.name.name.as_str()) {
            cx.push(duplicate_name("fleet", &f.name.name, f.name.span, first));
            continue;
        }
        first_span.insert(f.name.name.as_str(), f.name.span);
        let id = FleetId(cx.fleets.len() as u32);
        cx.fleet_ids.insert(f.name.name.as_str(), id);
        let class = match f.class.name.as_str() {
            "drone" => DeviceClass::Drone,
            "car" => DeviceClass::Car,
            other => {
                cx.push(
                    Diagnostic::error(
                        Code::UnknownDeviceClass,
                        format!("unknown device class `{}`", short(other)),
                    )
                    .label(f.class.span, "expected `drone` or `car`")
                    .maybe_help(suggest::did_you_mean(other, ["drone", "car"])),
                );
                DeviceClass::Drone
            }
        };
        let count = cx.count(&f.count, "fleet size", 1, 100_000).unwrap_or(1) as u32;
        let mut fleet = ir::Fleet {
            id,
            name: f.name.name.clone(),
            class,
            count,
            cpu_hz: 0,
            cores: 1,
            battery_uj: 0,
            battery_charge_uah: None,
            battery_voltage_mv: None,
            radio_bps: 0,
            radio_shared: false,
            radio_range_mm: None,
            speed_mm_s: None,
            cpu_power_mw: None,
            memory_bytes: None,
            sensors: Vec::new(),
            home: None,
            span: cx.span(f.span),
        };
        let props = dedup_props(cx, &f.props);
        for p in &props {
            let reports_before = cx.reports;
            fleet_prop(cx, &mut fleet, p);
            if cx.reports > reports_before {
                cx.broken_fleets.insert((id, p.keyword()));
            }
        }
        for required in ["cpu", "battery", "radio"] {
            if !props.iter().any(|p| p.keyword() == required) {
                cx.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("fleet `{}` has no `{required}`", f.name.name),
                    )
                    .label(f.name.span, format!("`{required}` missing"))
                    .help(match required {
                        "cpu" => "the cost model needs the CPU: e.g. `cpu 1.2 GHz x 4`",
                        "battery" => {
                            "the energy model needs the battery: e.g. `battery 1500 mAh @ 11.1 V`"
                        }
                        _ => "transfers need the link speed: e.g. `radio 20 Mbit/s`",
                    }),
                );
            }
        }
        cx.fleets.push(fleet);
    }
    if cx.fleets.is_empty() {
        cx.push(
            Diagnostic::error(Code::NoFleet, format!("mission `{}` has no fleet", m.name.name))
                .label(m.name.span, "nothing here can sense or move")
                .help("declare one: `fleet drones: drone x 16 { cpu 1 GHz; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s }`"),
        );
    }
}

fn fleet_prop(cx: &mut Ctx, fleet: &mut ir::Fleet, p: &DeviceProp) {
    match p {
        DeviceProp::Cpu { clock, cores, .. } => {
            fleet.cpu_hz = cx
                .measure(
                    clock,
                    Dim::Frequency,
                    "CPU clock",
                    range(1_000_000, 10_000_000_000),
                )
                .unwrap_or(0) as u64;
            if let Some(c) = cores {
                fleet.cores = cx.count(c, "core count", 1, 1_024).unwrap_or(1) as u32;
            }
        }
        DeviceProp::Battery {
            capacity,
            voltage,
            span,
        } => {
            let Some((v, dim)) = cx.measure_any(
                capacity,
                &[Dim::Charge, Dim::Energy],
                "battery capacity",
                range(POSITIVE, 3_600_000_000_000_000),
            ) else {
                return;
            };
            let volts = voltage.as_ref().and_then(|q| {
                cx.measure(q, Dim::Voltage, "battery voltage", range(100, 1_000_000))
            });
            match dim {
                Dim::Charge => {
                    if v > 1_000_000_000 {
                        cx.push(
                            Diagnostic::error(
                                Code::Absurd,
                                "battery capacity is implausibly large",
                            )
                            .label(capacity.span, "at most 1000 Ah"),
                        );
                        return;
                    }
                    fleet.battery_charge_uah = Some(v as u64);
                    match (voltage, volts) {
                        (None, _) => cx.push(
                            Diagnostic::error(
                                Code::BatteryNeedsVoltage,
                                "a battery charge needs its voltage to give an energy",
                            )
                            .label(*span, "no voltage")
                            .help(format!(
                                "write `battery {} {} @ 11.1 V`",
                                capacity.number.text,
                                capacity.unit.as_ref().map_or("mAh", |u| u.name.as_str())
                            )),
                        ),
                        (Some(_), Some(mv)) => {
                            fleet.battery_voltage_mv = Some(mv as u64);
                            // µAh × mV = 3.6 µJ
                            fleet.battery_uj = (v * mv * 36 / 10) as u64;
                        }
                        (Some(_), None) => {}
                    }
                }
                _ => {
                    fleet.battery_uj = v as u64;
                    fleet.battery_voltage_mv = volts.map(|x| x as u64);
                }
            }
        }
        DeviceProp::Radio {
            bandwidth,
            range: r,
            shared,
            ..
        } => {
            fleet.radio_shared = *shared;
            fleet.radio_bps = cx
                .measure(
                    bandwidth,
                    Dim::Bandwidth,
                    "radio bandwidth",
                    range(1_000, 100_000_000_000),
                )
                .unwrap_or(0) as u64;
            if let Some(r) = r {
                fleet.radio_range_mm = cx
                    .measure(r, Dim::Length, "radio range", range(1_000, 1_000_000_000))
                    .map(|v| v as u64);
            }
        }
        DeviceProp::Speed { value, .. } => {
            fleet.speed_mm_s = cx
                .measure(value, Dim::Speed, "speed", range(POSITIVE, 340_000))
                .map(|v| v as u64);
        }
        DeviceProp::Power { value, .. } => {
            fleet.cpu_power_mw = cx
                .measure(value, Dim::Power, "CPU power", range(POSITIVE, 10_000_000))
                .map(|v| v as u64);
        }
        DeviceProp::Memory { value, .. } => {
            fleet.memory_bytes = cx
                .measure(
                    value,
                    Dim::Data,
                    "memory",
                    range(1 << 20, 16_000_000_000_000),
                )
                .map(|v| v as u64);
        }
        DeviceProp::Sensors { sensors, .. } => {
            for s in sensors {
                let Some(sensor) = sensor(cx, s) else {
                    continue;
                };
                if fleet.sensors.iter().any(|x| x.kind == sensor.kind) {
                    cx.push(
                        Diagnostic::error(
                            Code::DuplicateProperty,
                            format!("sensor `{}` is listed twice", s.name.name),
                        )
                        .label(s.span, "again here"),
                    );
                } else {
                    fleet.sensors.push(sensor);
                }
            }
        }
        DeviceProp::Home { point: pt, .. } => fleet.home = point(cx, pt),
        other => cx.push(wrong_section(
            other,
            "a fleet",
            "the cloud `{ ... }` block's servers",
        )),
    }
}

pub(super) fn cloud(cx: &mut Ctx, m: &Mission) {
    let mut first: Option<Span> = None;
    for d in &m.decls {
        let Decl::Cloud(c) = d else { continue };
        if let Some(f) = first {
            cx.push(duplicate("the `cloud` block", c.span, f));
            continue;
        }
        first = Some(c.span);
        let mut cloud = ir::Cloud {
            servers: 1,
            cores_per_server: 1,
            cpu_hz: None,
            memory_bytes_per_server: None,
            price_nusd_per_gb_s: None,
            fpga: false,
            fpga_boards: 0,
            cold_start_us: None,
            span: cx.span(c.span),
        };
        let props = dedup_props(cx, &c.props);
        for p in &props {
            match p {
                DeviceProp::Servers { count, .. } => {
                    cloud.servers = cx.count(count, "server count", 1, 100_000).unwrap_or(1) as u32
                }
                DeviceProp::Cores { count, .. } => {
                    cloud.cores_per_server =
                        cx.count(count, "cores per server", 1, 4_096).unwrap_or(1) as u32
                }
                DeviceProp::Cpu { clock, cores, span } => {
                    cloud.cpu_hz = cx
                        .measure(
                            clock,
                            Dim::Frequency,
                            "CPU clock",
                            range(1_000_000, 10_000_000_000),
                        )
                        .map(|v| v as u64);
                    if cores.is_some() {
                        cx.push(
                            Diagnostic::error(
                                Code::CloudCpuCores,
                                "cloud cores are given by `cores`, not `cpu ... x N`",
                            )
                            .label(*span, "here")
                            .help("write `cpu 2.4 GHz` and `cores 40 each`"),
                        );
                    }
                }
                DeviceProp::Memory { value, .. } => {
                    cloud.memory_bytes_per_server = cx
                        .measure(
                            value,
                            Dim::Data,
                            "server memory",
                            range(1 << 20, 64_000_000_000_000),
                        )
                        .map(|v| v as u64);
                }
                DeviceProp::Price { dollars, per, .. } => {
                    let scale = match per.name.as_str() {
                        "GB-s" => Some((1, 1)),
                        "GiB-s" => Some((1_000_000_000, 1 << 30)),
                        other => {
                            cx.push(
                                Diagnostic::error(Code::UnknownRateUnit, format!("serverless price per `{}` is not understood", short(other)))
                                    .label(per.span, "expected `GB-s`")
                                    .help("serverless platforms price memory × time: `price $0.0000166 per GB-s`"),
                            );
                            None
                        }
                    };
                    if let (Some((num, den)), Some(n)) =
                        (scale, cx.dollars(dollars, "price", 1_000_000_000))
                    {
                        cloud.price_nusd_per_gb_s = Some((n * num / den) as u64);
                    }
                }
                DeviceProp::Fpga { boards, .. } => {
                    cloud.fpga = true;
                    cloud.fpga_boards = match boards {
                        Some(b) => cx.count(b, "FPGA boards", 1, 10_000).unwrap_or(1) as u32,
                        None => cloud.servers,
                    };
                }
                DeviceProp::ColdStart { value, .. } => {
                    cloud.cold_start_us = cx
                        .measure(value, Dim::Time, "cold start", range(0, 600 * SECOND))
                        .map(|v| v as u64);
                }
                other => cx.push(wrong_section(other, "the cloud", "fleets")),
            }
        }
        // `fpga` without a count means one board per server, known only now.
        if props
            .iter()
            .any(|p| matches!(p, DeviceProp::Fpga { boards: None, .. }))
        {
            cloud.fpga_boards = cloud.servers;
        }
        for required in ["servers", "cores"] {
            if !props.iter().any(|p| p.keyword() == required) {
                cx.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("the cloud has no `{required}`"),
                    )
                    .label(c.span, format!("`{required}` missing"))
                    .help("e.g. `cloud { servers 12; cores 40 each }`"),
                );
            }
        }
        cx.cloud = Some(cloud);
    }
}
