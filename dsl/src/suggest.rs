//! "Did you mean …?" for names, keywords and units.

/// Words longer than this get no suggestion: nobody mistypes a 100-letter
/// name into another, and edit distance is quadratic in the length.
pub const MAX_SUGGEST_CHARS: usize = 64;

/// Among more candidates than this there is no suggestion: a mission with
/// that many names is generated, not typed, and comparing every unknown
/// name with every known one would be quadratic (a file at the size limit
/// full of misspelt producers took minutes).
pub const MAX_SUGGEST_CANDIDATES: usize = 2_000;

/// The closest candidate to `word`, if one is close enough to be a typo.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let chars = word.chars().count();
    if chars > MAX_SUGGEST_CHARS {
        return None;
    }
    let candidates = candidates.into_iter();
    // A map's keys know their number: refuse at once. Other iterators
    // stop (with no answer) at the first candidate over the limit.
    if candidates.size_hint().0 > MAX_SUGGEST_CANDIDATES {
        return None;
    }
    let lower = word.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for (seen, cand) in candidates.enumerate() {
        if seen >= MAX_SUGGEST_CANDIDATES {
            return None;
        }
        if cand == word {
            continue;
        }
        // The distance is at least the difference in length: skip without
        // computing it when that alone is over the limit.
        let cand_chars = cand.chars().take(MAX_SUGGEST_CHARS + 1).count();
        if cand_chars.abs_diff(chars) > (chars.max(cand_chars) / 3).max(1) {
            continue;
        }
        let cand_lower = cand.to_lowercase();
        let distance = strsim::damerau_levenshtein(&lower, &cand_lower);
        let limit = (word.chars().count().max(cand.chars().count()) / 3).max(1);
        // A case-only difference (`mb` vs `MB`) is the best possible match.
        let score = if lower == cand_lower {
            0.0
        } else if distance <= limit {
            distance as f64 + (1.0 - strsim::jaro_winkler(&lower, &cand_lower))
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// `Some("did you mean `x`?")` when there is a near miss.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_not_strangers() {
        assert_eq!(
            closest("detcet", ["detect", "dedup", "report"]),
            Some("detect")
        );
        assert_eq!(closest("batery", ["battery", "cpu"]), Some("battery"));
        assert_eq!(closest("mb", ["MB", "mm"]), Some("MB"));
        assert_eq!(closest("zzzzzz", ["detect", "dedup"]), None);
        assert_eq!(closest("x", ["detect"]), None);
    }

    #[test]
    fn too_many_candidates_are_not_searched() {
        let names: Vec<String> = (0..=MAX_SUGGEST_CANDIDATES)
            .map(|i| format!("task{i}"))
            .collect();
        assert_eq!(closest("tsak1", names.iter().map(String::as_str)), None);
        let few = &names[..MAX_SUGGEST_CANDIDATES];
        assert_eq!(
            closest("tsak1", few.iter().map(String::as_str)),
            Some("task1")
        );
    }

    #[test]
    fn long_words_are_not_compared() {
        let long = "d".repeat(100_000);
        let near = format!("{long}x");
        assert_eq!(closest(&long, [near.as_str(), "drones"]), None);
        assert_eq!(closest("drone", [near.as_str(), "drones"]), Some("drones"));
    }
}
