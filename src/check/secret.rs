//! Plaintext-secret detection and redaction.
//!
//! A value is a secret when it carries a known credential prefix (`sk-`, `ghp_`, `xoxb-`, `AKIA`,
//! a PEM private key...), or when it is a high-entropy string under a key named like `*token*`,
//! `*secret*`, `*password*` or `*api_key*`. References (`vault://...`, `env:NAME`) are never
//! secrets. A secret is never printed whole: [`redact`] keeps a short prefix.

/// What every known credential form starts with.
const TOKEN_STARTS: [&str; 12] = [
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "AKIA",
    "ASIA",
    "glpat-",
    "-----BEGIN",
];

/// True when one of [`TOKEN_STARTS`] occurs in `b` (long text, such as prompts, with vectorised
/// substring searches).
fn may_hold_token(b: &[u8]) -> bool {
    use std::sync::OnceLock;
    // Short text: one pass, looking further only where a prefix could start.
    if b.len() < 256 {
        return b.iter().enumerate().any(|(i, c)| {
            matches!(c, b's' | b'g' | b'x' | b'A' | b'-')
                && TOKEN_STARTS
                    .iter()
                    .any(|p| b[i..].starts_with(p.as_bytes()))
        });
    }
    static FINDERS: OnceLock<Vec<memchr::memmem::Finder<'static>>> = OnceLock::new();
    FINDERS
        .get_or_init(|| {
            TOKEN_STARTS
                .iter()
                .map(|p| memchr::memmem::Finder::new(p.as_bytes()))
                .collect()
        })
        .iter()
        .any(|f| f.find(b).is_some())
}

/// Why a value looks like a credential, or `None`.
pub fn detect(key: &str, value: &str) -> Option<&'static str> {
    let v = value.trim();
    // Every credential form below is at least 15 characters long.
    if v.len() < 15 || v.starts_with("vault://") || v.starts_with("env:") {
        return None;
    }
    if let Some((_, kind)) = locate(v) {
        return Some(kind);
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

/// Where a credential of a known form (a token prefix, a PEM private key) stands in free text (a
/// fragment file, an inline `text`), as a byte range, and what it looks like.
pub fn locate(text: &str) -> Option<(std::ops::Range<usize>, &'static str)> {
    // Every form below is at least 15 characters and starts with one of TOKEN_STARTS: most
    // text holds none and is passed in one scan.
    if text.len() < 15 || !may_hold_token(text.as_bytes()) {
        return None;
    }
    if let Some(start) = text.find("-----BEGIN")
        && text[start..].contains("PRIVATE KEY")
    {
        let end = text[start..]
            .find("-----END")
            .map_or(text.len(), |e| start + e);
        return Some((start..end, "a PEM private key"));
    }
    let word = |w: &str| w.trim_end_matches(['.', ';', ':', '!', ']', '}']).len();
    let is_sep = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '=' | ',' | '&' | '?' | '`' | '(' | ')' | '<' | '>'
            )
    };
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (is_sep(c), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let end = s + word(&text[s..i]);
                if let Some(kind) = known_token(&text[s..end]) {
                    return Some((s..end, kind));
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

/// A reference path as opl may show it: a key or id that is itself a credential is redacted.
pub fn redact_path(path: &crate::model::key_path::KeyPath) -> String {
    use crate::model::key_path::{KeyPath, Segment};
    if !path.0.iter().any(|s| match s {
        Segment::Key(k) | Segment::Id(k) => locate(k).is_some(),
    }) {
        return path.to_string();
    }
    KeyPath(
        path.0
            .iter()
            .map(|s| match s {
                Segment::Key(k) if locate(k).is_some() => Segment::Key(redact(k)),
                Segment::Id(k) if locate(k).is_some() => Segment::Id(redact(k)),
                other => other.clone(),
            })
            .collect(),
    )
    .to_string()
}

/// A value as opl may show it: every string that looks like a credential (under its key, or
/// carrying a known token form anywhere), and every key name that is one, redacted. The one
/// redaction point of values: provenance, diffs, history and patches show values through it.
pub fn redact_json(key: &str, v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match v {
        Json::String(s) if detect(key, s).is_some() => Json::String(redact(s)),
        Json::Array(a) => Json::Array(a.iter().map(|x| redact_json(key, x)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| {
                    let shown = if locate(k).is_some() {
                        redact(k)
                    } else {
                        k.clone()
                    };
                    (shown, redact_json(k, x))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `v` as opl may show it ([`redact_json`]), copied only when something in it is redacted.
pub fn redacted(key: &str, v: serde_json::Value) -> serde_json::Value {
    if has_secret(key, &v) {
        redact_json(key, &v)
    } else {
        v
    }
}

/// True when [`redact_json`] would redact something in `v`.
pub fn has_secret(key: &str, v: &serde_json::Value) -> bool {
    use serde_json::Value as Json;
    match v {
        Json::String(s) => detect(key, s).is_some(),
        Json::Array(a) => a.iter().any(|x| has_secret(key, x)),
        Json::Object(o) => o
            .iter()
            .any(|(k, x)| locate(k).is_some() || has_secret(k, x)),
        _ => false,
    }
}

/// A redacted form: the first few characters, then the length.
///
/// A short fingerprint (24 bits of its SHA-256) keeps two different secrets apart, so a history
/// or a diff still sees a secret change, without revealing anything usable about it.
pub fn redact(value: &str) -> String {
    use sha2::Digest;
    let keep: String = value.chars().take(4).collect();
    let hash = sha2::Sha256::digest(value.as_bytes());
    format!(
        "{}… (redacted, {} chars, #{:02x}{:02x}{:02x})",
        crate::model::source::safe(&keep),
        value.chars().count(),
        hash[0],
        hash[1],
        hash[2]
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
    fn tokens_are_located_in_free_text_and_redacted_in_values() {
        let text = "Use the key sk-abcdefghijklmnopqrstuvwxyz0123 for billing.\n";
        let (range, kind) = locate(text).unwrap();
        assert_eq!(&text[range], "sk-abcdefghijklmnopqrstuvwxyz0123");
        assert_eq!(kind, "an API key (sk-...)");
        assert!(locate("Answer sk-learn questions kindly.").is_none());
        let v = serde_json::json!({
            "prompt": text,
            "api_token": "q8Zr2LmX9vPw4TnB7yKc",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789": 1,
            "list": ["xoxb-123456789012-abcdef", "plain"],
        });
        let shown = redact_json("", &v).to_string();
        for whole in [
            "sk-abcdefghijklmnopqrstuvwxyz0123",
            "q8Zr2LmX9vPw4TnB7yKc",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-123456789012-abcdef",
        ] {
            assert!(!shown.contains(whole), "{shown}");
        }
        assert!(shown.contains("plain"));
    }

    #[test]
    fn two_secrets_redact_apart() {
        let (a, b) = (
            redact("sk-abcdefghijklmnopqrstuvwxyz0123"),
            redact("sk-abcdefghijklmnopqrstuvwxyz0124"),
        );
        assert_ne!(a, b);
        assert!(a.starts_with("sk-a… (redacted, 33 chars, #"), "{a}");
    }

    #[test]
    fn redaction_keeps_a_prefix_only() {
        let r = redact("sk-abcdefghijklmnopqrstuvwxyz0123");
        assert!(r.starts_with("sk-a…"));
        assert!(!r.contains("bcdefgh"));
    }
}
