//! `--devices N`: the same mission with N devices in all, each fleet
//! scaled in proportion to its stated size (largest remainders; at least
//! one device per fleet), so a user can ask "what happens with 2,000
//! drones?" without editing the mission.

use hivemind_ir::TaskGraph;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScaleError {
    #[error(
        "--devices {asked}: the mission has {fleets} fleet(s) and each needs at least one device"
    )]
    TooFew { asked: u32, fleets: usize },
    #[error("--devices {asked}: at most {max} devices can be simulated")]
    TooMany { asked: u32, max: u32 },
    #[error("the mission has no fleet to scale")]
    NoFleets,
}

/// The most devices a simulation accepts (memory: a few KiB each).
pub const MAX_DEVICES: u32 = 1_000_000;

/// Scale `graph`'s fleets to `total` devices in all.
pub fn scale_fleets(graph: &mut TaskGraph, total: u32) -> Result<(), ScaleError> {
    let fleets = graph.fleets.len();
    if fleets == 0 {
        return Err(ScaleError::NoFleets);
    }
    if (total as usize) < fleets {
        return Err(ScaleError::TooFew {
            asked: total,
            fleets,
        });
    }
    if total > MAX_DEVICES {
        return Err(ScaleError::TooMany {
            asked: total,
            max: MAX_DEVICES,
        });
    }
    let stated: u128 = graph
        .fleets
        .iter()
        .map(|f| u128::from(f.count.max(1)))
        .sum();
    // Each fleet gets one, then the rest in proportion (largest remainder).
    let rest = u128::from(total) - fleets as u128;
    let mut counts: Vec<(u128, u128, usize)> = graph
        .fleets
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let share = rest * u128::from(f.count.max(1));
            (share / stated, share % stated, i)
        })
        .collect();
    let given: u128 = counts.iter().map(|c| c.0).sum();
    let mut left = rest - given;
    let mut order: Vec<usize> = (0..fleets).collect();
    order.sort_by(|&a, &b| counts[b].1.cmp(&counts[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        counts[i].0 += 1;
        left -= 1;
    }
    for (f, c) in graph.fleets.iter_mut().zip(&counts) {
        f.count = u32::try_from(c.0 + 1).unwrap_or(u32::MAX);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(counts: &[u32]) -> TaskGraph {
        let fleets: String = counts
            .iter()
            .enumerate()
            .map(|(i, n)| format!("  fleet f{i}: drone x {n} {{ cpu 1 GHz x 1; battery 1500 mAh @ 11.1 V; radio 20 Mbit/s; sensors camera }}\n"))
            .collect();
        let src = format!(
            "mission m {{\n  duration 1 min\n{fleets}  task t on f0 {{ every 1 s; needs camera }}\n}}\n"
        );
        hivemind_dsl::compile(&src, "m.hm").graph.expect("compiles")
    }

    fn counts(g: &TaskGraph) -> Vec<u32> {
        g.fleets.iter().map(|f| f.count).collect()
    }

    #[test]
    fn proportional_with_at_least_one_each() {
        let mut g = graph(&[16, 14]);
        scale_fleets(&mut g, 3_000).expect("scales");
        assert_eq!(counts(&g), [1_600, 1_400]);
        let mut g = graph(&[1, 1_000]);
        scale_fleets(&mut g, 10).expect("scales");
        assert_eq!(counts(&g), [1, 9]);
        let mut g = graph(&[3, 3, 3]);
        scale_fleets(&mut g, 10).expect("scales");
        assert_eq!(counts(&g).iter().sum::<u32>(), 10);
    }

    #[test]
    fn nonsense_is_refused() {
        let mut g = graph(&[2, 2]);
        assert!(matches!(
            scale_fleets(&mut g, 1),
            Err(ScaleError::TooFew { .. })
        ));
        assert!(matches!(
            scale_fleets(&mut g, u32::MAX),
            Err(ScaleError::TooMany { .. })
        ));
        assert_eq!(counts(&g), [2, 2], "left untouched");
    }
}
