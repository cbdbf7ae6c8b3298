//! SVG plots of a simulation report (plotters, SVG backend: no fonts or
//! system libraries needed): the latency CDF of every required path per
//! strategy, battery over time, bytes per device, completions over time,
//! and a map of the area with the devices' tracks.

use crate::mission::StrategyRun;
use crate::world::Track;
use hivemind_ir::{AreaShape, PointMm};
use plotters::prelude::*;

/// One plot: its file name and SVG text.
pub struct Plot {
    pub file: &'static str,
    pub svg: String,
}

const SIZE: (u32, u32) = (900, 540);
const COLOURS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(255, 187, 120),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

type Series = (String, Vec<(f64, f64)>);

/// A line chart of `series`; an empty chart says so instead of failing.
fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    let drawn = draw_lines(&mut svg, title, x_desc, y_desc, series);
    if let Err(e) = drawn {
        tracing::warn!(error = %e, plot = title, "plot not drawn");
    }
    svg
}

fn bounds(series: &[Series]) -> (f64, f64, f64, f64) {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| if b > a { (a, b) } else { (a - 0.5, a + 0.5) };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0.min(0.0), y1 * 1.05);
    (x0, x1, y0, y1)
}

fn draw_lines(
    svg: &mut String,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1, y0, y1) = bounds(series);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// Every plot for `runs` (the synthesized plan first, then baselines).
pub fn all(runs: &[StrategyRun], areas: &[AreaShape], tracks: &[Track]) -> Vec<Plot> {
    vec![
        Plot {
            file: "latency_cdf.svg",
            svg: latency_cdf(runs),
        },
        Plot {
            file: "battery.svg",
            svg: battery(runs),
        },
        Plot {
            file: "bytes_per_device.svg",
            svg: bytes_per_device(runs),
        },
        Plot {
            file: "completions.svg",
            svg: completions(runs),
        },
        Plot {
            file: "coverage_map.svg",
            svg: coverage_map(areas, tracks),
        },
    ]
}

/// `hivemind bench sim`'s cost growth: wall seconds per simulated second
/// against devices (both log10), with a line of linear growth from the
/// smallest size for reference.
pub fn scaling(series: &[(String, Vec<(f64, f64)>)]) -> String {
    let log = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .map(|(x, y)| (x.log10(), y.log10()))
            .collect()
    };
    let mut all: Vec<Series> = series.iter().map(|(n, p)| (n.clone(), log(p))).collect();
    if let Some((x0, y0)) = series.first().and_then(|s| s.1.first()).copied() {
        let xs: Vec<f64> = series
            .first()
            .map_or(Vec::new(), |s| s.1.iter().map(|p| p.0).collect());
        let linear: Vec<(f64, f64)> = xs.iter().map(|&x| (x, y0 * x / x0)).collect();
        all.push(("linear".into(), log(&linear)));
    }
    lines(
        "Simulator cost against devices (log-log)",
        "log10 devices",
        "log10 wall s per simulated s",
        &all,
    )
}

/// Percentile against latency, one line per strategy and required path.
pub fn latency_cdf(runs: &[StrategyRun]) -> String {
    let series: Vec<Series> = runs
        .iter()
        .flat_map(|r| {
            r.paths.iter().map(move |p| {
                (
                    format!("{}: {} -> {}", r.strategy, p.from, p.to),
                    p.cdf
                        .iter()
                        .map(|&(bp, us)| (us as f64 / 1e3, f64::from(bp) / 100.0))
                        .collect(),
                )
            })
        })
        .collect();
    lines(
        "Latency of the required paths (CDF)",
        "latency (ms)",
        "percentile (%)",
        &series,
    )
}

/// Mean battery of each fleet's live devices over time, per strategy.
pub fn battery(runs: &[StrategyRun]) -> String {
    let mut series = Vec::new();
    for r in runs {
        let fleets = r.fleets.len();
        for f in 0..fleets {
            let pts = r
                .battery
                .iter()
                .filter_map(|s| {
                    let b = s.fleets.get(f)?;
                    Some((s.at_us as f64 / 1e6, f64::from(b.mean_permille) / 10.0))
                })
                .collect();
            series.push((format!("{}: {}", r.strategy, r.fleets[f].fleet), pts));
        }
    }
    lines(
        "Battery over time (mean of live devices)",
        "time (s)",
        "battery (%)",
        &series,
    )
}

/// Bytes each device sent up, as deciles (0 %, 10 %, …, 100 % of devices).
pub fn bytes_per_device(runs: &[StrategyRun]) -> String {
    let series: Vec<Series> = runs
        .iter()
        .map(|r| {
            (
                r.strategy.clone(),
                r.bytes
                    .per_device_deciles
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| (i as f64 * 10.0, b as f64 / 1e6))
                    .collect(),
            )
        })
        .collect();
    lines(
        "Bytes sent up per device (deciles)",
        "devices (%)",
        "MB",
        &series,
    )
}

/// Instances completed per second, per strategy.
pub fn completions(runs: &[StrategyRun]) -> String {
    let series: Vec<Series> = runs
        .iter()
        .map(|r| {
            (
                r.strategy.clone(),
                r.completions_per_s
                    .iter()
                    .enumerate()
                    .map(|(s, &n)| (s as f64, n as f64))
                    .collect(),
            )
        })
        .collect();
    lines(
        "Completions over time",
        "time (s)",
        "instances per second",
        &series,
    )
}

/// The mission's areas and the sampled tracks of the first devices.
pub fn coverage_map(areas: &[AreaShape], tracks: &[Track]) -> String {
    let mut svg = String::new();
    if let Err(e) = draw_map(&mut svg, areas, tracks) {
        tracing::warn!(error = %e, "coverage map not drawn");
    }
    svg
}

fn corners(shape: &AreaShape) -> Vec<PointMm> {
    match shape {
        AreaShape::Rect { min, max } => vec![
            *min,
            PointMm {
                x_mm: max.x_mm,
                y_mm: min.y_mm,
            },
            *max,
            PointMm {
                x_mm: min.x_mm,
                y_mm: max.y_mm,
            },
        ],
        AreaShape::Polygon { points } => points.clone(),
    }
}

fn draw_map(
    svg: &mut String,
    areas: &[AreaShape],
    tracks: &[Track],
) -> Result<(), Box<dyn std::error::Error>> {
    let m = |p: PointMm| (p.x_mm as f64 / 1e3, p.y_mm as f64 / 1e3);
    let mut outline: Vec<Series> = areas
        .iter()
        .map(|a| {
            let mut pts: Vec<(f64, f64)> = corners(a).into_iter().map(m).collect();
            if let Some(&first) = pts.first() {
                pts.push(first);
            }
            (String::new(), pts)
        })
        .collect();
    outline.extend(
        tracks
            .iter()
            .map(|t| (String::new(), t.points.iter().map(|&p| m(p)).collect())),
    );
    let (x0, x1, y0, y1) = bounds(&outline);
    let span = (x1 - x0).max(y1 - y0).max(1.0);
    let root = SVGBackend::with_string(svg, (SIZE.1 + 60, SIZE.1)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Areas and device tracks", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0.min(y0)..x0.min(y0) + span, x0.min(y0)..x0.min(y0) + span)?;
    chart
        .configure_mesh()
        .x_desc("x (m)")
        .y_desc("y (m)")
        .draw()?;
    for (pts, _) in outline.iter().take(areas.len()).map(|s| (&s.1, ())) {
        chart.draw_series(LineSeries::new(pts.iter().copied(), BLACK.stroke_width(2)))?;
    }
    for (i, t) in tracks.iter().enumerate() {
        let c = colour(i);
        chart.draw_series(LineSeries::new(
            t.points.iter().map(|&p| m(p)),
            c.stroke_width(1),
        ))?;
    }
    root.present()?;
    Ok(())
}
