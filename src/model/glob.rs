//! Globs over names and actions: `*` matches any run of characters (including none and `.`);
//! every other character matches itself.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// True when the inherited pattern covers an element of a narrower list, the element's own text
/// taken literally (`acme.*` is covered by `*`; `*` is not covered by `acme.*`).
pub fn covers(inherited: &str, element: &str) -> bool {
    matches(inherited, element)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run() {
        assert!(matches("*", ""));
        assert!(matches("*.delete_*", "zendesk.delete_ticket"));
        assert!(!matches("*.delete_*", "zendesk.get_ticket"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("gpt-4.1", "gpt-4.1"));
        assert!(!matches("gpt-4.1", "gpt-4.10"));
    }

    #[test]
    fn coverage_takes_the_element_literally() {
        assert!(covers("*", "acme.*"));
        assert!(!covers("acme.*", "*"));
        assert!(covers("acme.*", "acme.get"));
        assert!(covers("acme.*", "acme.*"));
    }
}
