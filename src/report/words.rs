//! Counted words: `1 test`, `2 tests`, `1 binary`, `3 binaries`. Every
//! renderer and message that puts a number before a noun goes through
//! [`counted`], so none of them says "1 tests".

/// `n` and `noun`, the noun in the plural unless `n` is 1: `counted(1,
/// "test")` is `1 test`, `counted(3, "binary")` is `3 binaries`.
///
/// `noun` is the singular; a phrase (`leaking test`) is pluralised on its
/// last word. The plural follows the regular English rules, which cover
/// every noun sockcheck counts: `-y` after a consonant becomes `-ies`, a
/// word ending in `s`, `x`, `ch` or `sh` takes `-es`, any other takes `-s`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {}", plural(noun))
    }
}

/// The plural of `noun` (see [`counted`] for the rules).
pub fn plural(noun: &str) -> String {
    if let Some(stem) = noun.strip_suffix('y') {
        if stem.ends_with(|c: char| c.is_ascii_alphabetic() && !"aeiou".contains(c)) {
            return format!("{stem}ies");
        }
    }
    if ["s", "x", "ch", "sh"].iter().any(|end| noun.ends_with(end)) {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "test"), "1 test");
        assert_eq!(counted(0, "test"), "0 tests");
        assert_eq!(counted(2, "leaking test"), "2 leaking tests");
        assert_eq!(counted(1, "binary"), "1 binary");
        assert_eq!(counted(3, "binary"), "3 binaries");
        assert_eq!(counted(2, "process"), "2 processes");
        assert_eq!(counted(2, "key"), "2 keys");
    }
}
