//! Findings: what opl reports about a config repository.
//!
//! A finding is data, never a failure: loading, merging and checking collect every finding they
//! meet and carry on. Every finding has a stable kebab-case code [`Code`], a primary span,
//! and, for conflicts, a related span naming the other side.

use crate::model::source::{Location, Sources, Span};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Declares [`Code`]: every finding code with its severity, whether it keeps an agent's document
/// from being built (spec section 8: the errors of sections 1-5), and its one-line description.
macro_rules! codes {
    ($($variant:ident = $name:literal, $severity:ident, $unbuildable:literal, $description:literal;)*) => {
        /// A finding code. The only way to name one: an unknown code does not compile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $description] $variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name (`widening`, `plaintext-secret`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
            /// The severity findings of this code have, unless a lint level or an option changes it.
            pub const fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }
            /// True when an error of this code keeps the agent's document from being built.
            pub const fn unbuildable(self) -> bool {
                match self {
                    $(Code::$variant => $unbuildable,)*
                }
            }
            /// One line on what the code means (SARIF rule metadata, `--help`, docs).
            pub const fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $description,)*
                }
            }
        }
    };
}

codes! {
    Parse = "parse", Error, true, "a file is not valid UTF-8 TOML";
    FileTooLarge = "file-too-large", Error, true, "a file is larger than the per-file limit";
    TooManyFiles = "too-many-files", Error, true, "the repository holds more paths than opl reads";
    Symlink = "symlink", Error, true, "a symbolic link where a layer file or fragment is expected";
    InvalidId = "invalid-id", Error, true, "a client or agent name breaks the id pattern";
    CaseCollision = "case-collision", Error, true, "two ids in one folder differ only in case";
    AmbiguousAgent = "ambiguous-agent", Error, true, "an agent has both agents/<id>.toml and agents/<id>/";
    RootConfig = "root-config", Error, true, "opl.toml lacks `version = 1` or is otherwise wrong";
    DuplicateKey = "duplicate-key", Error, true, "two files of one layer define the same leaf";
    TypeConflict = "type-conflict", Error, true, "a layer changes the type of an inherited value";
    Widening = "widening", Error, true, "a layer loosens a policy an earlier layer set";
    Locked = "locked", Error, true, "a layer defines a key an earlier layer locked";
    DuplicateId = "duplicate-id", Error, true, "an id-keyed array repeats an id";
    MisplacedKey = "misplaced-key", Error, true, "a key set in a layer that may not set it";
    UnknownKey = "unknown-key", Error, true, "a key the schema does not know";
    Type = "type", Error, true, "a value of the wrong type or out of range";
    UnknownClient = "unknown-client", Error, true, "agent.client names no directory under clients/";
    FileRef = "file-ref", Error, true, "a fragment file that cannot be used";
    RequiredFragment = "required-fragment", Error, true, "instructions.exclude names a required fragment";
    UnknownId = "unknown-id", Error, true, "instructions.exclude names a fragment that is not inherited";
    UnknownConnection = "unknown-connection", Error, false, "tools.<name> names no connection";
    NoApprovers = "no-approvers", Error, true, "an approval rule requires approval but names no approver";
    Missing = "missing", Error, false, "a required effective value is absent";
    PolicyViolation = "policy-violation", Error, false, "a setting breaks a policy of the effective config";
    DeniedAction = "denied-action", Error, false, "an action the agent uses matches policy.tools.deny";
    NotAllowedAction = "not-allowed-action", Error, false, "an action the agent uses is not covered by policy.tools.allow";
    UnboundedMemory = "unbounded-memory", Error, false, "a memory scope without a retention";
    UnknownContact = "unknown-contact", Error, false, "an escalation target names no contact";
    PlaintextSecret = "plaintext-secret", Error, false, "a value that looks like a credential";
    StrayFile = "stray-file", Warning, false, "a *.toml file outside every layer";
    NoopOverride = "noop-override", Warning, false, "a layer sets exactly the inherited value";
    DeadRule = "dead-rule", Warning, false, "a rule or require_approval glob that matches no action in use";
    UnusedConnection = "unused-connection", Warning, false, "a connection no agent uses";
    Hoist = "hoist", Warning, false, "a value every agent of a client, or every client, sets identically";
    CodeownersDrift = "codeowners-drift", Warning, false, "the CODEOWNERS file disagrees with the layers' meta.owner";
    TestFailed = "test-failed", Error, false, "a policy test of tests/ fails";
    UnknownAgent = "unknown-agent", Error, false, "a policy test names no agent of the repository";
    WideningChange = "widening-change", Warning, false, "a change between two revisions that widens what an agent may do";
}

impl Code {
    /// The code named `name`.
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
    /// True for warnings, the codes `[lints]` may allow.
    pub fn is_lint(self) -> bool {
        self.severity() == Severity::Warning
    }
}

/// The finding codes with their severity and description, for `--help`.
pub fn codes_help() -> String {
    let width = Code::ALL
        .iter()
        .map(|c| c.as_str().len())
        .max()
        .unwrap_or(0);
    let mut s = String::from("Finding codes (warnings can be allowed with [lints] in opl.toml):\n");
    for c in Code::ALL {
        let sev = match c.severity() {
            Severity::Error => "error  ",
            Severity::Warning => "warning",
        };
        s.push_str(&format!(
            "  {:<width$}  {sev}  {}\n",
            c.as_str(),
            c.description()
        ));
    }
    s
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
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
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Label on the primary span.
    pub label: Option<String>,
    pub related: Vec<Related>,
    pub help: Option<String>,
    /// The agents the finding is about, when it comes from checking agents (a finding in a
    /// shared layer can hold for several); empty for findings about files and layers.
    pub agents: Vec<String>,
}

/// The codes of `findings`, sorted, each once: how an invalid state names what keeps its
/// document from being built.
pub fn codes_of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<Code> {
    let mut c: Vec<Code> = findings.into_iter().map(|f| f.code).collect();
    c.sort();
    c.dedup();
    c
}

impl Finding {
    /// A finding with the code's severity.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
            agents: Vec::new(),
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
    /// True when the finding keeps an agent's document from being built (spec section 8).
    pub fn blocks_document(&self) -> bool {
        self.is_error() && self.code.unbuildable()
    }
    /// Ordering key: file path, position, code.
    pub fn sort_key(&self, sources: &Sources) -> (Location, Code, String) {
        (sources.locate(self.span), self.code, self.message.clone())
    }
}

/// Drops the warnings whose code `[lints]` allows. Errors are never dropped, so an option that
/// raises a warning to an error (`--deny-widening`) wins over `allow`.
pub fn apply_lints(findings: &mut Vec<Finding>, allowed: &[Code]) {
    findings.retain(|f| f.is_error() || !allowed.contains(&f.code));
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
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{name}"
            );
            assert_eq!(Code::parse(name), Some(*code));
            assert!(!code.description().is_empty());
            // Only errors keep a document from being built.
            assert!(!code.unbuildable() || code.severity() == Severity::Error);
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
