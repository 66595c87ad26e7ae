//! Writers for the formats CI systems read: GitHub workflow commands, SARIF 2.1.0 and JUnit XML.
//! Each takes findings in their located form ([`crate::output::located`]: paths relative to the
//! top of the git repository).

use serde_json::json;

use crate::diagnostic::Severity;
use crate::output::JsonFinding;

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_prop(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The finding's message, with the agents it holds for when it points into a shared layer.
fn message(f: &JsonFinding) -> String {
    match &f.about {
        Some(about) => format!("{} ({about})", f.message),
        None => f.message.clone(),
    }
}

/// One GitHub workflow command per finding: `::error file=..,line=..,col=..,title=CODE::message`.
pub fn github(findings: &[JsonFinding]) -> String {
    let mut out = String::new();
    for f in findings {
        let level = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        let mut msg = message(f);
        for r in &f.related {
            msg.push_str(&format!(
                "\n{}: {}:{}:{}",
                r.message, r.file, r.line, r.column
            ));
        }
        if let Some(h) = &f.help {
            msg.push_str(&format!("\nhelp: {h}"));
        }
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            gh_escape_prop(&f.file),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            gh_escape_prop(f.code.as_str()),
            gh_escape_data(&msg)
        ));
    }
    out
}

/// A repository-relative path as a relative URI reference (RFC 3986): every byte outside the
/// unreserved characters and `/` is percent-encoded, so spaces, `%`, `#`, `?`, `:` and non-ASCII
/// names round-trip, and no first segment can be read as a scheme.
pub fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SARIF 2.1.0 log: rule ids are finding codes; the second span is in `relatedLocations`.
pub fn sarif(findings: &[JsonFinding]) -> String {
    let mut rules: Vec<serde_json::Value> = Vec::new();
    let mut rule_index = std::collections::BTreeMap::new();
    for f in findings {
        if let std::collections::btree_map::Entry::Vacant(e) = rule_index.entry(f.code) {
            e.insert(rules.len());
            rules.push(json!({
                "id": f.code,
                "name": f.code,
                "shortDescription": {"text": f.code.description()},
                "defaultConfiguration": {"level": if f.code.severity() == Severity::Error { "error" } else { "warning" }},
            }));
        }
    }
    let location = |file: &str, line: u32, col: u32, end: Option<(u32, u32)>| {
        let mut region = json!({"startLine": line, "startColumn": col});
        if let Some((el, ec)) = end {
            region["endLine"] = json!(el);
            region["endColumn"] = json!(ec);
        }
        json!({"physicalLocation": {"artifactLocation": {"uri": uri_reference(file), "uriBaseId": "SRCROOT"}, "region": region}})
    };
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.code,
                "ruleIndex": rule_index[&f.code],
                "level": if f.severity == Severity::Error { "error" } else { "warning" },
                "message": {"text": match &f.help { Some(h) => format!("{} (help: {h})", message(f)), None => message(f) }},
                "locations": [location(&f.file, f.line, f.column, Some((f.end_line, f.end_column.max(f.column))))],
            });
            if !f.related.is_empty() {
                r["relatedLocations"] = f
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, rel)| {
                        let mut l = location(&rel.file, rel.line, rel.column, None);
                        l["id"] = json!(i + 1);
                        l["message"] = json!({"text": rel.message});
                        l
                    })
                    .collect();
            }
            r
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "opl", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            // Where the repository is checked out is the consumer's to know: the base has no
            // `uri` (SARIF 3.14.14), and every artifact `uri` is relative to it.
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "the top of the git repository"}}},
            // Columns count Unicode scalar values, as everywhere in opl.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    crate::output::json_text(&log)
}

/// Text for XML 1.0 content and attribute values: markup characters escaped, and every character
/// XML 1.0 cannot carry (C0 controls but tab and newline, U+FFFE, U+FFFF) written as `\u{..}`,
/// as opl writes control characters everywhere else. Newlines and tabs are character references,
/// so attribute values keep them.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report: one test case per finding (errors fail), or one passing case when clean.
pub fn junit(findings: &[JsonFinding]) -> String {
    let failures = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let cases = findings.len().max(1);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"opl\" tests=\"{cases}\" failures=\"{failures}\">\n  <testsuite name=\"opl check\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n"
    );
    if findings.is_empty() {
        out.push_str("    <testcase classname=\"opl\" name=\"config repository\"/>\n");
    }
    for f in findings {
        let name = format!("{} {}:{}:{}", f.code, f.file, f.line, f.column);
        out.push_str(&format!(
            "    <testcase classname=\"opl.{}\" name=\"{}\" file=\"{}\" line=\"{}\">\n",
            xml(f.code.as_str()),
            xml(&name),
            xml(&f.file),
            f.line
        ));
        let mut body = message(f);
        for r in &f.related {
            body.push_str(&format!(
                "\n{}: {}:{}:{}",
                r.message, r.file, r.line, r.column
            ));
        }
        if f.severity == Severity::Error {
            out.push_str(&format!(
                "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                xml(f.code.as_str()),
                xml(&message(f)),
                xml(&body)
            ));
        } else {
            out.push_str(&format!(
                "      <system-out>warning: {}</system-out>\n",
                xml(&body)
            ));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
