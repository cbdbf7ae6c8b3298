//! The one optional path argument of the fpga tools: `-h`/`--help` prints
//! the usage, any other option is refused (never taken for a path).

/// The path given, if any; exits after printing the usage or an error.
pub fn optional_path(usage: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    match first.as_deref() {
        Some("-h" | "--help") => {
            println!("{usage}");
            std::process::exit(0);
        }
        Some(a) if a.starts_with('-') => {
            eprintln!("error: unknown option {a}\n\n{usage}");
            std::process::exit(2);
        }
        _ => {}
    }
    if args.next().is_some() {
        eprintln!("error: one path at most\n\n{usage}");
        std::process::exit(2);
    }
    first
}
