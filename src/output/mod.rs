//! Writers for findings: human (miette, with source excerpts and both spans) and JSON.
//!
//! Human output never shows text from the config raw: control characters in excerpts become
//! `?` and plaintext secrets are masked in the excerpt as in the message.

pub mod ci;

use std::collections::HashMap;
use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};
use serde::Serialize;

use crate::diagnostic::{Code, Finding, Severity};
use crate::model::source::{FileId, Sources, safe};

/// Output options shared by every writer.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

/// A finding as JSON.
#[derive(Serialize)]
pub struct JsonFinding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub related: Vec<JsonRelated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The agents the finding holds for (findings from checking agents).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// `for 2 agents: a, b` for a finding in a shared layer, which CI formats add to the message.
    #[serde(skip)]
    pub about: Option<String>,
}

/// A related place as JSON.
#[derive(Serialize)]
pub struct JsonRelated {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Converts a finding to its JSON form, with paths relative to the config root.
pub fn json_finding(f: &Finding, sources: &Sources) -> JsonFinding {
    located(f, sources, "")
}

/// Converts a finding to its JSON form, with paths relative to the top of the git repository
/// whose config root is at `prefix` (`""`, or `config/` in a monorepo).
pub fn located(f: &Finding, sources: &Sources, prefix: &str) -> JsonFinding {
    let path = |file: FileId| {
        let s = sources.get(file);
        if s.layer == crate::model::source::LayerKind::External {
            s.path.clone()
        } else {
            format!("{prefix}{}", s.path)
        }
    };
    let start = sources.locate(f.span);
    let file = sources.get(f.span.file);
    let (end_line, end_column) = file.line_col(f.span.end);
    JsonFinding {
        code: f.code,
        severity: f.severity,
        message: f.message.clone(),
        file: path(f.span.file),
        line: start.line,
        column: start.column,
        end_line,
        end_column,
        label: f.label.clone(),
        related: f
            .related
            .iter()
            .map(|r| {
                let l = sources.locate(r.span);
                JsonRelated {
                    file: path(r.span.file),
                    line: l.line,
                    column: l.column,
                    message: r.message.clone(),
                }
            })
            .collect(),
        help: f.help.clone(),
        agents: f.agents.clone(),
        about: shared_agents(f, sources),
    }
}

/// `for 2 agents: a, b` when a finding from checking agents points into a shared layer.
fn shared_agents(f: &Finding, sources: &Sources) -> Option<String> {
    let in_agent = matches!(
        sources.get(f.span.file).layer,
        crate::model::source::LayerKind::Agent(_)
    );
    (!f.agents.is_empty() && !in_agent).then(|| agents_text(&f.agents))
}

/// `for agent bot`, `for 3 agents: a, b, c`, `for 12 agents: a, b, c, d, e, …`.
pub fn agents_text(agents: &[String]) -> String {
    const SHOWN: usize = 5;
    let ids: Vec<String> = agents.iter().take(SHOWN).map(|a| safe(a)).collect();
    let more = if agents.len() > SHOWN { ", …" } else { "" };
    match agents.len() {
        1 => format!("for agent {}", ids[0]),
        n => format!("for {n} agents: {}{more}", ids.join(", ")),
    }
}

/// Counts of errors and warnings.
pub fn counts(findings: &[Finding]) -> (usize, usize) {
    let e = findings.iter().filter(|f| f.is_error()).count();
    (e, findings.len() - e)
}

/// `text` in the ANSI style `code` (`1` bold, `33` yellow, `31;1` bold red) when `color`.
pub fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\u{1b}[{code}m{text}\u{1b}[0m")
    } else {
        text.to_string()
    }
}

/// `1 agent`, `2 agents`.
pub fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (1, _) => format!("{n} {word}"),
        (_, "leaf") => format!("{n} leaves"),
        _ => format!("{n} {word}s"),
    }
}

/// `2 errors, 1 warning`.
pub fn summary_line(findings: &[Finding]) -> String {
    let (e, w) = counts(findings);
    format!("{}, {}", plural(e, "error"), plural(w, "warning"))
}

/// The one-paragraph summary: blast radius, widening, no-op files, root config and locks.
pub fn diff_summary(r: &crate::diff::Report) -> Vec<String> {
    let mut lines = Vec::new();
    let by: Vec<String> = r
        .by_client()
        .iter()
        .map(|(c, n)| format!("{} {n}", safe(c)))
        .collect();
    lines.push(format!(
        "{} changed{}; {} with changes that widen what it may do",
        plural(r.agents.len(), "agent"),
        if by.is_empty() {
            String::new()
        } else {
            format!(" (by client: {})", by.join(", "))
        },
        r.widened()
    ));
    lines.push(format!("{} changed", plural(r.files_changed.len(), "file")));
    if !r.noop_files.is_empty() {
        lines.push(format!(
            "changing no agent: {}",
            r.noop_files
                .iter()
                .map(|f| safe(f))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if r.root_config_changed {
        lines.push("opl.toml changed".into());
    }
    for l in &r.locks_added {
        lines.push(format!(
            "lock added: {} ({}:{})",
            l.lock,
            safe(&l.file),
            l.line
        ));
    }
    for l in &r.locks_removed {
        lines.push(format!(
            "lock removed: {} ({}:{})",
            l.lock,
            safe(&l.file),
            l.line
        ));
    }
    lines
}

/// One CSV field: control characters escaped, a leading `=`, `+`, `-` or `@` quoted so that a
/// spreadsheet never reads it as a formula, quotes doubled where needed.
pub fn csv_field(s: &str) -> String {
    let s = safe(s);
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Excerpt texts with control characters replaced and secrets masked, per file.
pub struct Excerpts {
    texts: HashMap<FileId, String>,
}

impl Excerpts {
    /// Prepares the excerpts of every file the findings point at.
    pub fn new(findings: &[Finding], sources: &Sources) -> Self {
        let mut secrets: HashMap<FileId, Vec<(usize, usize)>> = HashMap::new();
        for f in findings.iter().filter(|f| f.code == Code::PlaintextSecret) {
            secrets
                .entry(f.span.file)
                .or_default()
                .push((f.span.start as usize, f.span.end as usize));
        }
        let mut texts = HashMap::new();
        for f in findings {
            for id in std::iter::once(f.span.file).chain(f.related.iter().map(|r| r.span.file)) {
                texts.entry(id).or_insert_with(|| {
                    let mut t = crate::model::source::display_text(&sources.get(id).text);
                    for (s, e) in secrets.get(&id).into_iter().flatten() {
                        t = mask(&t, *s, *e);
                    }
                    t
                });
            }
        }
        Excerpts { texts }
    }
}

/// Replaces the characters of `text[start..end]` after the first five by `*`, byte for byte.
fn mask(text: &str, start: usize, end: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for (i, c) in text.char_indices() {
        if i >= start && i < end && i + c.len_utf8() < end {
            if kept < 5 {
                kept += 1;
                out.push(c);
            } else {
                out.push_str(&"*".repeat(c.len_utf8()));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Report {
    code: Option<Code>,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Report {}
impl Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(self.related.iter().map(|r| r as &dyn Diagnostic))
                as Box<dyn Iterator<Item = &dyn Diagnostic>>
        })
    }
}

fn source_span(start: u32, end: u32) -> SourceSpan {
    SourceSpan::new((start as usize).into(), end.saturating_sub(start) as usize)
}

fn report(f: &Finding, sources: &Sources, ex: &Excerpts) -> Report {
    let file = sources.get(f.span.file);
    let has_text = !file.text.is_empty();
    let src = |id: FileId| {
        NamedSource::new(
            sources.get(id).path.clone(),
            ex.texts.get(&id).cloned().unwrap_or_default(),
        )
    };
    let mut message = f.message.clone();
    if !has_text {
        message = format!("{}: {message}", crate::model::source::safe(&file.path));
    }
    // A finding in a shared layer says which agents it holds for.
    if let Some(about) = shared_agents(f, sources) {
        message = format!("{message} ({about})");
    }
    let mut labels = Vec::new();
    if has_text {
        labels.push(LabeledSpan::new_primary_with_span(
            f.label.clone(),
            source_span(f.span.start, f.span.end),
        ));
    }
    let mut related = Vec::new();
    for r in &f.related {
        let rf = sources.get(r.span.file);
        if r.span.file == f.span.file && has_text {
            labels.push(LabeledSpan::new_with_span(
                Some(r.message.clone()),
                source_span(r.span.start, r.span.end),
            ));
        } else if !rf.text.is_empty() {
            related.push(Report {
                code: None,
                severity: miette::Severity::Advice,
                message: format!("{} ({})", r.message, sources.locate(r.span)),
                help: None,
                source: Some(src(r.span.file)),
                labels: vec![LabeledSpan::new_with_span(
                    Some(r.message.clone()),
                    source_span(r.span.start, r.span.end),
                )],
                related: Vec::new(),
            });
        } else {
            related.push(Report {
                code: None,
                severity: miette::Severity::Advice,
                message: format!("{}: {}", r.message, crate::model::source::safe(&rf.path)),
                help: None,
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
            });
        }
    }
    Report {
        code: Some(f.code),
        severity: if f.is_error() {
            miette::Severity::Error
        } else {
            miette::Severity::Warning
        },
        message,
        help: f.help.clone(),
        source: has_text.then(|| src(f.span.file)),
        labels,
        related,
    }
}

/// Renders findings for a person: one excerpt per finding, labels on both places.
pub fn human(findings: &[Finding], sources: &Sources, style: Style) -> String {
    use rayon::prelude::*;
    let handler = || {
        let theme = if style.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        GraphicalReportHandler::new_themed(theme)
            .with_width(style.width)
            .with_context_lines(1)
    };
    let ex = Excerpts::new(findings, sources);
    // Each finding is drawn on its own (a run may report thousands), then written in order.
    let drawn: Vec<String> = findings
        .par_iter()
        .map_init(handler, |handler, f| {
            let mut out = String::new();
            let r = report(f, sources, &ex);
            if handler.render_report(&mut out, &r).is_err() {
                out = format!("{}: {} ({})\n", f.code, f.message, sources.locate(f.span));
            }
            out.push('\n');
            out
        })
        .collect();
    drawn.concat()
}

/// The formats a findings report is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Human,
    Json,
    Github,
    Sarif,
    Junit,
}

/// A set of findings and what was examined to find them: what `opl validate` and `opl check`
/// write, in any [`ReportFormat`].
pub struct FindingsReport<'a> {
    pub findings: &'a [Finding],
    pub sources: &'a Sources,
    /// The config root's path inside the git repository (`""`, or `config/` in a monorepo);
    /// CI formats name files from the top of the repository.
    pub prefix: &'a str,
    pub agents: usize,
    pub files: usize,
    /// Said after the agent count in the human summary (` affected by the staged changes`).
    pub scope: String,
    /// Said after the summary (human) or listed under `summary.notes` (JSON): what the run did
    /// not judge.
    pub notes: Vec<String>,
}

impl FindingsReport<'_> {
    /// The report as text. `extra` adds members to the JSON document (`diff` for `opl check`).
    /// Human and JSON name files from the config root (as `opl diff` and `opl render` do); the
    /// CI formats from the top of the git repository, where CI systems look for them.
    pub fn text(
        &self,
        format: ReportFormat,
        style: Style,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> String {
        let located = |prefix: &str| -> Vec<JsonFinding> {
            self.findings
                .iter()
                .map(|f| located(f, self.sources, prefix))
                .collect()
        };
        match format {
            ReportFormat::Github => crate::output::ci::github(&located(self.prefix)),
            ReportFormat::Sarif => crate::output::ci::sarif(&located(self.prefix)),
            ReportFormat::Junit => crate::output::ci::junit(&located(self.prefix)),
            ReportFormat::Json => {
                let (errors, warnings) = counts(self.findings);
                let mut v = serde_json::json!({
                    "findings": located(""),
                    "summary": {"errors": errors, "warnings": warnings, "agents": self.agents, "files": self.files},
                });
                if !self.notes.is_empty() {
                    v["summary"]["notes"] = serde_json::json!(self.notes);
                }
                for (k, x) in extra {
                    v[k] = x;
                }
                json_text(&v)
            }
            ReportFormat::Human => {
                let mut text = human(self.findings, self.sources, style);
                let (agents, files) = (plural(self.agents, "agent"), plural(self.files, "file"));
                if self.findings.is_empty() {
                    text.push_str(&format!(
                        "ok: {agents}{}, {files}, no findings\n",
                        self.scope
                    ));
                } else {
                    text.push_str(&format!(
                        "{} in {agents}{}, {files}\n",
                        summary_line(self.findings),
                        self.scope
                    ));
                }
                for n in &self.notes {
                    text.push_str(&format!("note: {n}\n"));
                }
                text
            }
        }
    }
    /// The exit status: findings when any error, or any warning with `deny_warnings`.
    pub fn status(&self, deny_warnings: bool) -> u8 {
        let (errors, warnings) = counts(self.findings);
        if errors > 0 || (deny_warnings && warnings > 0) {
            crate::EXIT_FINDINGS
        } else {
            crate::EXIT_CLEAN
        }
    }
}

/// Pretty JSON with a final newline: every `--format json` output.
pub fn json_text(v: &impl Serialize) -> String {
    serde_json::to_string_pretty(v).expect("opl's output types serialize to JSON") + "\n"
}

/// [`json_text`] written to `w` as it is made, for outputs too large to hold twice (an audit of
/// a thousand commits over thousands of agents is hundreds of megabytes).
pub fn write_json(w: &mut dyn std::io::Write, v: &impl Serialize) -> std::io::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
    serde_json::to_writer_pretty(&mut w, v).map_err(std::io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_a_prefix_and_byte_offsets() {
        let t = "k = \"sk-abcdefgh\"\nx = 1";
        let m = mask(t, 4, 17);
        assert_eq!(m, "k = \"sk-a*******\"\nx = 1");
        assert_eq!(m.len(), t.len());
    }
}
