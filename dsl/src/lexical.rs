//! The one lexical rule the pre-parse scans share with the grammar: `//`
//! comments run to the end of the line; strings run from `"` to the next `"`
//! or the end of the line. Used where the source is scanned outside pest
//! (bracket depth, unclosed brackets, comments for the formatter, trailing
//! trivia of spans).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    Code,
    /// Inside a string literal, quotes included.
    String,
    /// Inside a `//` comment, the slashes included.
    Comment,
}

/// Every byte of `src` with the region it lies in.
pub(crate) fn regions(src: &str) -> impl Iterator<Item = (usize, u8, Region)> + '_ {
    let bytes = src.as_bytes();
    let mut state = Region::Code;
    bytes.iter().enumerate().map(move |(i, &b)| {
        let region = match state {
            Region::Comment if b != b'\n' => Region::Comment,
            Region::String if b == b'"' => {
                state = Region::Code;
                Region::String
            }
            Region::String if b != b'\n' => Region::String,
            // Code, or a newline ending a comment or an unterminated string.
            _ => {
                state = match b {
                    b'"' => Region::String,
                    b'/' if bytes.get(i + 1) == Some(&b'/') => Region::Comment,
                    _ => Region::Code,
                };
                state
            }
        };
        (i, b, region)
    })
}

/// Bytes outside comments and strings.
pub(crate) fn code(src: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    regions(src)
        .filter(|&(_, _, r)| r == Region::Code)
        .map(|(i, b, _)| (i, b))
}

/// Byte ranges of every `//` comment (up to, not including, the newline).
pub(crate) fn comments(src: &str) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut open: Option<usize> = None;
    for (i, _, r) in regions(src) {
        match (r, open) {
            (Region::Comment, None) => open = Some(i),
            (Region::Comment, Some(_)) => {}
            (_, Some(start)) => {
                out.push(start..i);
                open = None;
            }
            (_, None) => {}
        }
    }
    if let Some(start) = open {
        out.push(start..src.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings_hide_each_other() {
        let src = "a { \"x // y\" } // c {\nb ( \"open\n)";
        assert_eq!(comments(src), vec![15..21]);
        let code: String = code(src).map(|(_, b)| b as char).collect();
        assert_eq!(code, "a {  } \nb ( \n)");
    }
}
