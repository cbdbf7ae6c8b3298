use proptest::prelude::*;

use super::parse::{fixed, levenshtein, Num};
use super::rng::{ln, Rng};
use super::*;

const S: u64 = 1_000_000;

/// The examples of the format documentation, one per line.
const EXAMPLES: &str = "\
at 30 s kill device 3                      # one device, by id
at 30 s kill 10% of drones
at 30 s kill 4 of cars
at 40 s revive device 3
at 10 s for 20 s partition cars
at 10 s for 5 s disconnect device 7
at 20 s for 30 s degrade drones loss 20% latency +50 ms bandwidth 50%
at 0 s slow device 4 x5
at 0 s for 60 s slow 5% of drones x4
at 15 s for 10 s slow workers x3
at 45 s crash controller
random failures 1% of drones per min
random stragglers 5% of all x4
";

fn fleet(name: &str) -> Target {
    Target::Fleet(name.to_string())
}

fn all_of(target: Target) -> Group {
    Group {
        select: Select::All,
        target,
    }
}

fn device(id: u32) -> Group {
    all_of(Target::Device(id))
}

fn one(text: &str) -> Fault {
    match parse(text) {
        Ok(script) if script.lines.len() == 1 => script.lines[0].fault.clone(),
        other => panic!("{text:?} should parse to one fault, got {other:?}"),
    }
}

fn errors(text: &str) -> Vec<LineError> {
    match parse(text) {
        Err(e) => e.errors,
        Ok(script) => panic!("{text:?} should not parse, got {script:?}"),
    }
}

/// `text` fails with one error at `line`:`column` whose message contains
/// `needle`.
fn check_err(text: &str, line: u32, column: u32, needle: &str) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
    let e = &errors[0];
    let message = e.to_string();
    assert_eq!(
        (e.line, e.column),
        (line, column),
        "{text:?}: wrong place in {message}"
    );
    assert!(
        message.contains(needle),
        "{text:?}: {message:?} does not contain {needle:?}"
    );
    assert!(message.starts_with(&format!("line {line}, column {column}: ")));
}

#[test]
fn faults_every_documented_example_parses() {
    let script = parse(EXAMPLES).unwrap();
    let got: Vec<(u32, Fault)> = script
        .lines
        .iter()
        .map(|l| (l.line, l.fault.clone()))
        .collect();
    let expected = vec![
        (
            1,
            Fault::Kill {
                at_us: 30 * S,
                group: device(3),
            },
        ),
        (
            2,
            Fault::Kill {
                at_us: 30 * S,
                group: Group {
                    select: Select::Permille(100),
                    target: fleet("drones"),
                },
            },
        ),
        (
            3,
            Fault::Kill {
                at_us: 30 * S,
                group: Group {
                    select: Select::Count(4),
                    target: fleet("cars"),
                },
            },
        ),
        (
            4,
            Fault::Revive {
                at_us: 40 * S,
                group: device(3),
            },
        ),
        (
            5,
            Fault::Partition {
                at_us: 10 * S,
                for_us: Some(20 * S),
                group: all_of(fleet("cars")),
            },
        ),
        (
            6,
            Fault::Disconnect {
                at_us: 10 * S,
                for_us: Some(5 * S),
                group: device(7),
            },
        ),
        (
            7,
            Fault::Degrade {
                at_us: 20 * S,
                for_us: Some(30 * S),
                group: all_of(fleet("drones")),
                loss_permille: 200,
                extra_latency_us: 50_000,
                bandwidth_permille: 500,
            },
        ),
        (
            8,
            Fault::Slow {
                at_us: 0,
                for_us: None,
                group: device(4),
                factor_milli: 5_000,
            },
        ),
        (
            9,
            Fault::Slow {
                at_us: 0,
                for_us: Some(60 * S),
                group: Group {
                    select: Select::Permille(50),
                    target: fleet("drones"),
                },
                factor_milli: 4_000,
            },
        ),
        (
            10,
            Fault::SlowWorkers {
                at_us: 15 * S,
                for_us: Some(10 * S),
                factor_milli: 3_000,
            },
        ),
        (11, Fault::CrashController { at_us: 45 * S }),
        (
            12,
            Fault::RandomFailures {
                target: fleet("drones"),
                permille: 10,
                per_us: 60 * S,
            },
        ),
        (
            13,
            Fault::RandomStragglers {
                target: Target::All,
                permille: 50,
                factor_milli: 4_000,
            },
        ),
    ];
    assert_eq!(got, expected);
}

#[test]
fn faults_the_module_docs_show_the_examples() {
    let docs = include_str!("../faults.rs");
    for line in EXAMPLES.lines() {
        let fault = line.split('#').next().unwrap().trim();
        assert!(docs.contains(&format!("//! {fault}\n")), "{fault}");
    }
}

#[test]
fn faults_spelling_variants() {
    // Units attached or not, decimals, every unit.
    for (text, us) in [
        ("at 250 ms crash controller", 250_000),
        ("at 250ms crash controller", 250_000),
        ("at 2 min crash controller", 120 * S),
        ("at 2min crash controller", 120 * S),
        ("at 1 h crash controller", 3_600 * S),
        ("at 1.5 h crash controller", 5_400 * S),
        ("at 1.5s crash controller", 1_500_000),
        ("at 7 us crash controller", 7),
        ("at 7µs crash controller", 7),
        ("at 0.000001 s crash controller", 1),
        ("at 1.500 ms crash controller", 1_500),
        ("at 365 h crash controller", 365 * 3_600 * S),
        ("at 8760 h crash controller", MAX_TIME_US),
    ] {
        assert_eq!(one(text), Fault::CrashController { at_us: us }, "{text}");
    }
    // Factors and percentages, spacing, and `fleet NAME` for keywords.
    assert_eq!(
        one("at 1 s slow fleet workers x 1.5"),
        Fault::Slow {
            at_us: S,
            for_us: None,
            group: all_of(fleet("workers")),
            factor_milli: 1_500,
        }
    );
    assert_eq!(
        one("at 1 s slow 12.5 % of all ×1000"),
        Fault::Slow {
            at_us: S,
            for_us: None,
            group: Group {
                select: Select::Permille(125),
                target: Target::All,
            },
            factor_milli: 1_000_000,
        }
    );
    assert_eq!(
        one("at 1 s slow all x1"),
        Fault::Slow {
            at_us: S,
            for_us: None,
            group: all_of(Target::All),
            factor_milli: 1_000,
        }
    );
    // Degrade effects in any order, any subset, `+` optional or apart.
    assert_eq!(
        one("at 1s degrade device 2 bandwidth 10% latency + 3 ms"),
        Fault::Degrade {
            at_us: S,
            for_us: None,
            group: device(2),
            loss_permille: 0,
            extra_latency_us: 3_000,
            bandwidth_permille: 100,
        }
    );
    assert_eq!(
        one("at 1s degrade all loss 99.9%"),
        Fault::Degrade {
            at_us: S,
            for_us: None,
            group: all_of(Target::All),
            loss_permille: 999,
            extra_latency_us: 0,
            bandwidth_permille: 1_000,
        }
    );
    // `per` a unit or a duration.
    assert_eq!(
        one("random failures 0.5% of all per 10 min"),
        Fault::RandomFailures {
            target: Target::All,
            permille: 5,
            per_us: 600 * S,
        }
    );
    assert_eq!(
        one("random failures 100% of _x9 per h"),
        Fault::RandomFailures {
            target: fleet("_x9"),
            permille: 1_000,
            per_us: 3_600 * S,
        }
    );
}

#[test]
fn faults_comments_blank_lines_crlf_and_line_numbers() {
    let text = "# header\r\n\r\n   \t\n  at 1 s kill device 0 # why\r\n#at 2 s kill device 1\nat 3 s revive device 0";
    let script = parse(text).unwrap();
    let lines: Vec<u32> = script.lines.iter().map(|l| l.line).collect();
    assert_eq!(lines, vec![4, 6]);
    assert_eq!(script.lines[0].column, 15, "column of `device`");
    assert!(parse("").unwrap().lines.is_empty());
    assert!(parse("\n\n# only comments\n").unwrap().lines.is_empty());
}

#[test]
fn faults_bad_input_names_line_and_column() {
    check_err(
        "at 1 s explode device 3",
        1,
        8,
        "unknown fault \"explode\"; expected one of kill, revive, partition, disconnect, degrade, slow, crash",
    );
    check_err("at 1 s kil device 3", 1, 8, "(did you mean `kill`?)");
    check_err(
        "kill device 3",
        1,
        1,
        "expected a fault starting with `at TIME`",
    );
    check_err(
        "# ok\n\nat 30 kill device 3",
        3,
        7,
        "expected a time unit (µs, ms, s, min or h) after \"30\", found \"kill\"",
    );
    check_err("at 30", 1, 6, "after \"30\", found end of line");
    check_err("at 5 parsecs kill all", 1, 6, "found \"parsecs\"");
    check_err("at 5parsecs kill all", 1, 4, "found \"5parsecs\"");
    check_err(
        "at thirty s kill all",
        1,
        4,
        "expected a time like \"30 s\", found \"thirty\"",
    );
    check_err(
        "at 1 s for thirty s kill all",
        1,
        12,
        "expected a duration like \"30 s\", found \"thirty\"",
    );
    check_err(
        "at 1 s kill 120% of drones",
        1,
        13,
        "expected a percentage from 0% to 100%, found \"120%\"",
    );
    check_err("at 1 s kill 0.05% of drones", 1, 13, "at most one decimal");
    check_err(
        "at 1 s slow all x0.5",
        1,
        17,
        "expected a factor from x1 to x1000, found \"x0.5\"",
    );
    check_err("at 1 s slow all x1001", 1, 17, "from x1 to x1000");
    check_err(
        "at 1 s slow all x1e9",
        1,
        17,
        "expected a slow-down factor like \"x4\" or \"x1.5\", found \"x1e9\"",
    );
    check_err("at 1 s slow all x1.0001", 1, 17, "three decimals");
    check_err("at 1 s slow all", 1, 16, "found end of line");
    check_err(
        "at 1 s kill device -1",
        1,
        20,
        "expected a device id (a whole number like 3), found \"-1\"",
    );
    check_err(
        "at 1 s kill device 99999999999999999999",
        1,
        20,
        "of at most 4294967295, found \"99999999999999999999\"",
    );
    check_err(
        "at 1 s kill device 4294967296",
        1,
        20,
        "of at most 4294967295",
    );
    check_err("at 1 s kill device 1.5", 1, 20, "a whole number");
    check_err("at 1 s for kill all", 1, 12, "expected a duration");
    check_err(
        "at 1 s for",
        1,
        11,
        "expected a duration like \"30 s\", found end of line",
    );
    check_err("at 1 s for 0 s slow all x2", 1, 12, "a duration above 0");
    check_err("at 30 s kill", 1, 13, "expected a target");
    check_err("at 30 s", 1, 8, "expected a fault");
    check_err("at", 1, 3, "expected a time like");
    check_err("at 30 s kill 4 of", 1, 18, "expected a fleet name or `all`");
    check_err("at 30 s kill 4 cars", 1, 16, "expected `of`");
    check_err("at 30 s kill 4 of device 3", 1, 19, "picks from a fleet");
    check_err("at 30 s kill -1", 1, 14, "expected a target");
    check_err(
        "at 30 s kill device 3 now",
        1,
        23,
        "expected end of line, found \"now\"",
    );
    check_err("at 1 s for 2 s kill all", 1, 8, "`kill` takes no `for`");
    check_err("at 1 s for 2 s revive all", 1, 8, "`revive` takes no `for`");
    check_err(
        "at 1 s for 2 s crash controller",
        1,
        8,
        "`crash` takes no `for`",
    );
    check_err("at 1 s crash", 1, 13, "`controller` after `crash`");
    check_err(
        "at 1 s kill workers",
        1,
        13,
        "only `slow` applies to `workers`",
    );
    check_err("at 1 s kill controller", 1, 13, "crash controller");
    check_err("at 1 s degrade all", 1, 19, "what to degrade");
    check_err("at 1 s degrade all loss 100%", 1, 25, "a loss below 100%");
    check_err(
        "at 1 s degrade all bandwidth 0%",
        1,
        30,
        "a bandwidth above 0%",
    );
    check_err(
        "at 1 s degrade all loss 1% loss 2%",
        1,
        28,
        "`loss` given twice",
    );
    check_err("at 1 s degrade all jitter 5 ms", 1, 20, "`latency +D`");
    check_err("at 1 s degrade all latency fast", 1, 28, "an added latency");
    check_err("at 9000 h kill all", 1, 4, "at most 1 year");
    check_err(
        "at 99999999999999999999999999999999999999999 s kill all",
        1,
        4,
        "at most 1 year",
    );
    check_err("at 1.5 us kill all", 1, 4, "whole microseconds");
    check_err("at 1.0000005 s kill all", 1, 4, "whole microseconds");
    check_err("at 1.2.3 s kill all", 1, 4, "expected a time like");
    check_err("at +1 s kill all", 1, 4, "expected a time like");
    check_err("at 1 S kill all", 1, 6, "found \"S\"");
    check_err("random", 1, 7, "`failures` or `stragglers`");
    check_err("random failures 1% drones per min", 1, 20, "expected `of`");
    check_err("random failures 1% of drones", 1, 29, "`per`");
    check_err(
        "random failures 1% of drones per",
        1,
        33,
        "a time unit like \"min\"",
    );
    check_err(
        "random failures 1% of drones per 0 s",
        1,
        34,
        "a period above 0",
    );
    check_err(
        "random failures 1% of drones per fortnight",
        1,
        34,
        "found \"fortnight\"",
    );
    check_err("random stragglers 5% of all", 1, 28, "slow-down factor");
    check_err("random stragglers 2 of all x4", 1, 19, "a percentage");
    check_err("AT 1 s kill all", 1, 1, "found \"AT\"");
}

#[test]
fn faults_every_bad_line_is_reported_once_in_order() {
    let text = "at 1 s kill all\nat x kill all\nat 1 s kill all\nexplode\nat 1 s nuke nuke nuke\n";
    let err = parse(text).unwrap_err();
    let lines: Vec<u32> = err.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 4, 5]);
    let shown = err.to_string();
    assert_eq!(shown.lines().count(), 3, "{shown}");
    assert!(shown.starts_with("line 2, column 4: expected a time like \"30 s\", found \"x\""));
}

#[test]
fn faults_garbage_nul_and_long_lines() {
    check_err("\0", 1, 1, "found \"\\0\"");
    check_err("at 1 s kill \u{1b}[31m", 1, 13, "expected a target");
    check_err("at 1 s kill device 3\0", 1, 20, "a whole number");
    check_err(
        "\u{feff}at 1 s kill all",
        1,
        1,
        "expected a fault starting with",
    );
    let long = format!("at 1 s kill device {}", "x".repeat(900_000));
    let e = &errors(&long)[0];
    assert_eq!(e.line, 1);
    // A long word is quoted shortened.
    assert!(e.to_string().len() < 300, "{}", e);
    let digits = format!("at {} s kill all", "9".repeat(500_000));
    check_err(&digits, 1, 4, "at most 1 year");
    let spaces = format!(
        "{}at 1 s kill all{}",
        " ".repeat(400_000),
        "\t".repeat(400_000)
    );
    assert_eq!(parse(&spaces).unwrap().lines[0].column, 400_013);
}

#[test]
fn faults_a_mebibyte_of_bad_lines_reports_each() {
    let line = "at 1 s kill device x\n";
    let text = line.repeat(MAX_BYTES / line.len());
    let errors = errors(&text);
    assert_eq!(errors.len(), MAX_BYTES / line.len());
    assert_eq!(errors.last().map(|e| e.line), Some(errors.len() as u32));
}

#[test]
fn faults_size_and_line_limits() {
    // Exactly 1 MiB is fine; one byte more is not, and says where.
    let line = "# padding padding padding padding padding padding padding paddi\n";
    assert_eq!(line.len(), 64);
    let exact = line.repeat(MAX_BYTES / 64);
    assert_eq!(exact.len(), MAX_BYTES);
    assert!(parse(&exact).unwrap().lines.is_empty());
    let over = format!("{exact}x");
    let e = &errors(&over)[0];
    assert_eq!((e.line, e.column), (16_385, 1));
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: MAX_BYTES + 1
        }
    );
    assert!(e
        .to_string()
        .contains("more than the 1048576 (1 MiB) allowed"));

    let many = "\n".repeat(MAX_LINES);
    assert!(parse(&many).unwrap().lines.is_empty());
    let too_many = format!("{many}at 1 s kill all");
    let e = &errors(&too_many)[0];
    assert_eq!((e.line, e.kind.clone()), (100_001, ErrorKind::TooManyLines));
}

fn two_fleets() -> Vec<FleetInfo> {
    vec![
        FleetInfo {
            name: "drones".to_string(),
            first_device: 0,
            count: 10,
        },
        FleetInfo {
            name: "cars".to_string(),
            first_device: 10,
            count: 4,
        },
    ]
}

fn schedule(text: &str, seed: u64) -> Vec<Scheduled> {
    resolve(&parse(text).unwrap(), &two_fleets(), 120 * S, seed).unwrap()
}

fn at(at_s: u64, line: u32, action: Action) -> Scheduled {
    Scheduled {
        at_us: at_s * S,
        line,
        action,
    }
}

#[test]
fn faults_resolve_on_two_fleets() {
    let text = "\
at 40 s revive device 3
at 30 s kill device 3
at 10 s for 20 s partition cars
at 20 s for 30 s degrade device 12 loss 20% latency +50 ms
at 15 s for 10 s slow workers x3
at 45 s crash controller
at 5 s slow fleet cars x2
at 30 s kill 4 of cars
";
    let got = schedule(text, 7);
    let degraded = Action::Degrade {
        device: 12,
        loss_permille: 200,
        extra_latency_us: 50_000,
        bandwidth_permille: 1_000,
    };
    let slow = |device| Action::Slow {
        device,
        factor_milli: 2_000,
    };
    let expected = vec![
        at(5, 7, slow(10)),
        at(5, 7, slow(11)),
        at(5, 7, slow(12)),
        at(5, 7, slow(13)),
        at(10, 3, Action::LinkDown(10)),
        at(10, 3, Action::LinkDown(11)),
        at(10, 3, Action::LinkDown(12)),
        at(10, 3, Action::LinkDown(13)),
        at(
            15,
            5,
            Action::SlowWorkers {
                factor_milli: 3_000,
            },
        ),
        at(20, 4, degraded),
        at(25, 5, Action::UnslowWorkers),
        at(30, 2, Action::Kill(3)),
        at(30, 3, Action::LinkUp(10)),
        at(30, 3, Action::LinkUp(11)),
        at(30, 3, Action::LinkUp(12)),
        at(30, 3, Action::LinkUp(13)),
        at(30, 8, Action::Kill(10)),
        at(30, 8, Action::Kill(11)),
        at(30, 8, Action::Kill(12)),
        at(30, 8, Action::Kill(13)),
        at(40, 1, Action::Revive(3)),
        at(45, 6, Action::CrashController),
        at(50, 4, Action::Restore(12)),
    ];
    assert_eq!(got, expected);
}

#[test]
fn faults_selections_pick_within_the_fleet() {
    for seed in 0..200 {
        let got = schedule(
            "at 1 s kill 10% of drones\nat 2 s kill 2 of cars\nat 3 s kill 0% of all\nat 4 s slow 0.1% of all x2\nrandom stragglers 50% of drones x4",
            seed,
        );
        let on_line = |line: u32| -> Vec<u32> {
            got.iter()
                .filter(|s| s.line == line)
                .map(|s| match s.action {
                    Action::Kill(d) | Action::Slow { device: d, .. } => d,
                    ref other => panic!("{other:?}"),
                })
                .collect()
        };
        // 10% of 10, rounded up: one drone.
        let one = on_line(1);
        assert!(one.len() == 1 && one[0] < 10, "{seed}: {one:?}");
        let two = on_line(2);
        assert!(
            two.len() == 2 && two[0] < two[1] && two.iter().all(|d| (10..14).contains(d)),
            "{seed}: {two:?}"
        );
        assert!(on_line(3).is_empty());
        // 0.1% of 14 rounds up to one.
        assert_eq!(on_line(4).len(), 1);
        let stragglers = on_line(5);
        assert_eq!(stragglers.len(), 5);
        assert!(stragglers.iter().all(|d| *d < 10));
        assert!(got.iter().filter(|s| s.line == 5).all(|s| s.at_us == 0));
    }
}

#[test]
fn faults_selection_is_uniform_enough() {
    // Over many seeds, `kill 1 of cars` hits each car about a quarter of
    // the time.
    let mut hits = [0u32; 4];
    for seed in 0..4_000 {
        for s in schedule("at 1 s kill 1 of cars", seed) {
            if let Action::Kill(d) = s.action {
                hits[(d - 10) as usize] += 1;
            }
        }
    }
    assert!(hits.iter().all(|h| (800..1_200).contains(h)), "{hits:?}");
}

#[test]
fn faults_same_seed_same_schedule_other_seed_other_schedule() {
    let text = format!("{EXAMPLES}at 1 s for 2 s degrade 3 of drones loss 1%\n");
    let fleets = vec![
        FleetInfo {
            name: "drones".to_string(),
            first_device: 0,
            count: 1_000,
        },
        FleetInfo {
            name: "cars".to_string(),
            first_device: 1_000,
            count: 500,
        },
    ];
    let script = parse(&text).unwrap();
    let run = |seed| resolve(&script, &fleets, 3_600 * S, seed).unwrap();
    let a = run(42);
    assert_eq!(a, run(42));
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&run(42)).unwrap()
    );
    for other in [0, 1, 43, u64::MAX] {
        assert_ne!(a, run(other), "seed {other}");
    }
    assert!(a.windows(2).all(|w| w[0].at_us <= w[1].at_us));
}

#[test]
fn faults_a_line_picks_the_same_devices_whatever_the_other_lines() {
    let alone = schedule("at 1 s kill 3 of drones", 9);
    let with_others = schedule(
        "at 1 s kill 3 of drones\nat 1 s kill 5 of drones\nrandom failures 50% of all per s",
        9,
    );
    let first: Vec<_> = with_others.into_iter().filter(|s| s.line == 1).collect();
    assert_eq!(alone, first);
}

#[test]
fn faults_resolve_errors_name_the_line() {
    let script = parse("at 1 s kill 4 of drone\nat 1 s kill device 13\nat 1 s kill device 14\nat 1 s kill 5 of cars\nrandom failures 1% of trucks per h\nat 1 s slow fleet dornes x2").unwrap();
    let err = resolve(&script, &two_fleets(), 60 * S, 1).unwrap_err();
    let shown: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "line 1, column 18: unknown fleet `drone` (did you mean `drones`?); the mission's fleets: `drones`, `cars`",
            "line 3, column 13: no device 14: the mission has 14 devices",
            "line 4, column 18: cannot pick 5 devices of `cars`: it has 4",
            "line 5, column 23: unknown fleet `trucks`; the mission's fleets: `drones`, `cars`",
            "line 6, column 19: unknown fleet `dornes` (did you mean `drones`?); the mission's fleets: `drones`, `cars`",
        ]
    );
    let none = resolve(&script, &[], 60 * S, 1).unwrap_err();
    assert!(none.errors[0].to_string().contains("fleets: none"));
}

#[test]
fn faults_past_the_end_are_kept_and_ends_follow_starts() {
    let got = schedule(
        "at 200 s for 1 h partition device 1\nat 8760 h for 8760 h slow all x2",
        0,
    );
    assert_eq!(got.first().unwrap().at_us, 200 * S);
    assert_eq!(got.len(), 2 + 28);
    assert_eq!(got.last().unwrap().at_us, 2 * MAX_TIME_US);
}

#[test]
fn faults_random_failures_stay_inside_the_mission() {
    let got = schedule("random failures 100% of all per s", 3);
    // Mean 1 s, mission 120 s: all 14 fail, each once.
    let mut devices: Vec<u32> = got
        .iter()
        .map(|s| match s.action {
            Action::Kill(d) => d,
            ref other => panic!("{other:?}"),
        })
        .collect();
    devices.sort_unstable();
    assert_eq!(devices, (0..14).collect::<Vec<_>>());
    assert!(got.iter().all(|s| s.at_us < 120 * S));
    assert!(schedule("random failures 0% of all per s", 3).is_empty());
}

#[test]
fn faults_serialize_for_the_report() {
    let script = parse("at 1 s kill 10% of drones").unwrap();
    assert_eq!(
        serde_json::to_string(&script).unwrap(),
        r#"{"lines":[{"line":1,"fault":{"kill":{"at_us":1000000,"group":{"select":{"permille":100},"target":{"fleet":"drones"}}}}}]}"#
    );
    let err = parse("x").unwrap_err();
    assert!(serde_json::to_string(&err)
        .unwrap()
        .contains(r#""error":"expected""#));
}

#[test]
fn faults_own_ln_matches_std() {
    let mut rng = Rng::for_line(1, 1);
    for _ in 0..10_000 {
        let x = rng.unit();
        let (ours, std) = (ln(x), x.ln());
        assert!(
            (ours - std).abs() <= 4.0 * f64::EPSILON * std.abs().max(1.0),
            "{x}"
        );
    }
    assert_eq!(ln(1.0), 0.0);
    assert!((ln(f64::MIN_POSITIVE) - f64::MIN_POSITIVE.ln()).abs() < 1e-12);
}

#[test]
fn faults_rng_below_is_in_range() {
    let mut rng = Rng::for_line(5, 5);
    assert_eq!(rng.below(0), 0);
    assert_eq!(rng.below(1), 0);
    for n in [2, 3, 7, 1 << 40, u64::MAX] {
        for _ in 0..100 {
            assert!(rng.below(n) < n);
        }
    }
}

#[test]
fn faults_fixed_point_and_levenshtein() {
    assert_eq!(fixed("1.5", 3), Ok(1_500));
    assert_eq!(fixed("1.5000", 3), Ok(1_500));
    assert_eq!(fixed("1.5001", 3), Err(Num::TooFine));
    assert_eq!(fixed("0", 0), Ok(0));
    for bad in ["", ".", "1.", ".5", "-1", "+1", "1e3", "١"] {
        assert_eq!(fixed(bad, 3), Err(Num::Malformed), "{bad}");
    }
    assert_eq!(fixed(&"9".repeat(60), 0), Err(Num::TooLarge));
    assert_eq!(levenshtein("kill", "kill", 2), Some(0));
    assert_eq!(levenshtein("kil", "kill", 2), Some(1));
    assert_eq!(levenshtein("dornes", "drones", 2), Some(2));
    assert_eq!(levenshtein("cars", "drones", 2), None);
    assert_eq!(levenshtein("ü", "u", 2), Some(1));
    assert_eq!(levenshtein(&"a".repeat(65), &"a".repeat(65), 2), None);
}

/// Valid lines, to mutate.
fn valid_script() -> String {
    format!("{EXAMPLES}at 1.5 min for 250ms degrade fleet cars bandwidth 10 % latency 5 ms\nrandom failures 0.5% of all per 10 min\n")
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, char),
    Replace(usize, char),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        any::<char>(),
        proptest::sample::select(vec![
            ' ', '\n', '#', '%', '.', '+', 'x', '0', '9', '-', 's', '\0', '\r', 'µ', '×'
        ]),
    ];
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), interesting.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<usize>(), interesting).prop_map(|(at, c)| Edit::Replace(at, c)),
        (any::<usize>(), 1usize..30).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match *e {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Edit::Replace(at, c) => {
                if !chars.is_empty() {
                    let at = at % chars.len();
                    chars[at] = c;
                }
            }
            Edit::Duplicate(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                let copy: Vec<char> = chars.get(at..end).unwrap_or(&[]).to_vec();
                let place = end.min(chars.len());
                chars.splice(place..place, copy);
            }
            Edit::Truncate(at) => chars.truncate(at % len),
        }
    }
    chars.into_iter().collect()
}

/// Parse, and if that works resolve it: must return, not panic, and any
/// error must name a real line.
fn never_panics(text: &str) {
    let lines = text.lines().count().max(1) as u32;
    match parse(text) {
        Ok(script) => {
            for seed in [0, 1] {
                if let Err(e) = resolve(&script, &two_fleets(), 600 * S, seed) {
                    assert!(!e.errors.is_empty());
                    assert!(e.errors.iter().all(|e| e.line >= 1 && e.line <= lines));
                }
            }
        }
        Err(e) => {
            assert!(!e.errors.is_empty());
            assert!(e.errors.windows(2).all(|w| w[0].line < w[1].line));
            for err in &e.errors {
                assert!(err.line >= 1 && err.line <= lines, "{err}");
                assert!(err.column >= 1, "{err}");
                assert!(!err.to_string().is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn faults_never_panic_on_arbitrary_text(text in any::<String>()) {
        never_panics(&text);
    }

    #[test]
    fn faults_never_panic_on_word_soup(words in proptest::collection::vec(proptest::sample::select(vec![
        "at", "for", "random", "failures", "stragglers", "kill", "revive", "partition",
        "disconnect", "degrade", "slow", "workers", "crash", "controller", "device", "of",
        "all", "fleet", "drones", "cars", "per", "min", "s", "ms", "h", "30", "0", "1.5",
        "10%", "%", "x4", "x", "×2", "loss", "latency", "bandwidth", "+", "+5ms", "#", "\n",
        "4294967295", "4294967296", "99999999999999999999",
    ]), 0..40)) {
        never_panics(&words.join(" "));
    }

    #[test]
    fn faults_never_panic_on_mutated_scripts(edits in proptest::collection::vec(edit(), 1..6)) {
        never_panics(&apply(&valid_script(), &edits));
    }

    #[test]
    fn faults_well_formed_lines_parse(
        at in 0u64..100_000,
        unit in 0usize..6,
        spaced in any::<bool>(),
        for_ms in proptest::option::of(1u64..10_000_000),
        verb in 0usize..6,
        permille in 0u32..=1_000,
        factor in 1_000u32..=1_000_000,
    ) {
        let units = [("us", 1), ("µs", 1), ("ms", 1_000), ("s", S), ("min", 60 * S), ("h", 3_600 * S)];
        let (unit_text, unit_us) = units[unit];
        let gap = if spaced { " " } else { "" };
        let time = format!("{at}{gap}{unit_text}");
        let lasting = for_ms.map(|ms| format!(" for {ms} ms")).unwrap_or_default();
        let percent = format!("{}.{}%", permille / 10, permille % 10);
        let x = format!("x{}.{:03}", factor / 1_000, factor % 1_000);
        let fault = match verb {
            0 => format!("partition {percent} of drones"),
            1 => format!("disconnect {percent} of all"),
            2 => format!("slow {percent} of cars {x}"),
            3 => format!("slow workers {x}"),
            4 => format!("degrade device 3 latency +{at} us loss {}.{}%", permille.min(999) / 10, permille.min(999) % 10),
            _ => format!("degrade all bandwidth {}.{}%", permille.max(1) / 10, permille.max(1) % 10),
        };
        let text = format!("at {time}{lasting} {fault}");
        let at_us = at * unit_us;
        match parse(&text) {
            Ok(script) => {
                prop_assert!(at_us <= MAX_TIME_US, "{text}");
                let (got_at, got_for) = match &script.lines[0].fault {
                    Fault::Partition { at_us, for_us, .. }
                    | Fault::Disconnect { at_us, for_us, .. }
                    | Fault::Slow { at_us, for_us, .. }
                    | Fault::SlowWorkers { at_us, for_us, .. }
                    | Fault::Degrade { at_us, for_us, .. } => (*at_us, *for_us),
                    other => panic!("{other:?}"),
                };
                prop_assert_eq!(got_at, at_us);
                prop_assert_eq!(got_for, for_ms.map(|ms| ms * 1_000));
            }
            Err(e) => {
                prop_assert!(at_us > MAX_TIME_US, "{text}: {e}");
                prop_assert!(e.to_string().contains("at most 1 year"), "{}", e);
            }
        }
    }
}

/// The statistics of random failures, over 512 fixed seeds: each run is
/// the same (a statistical bound checked on fresh random seeds every run
/// failed now and then: a 5-sigma mean turned up once in ~1,000 runs).
#[test]
fn faults_random_failure_counts_follow_the_rate() {
    let fleets = [FleetInfo {
        name: "swarm".to_string(),
        first_device: 0,
        count: 2_000,
    }];
    let per_min = parse("random failures 1% of swarm per min").unwrap();
    let per_s = parse("random failures 100% of swarm per s").unwrap();
    for seed in 0..512u64 {
        // 2000 devices at 1% per minute for 30 min: each fails with
        // probability 1 - e^-0.3 = 0.2592; expect 518.4, sd 19.6.
        let got = resolve(&per_min, &fleets, 30 * 60 * S, seed).unwrap();
        assert!(
            (418..=618).contains(&got.len()),
            "seed {seed}: {} failures",
            got.len()
        );
        let mut devices: Vec<u32> = got
            .iter()
            .map(|s| match s.action {
                Action::Kill(d) => d,
                _ => u32::MAX,
            })
            .collect();
        devices.sort_unstable();
        devices.dedup();
        assert_eq!(devices.len(), got.len(), "seed {seed}");
        assert!(got.iter().all(|s| s.at_us < 30 * 60 * S), "seed {seed}");

        // At 100% per second over a long mission everyone fails, at a mean
        // time of 1 s (standard error 0.022 s).
        let got = resolve(&per_s, &fleets, 3_600 * S, seed).unwrap();
        assert_eq!(got.len(), 2_000, "seed {seed}");
        let mean = got.iter().map(|s| s.at_us as f64).sum::<f64>() / 2_000.0 / S as f64;
        assert!((0.9..1.1).contains(&mean), "seed {seed}: mean {mean} s");
    }
}
