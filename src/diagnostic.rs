//! Findings: what opl reports about a config repository.
//!
//! A finding is data, never a failure: loading, merging and checking collect every finding they
//! meet and carry on. Every finding has a stable kebab-case code from [`CODES`], a primary span,
//! and, for conflicts, a related span naming the other side.

use crate::source::{Location, Sources, Span};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every finding code opl emits, its severity and what it means.
pub const CODES: &[(&str, Severity, &str)] = &[
    ("parse", Severity::Error, "a file is not valid UTF-8 TOML"),
    (
        "file-too-large",
        Severity::Error,
        "a file is larger than the per-file limit",
    ),
    (
        "too-many-files",
        Severity::Error,
        "the repository holds more paths than opl reads",
    ),
    (
        "symlink",
        Severity::Error,
        "a symbolic link where a layer file or fragment is expected",
    ),
    (
        "invalid-id",
        Severity::Error,
        "a client or agent name breaks the id pattern",
    ),
    (
        "case-collision",
        Severity::Error,
        "two ids in one folder differ only in case",
    ),
    (
        "ambiguous-agent",
        Severity::Error,
        "an agent has both agents/<id>.toml and agents/<id>/",
    ),
    (
        "root-config",
        Severity::Error,
        "opl.toml lacks `version = 1` or is otherwise wrong",
    ),
    (
        "duplicate-key",
        Severity::Error,
        "two files of one layer define the same leaf",
    ),
    (
        "type-conflict",
        Severity::Error,
        "a layer changes the type of an inherited value",
    ),
    (
        "widening",
        Severity::Error,
        "a layer loosens a policy an earlier layer set",
    ),
    (
        "locked",
        Severity::Error,
        "a layer defines a key an earlier layer locked",
    ),
    (
        "duplicate-id",
        Severity::Error,
        "an id-keyed array repeats an id",
    ),
    (
        "misplaced-key",
        Severity::Error,
        "a key set in a layer that may not set it",
    ),
    (
        "unknown-key",
        Severity::Error,
        "a key the schema does not know",
    ),
    (
        "type",
        Severity::Error,
        "a value of the wrong type or out of range",
    ),
    (
        "unknown-client",
        Severity::Error,
        "agent.client names no directory under clients/",
    ),
    (
        "file-ref",
        Severity::Error,
        "a fragment file that cannot be used",
    ),
    (
        "required-fragment",
        Severity::Error,
        "instructions.exclude names a required fragment",
    ),
    (
        "unknown-id",
        Severity::Error,
        "instructions.exclude names a fragment that is not inherited",
    ),
    (
        "unknown-connection",
        Severity::Error,
        "tools.<name> names no connection",
    ),
    (
        "no-approvers",
        Severity::Error,
        "an approval rule requires approval but names no approver",
    ),
    (
        "missing",
        Severity::Error,
        "a required effective value is absent",
    ),
    (
        "policy-violation",
        Severity::Error,
        "a setting breaks a policy of the effective config",
    ),
    (
        "denied-action",
        Severity::Error,
        "an action the agent uses matches policy.tools.deny",
    ),
    (
        "not-allowed-action",
        Severity::Error,
        "an action the agent uses is not covered by policy.tools.allow",
    ),
    (
        "unbounded-memory",
        Severity::Error,
        "a memory scope without a retention",
    ),
    (
        "unknown-contact",
        Severity::Error,
        "an escalation target names no contact",
    ),
    (
        "plaintext-secret",
        Severity::Error,
        "a value that looks like a credential",
    ),
    (
        "stray-file",
        Severity::Warning,
        "a *.toml file outside every layer",
    ),
    (
        "noop-override",
        Severity::Warning,
        "a layer sets exactly the inherited value",
    ),
    (
        "dead-rule",
        Severity::Warning,
        "an approval rule or require_approval glob that matches no action in use",
    ),
    (
        "unused-connection",
        Severity::Warning,
        "a connection no agent uses",
    ),
    (
        "hoist",
        Severity::Warning,
        "a value every agent of a client, or every client, sets identically",
    ),
    (
        "codeowners-drift",
        Severity::Warning,
        "the committed CODEOWNERS disagrees with the layers' meta.owner",
    ),
];

/// The severity a code always has.
pub fn severity_of(code: &str) -> Severity {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, s, _)| *s)
        .unwrap_or(Severity::Error)
}

/// The other place a finding points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Label on the primary span.
    pub label: Option<String>,
    pub related: Vec<Related>,
    pub help: Option<String>,
}

impl Finding {
    /// A finding with the code's severity.
    pub fn new(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        debug_assert!(
            CODES.iter().any(|(c, _, _)| *c == code),
            "unknown code {code}"
        );
        Finding {
            code,
            severity: severity_of(code),
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
        }
    }
    /// Sets the label on the primary span.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Adds a related place.
    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }
    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// Ordering key: file path, position, code.
    pub fn sort_key(&self, sources: &Sources) -> (Location, &'static str, String) {
        (sources.locate(self.span), self.code, self.message.clone())
    }
}

/// Sorts findings by place and removes exact repeats (a global problem seen through many agents).
pub fn normalize(findings: &mut Vec<Finding>, sources: &Sources) {
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.clone()));
    findings.sort_by_cached_key(|f| f.sort_key(sources));
}

/// The closest candidate to `word`, for a did-you-mean.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for (code, _, _) in CODES {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
        }
    }

    #[test]
    fn did_you_mean_finds_close_words() {
        assert_eq!(
            did_you_mean("provdier", ["provider", "name"]),
            Some("provider")
        );
        assert_eq!(did_you_mean("zzz", ["provider", "name"]), None);
        assert_eq!(did_you_mean("modle", ["model", "memory"]), Some("model"));
    }
}
