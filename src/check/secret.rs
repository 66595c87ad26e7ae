//! Plaintext-secret detection and redaction.
//!
//! A value is a secret when it carries a known credential prefix (`sk-`, `ghp_`, `xoxb-`, `AKIA`,
//! a PEM private key...), or when it is a high-entropy string under a key named like `*token*`,
//! `*secret*`, `*password*` or `*api_key*`. References (`vault://...`, `env:NAME`) are never
//! secrets. A secret is never printed whole: [`redact`] keeps a short prefix.

/// Why a value looks like a credential, or `None`.
pub fn detect(key: &str, value: &str) -> Option<&'static str> {
    let v = value.trim();
    // Every credential form below is at least 15 characters long.
    if v.len() < 15 || v.starts_with("vault://") || v.starts_with("env:") {
        return None;
    }
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("a PEM private key");
    }
    let maybe_token = ["sk-", "gh", "github_pat_", "xox", "AKIA", "ASIA", "glpat-"]
        .iter()
        .any(|p| v.contains(p));
    if maybe_token {
        for word in v.split(|c: char| {
            c.is_whitespace()
                || c == '"'
                || c == '\''
                || c == '='
                || c == ','
                || c == '&'
                || c == '?'
        }) {
            if let Some(kind) = known_token(word) {
                return Some(kind);
            }
        }
    }
    let sensitive = [
        "token",
        "secret",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "private_key",
    ]
    .iter()
    .any(|s| contains_ignore_case(key, s));
    if sensitive && !key.eq_ignore_ascii_case("secret_ref") && looks_random(v) {
        return Some("a high-entropy value under a secret-like key");
    }
    None
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn known_token(w: &str) -> Option<&'static str> {
    let tail_ok = |prefix: &str, min: usize| {
        w.strip_prefix(prefix).is_some_and(|t| {
            t.len() >= min
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    if tail_ok("sk-", 20) {
        return Some("an API key (sk-...)");
    }
    for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"] {
        if tail_ok(p, 20) {
            return Some("a GitHub token");
        }
    }
    for p in ["xoxb-", "xoxp-", "xoxa-", "xoxs-"] {
        if tail_ok(p, 10) {
            return Some("a Slack token");
        }
    }
    if (w.starts_with("AKIA") || w.starts_with("ASIA"))
        && w.len() == 20
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Some("an AWS access key id");
    }
    if tail_ok("glpat-", 20) {
        return Some("a GitLab token");
    }
    None
}

/// A string of 16+ characters, no spaces, with Shannon entropy of at least 3 bits a character.
fn looks_random(v: &str) -> bool {
    if v.chars().count() < 16 || v.contains(char::is_whitespace) {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for c in v.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = v.chars().count() as f64;
    let h: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    h >= 3.0
}

/// A redacted form: the first few characters, then the length.
pub fn redact(value: &str) -> String {
    let keep: String = value.chars().take(4).collect();
    format!(
        "{}… (redacted, {} chars)",
        crate::model::source::safe(&keep),
        value.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_known_prefixes_anywhere() {
        assert!(detect("url", "sk-abcdefghijklmnopqrstuvwxyz0123").is_some());
        assert!(detect("note", "token is ghp_abcdefghijklmnopqrstuvwxyz0123456789").is_some());
        assert!(detect("x", "AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(detect("x", "xoxb-123456789012-abc").is_some());
        assert!(detect("k", "-----BEGIN RSA PRIVATE KEY-----\nMII...").is_some());
    }

    #[test]
    fn finds_random_values_under_secret_keys_only() {
        assert!(detect("api_token", "q8Zr2LmX9vPw4TnB7yKc").is_some());
        assert!(detect("description", "q8Zr2LmX9vPw4TnB7yKc").is_none());
        assert!(detect("password", "hunter2").is_none());
    }

    #[test]
    fn references_and_ordinary_text_are_not_secrets() {
        assert!(detect("secret_ref", "vault://acme/zendesk").is_none());
        assert!(detect("api_key", "env:ACME_KEY").is_none());
        assert!(detect("purpose", "Answer sk-learn questions").is_none());
        assert!(detect("name", "risk-assessment").is_none());
    }

    #[test]
    fn redaction_keeps_a_prefix_only() {
        let r = redact("sk-abcdefghijklmnopqrstuvwxyz0123");
        assert!(r.starts_with("sk-a…"));
        assert!(!r.contains("bcdefgh"));
    }
}
