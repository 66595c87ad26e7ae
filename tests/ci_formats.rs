//! The CI formats meet their specifications, not only their shapes: SARIF 2.1.0's rules on
//! column kinds, URI bases and relative references, and JUnit as well-formed XML 1.0, on file
//! names and config text with hostile characters, each parsed back with a real parser.

mod common;

use common::{base_repo, opl};
use serde_json::Value;

/// A global file whose name needs percent-encoding, holding keys with characters XML 1.0 cannot
/// carry, and a stray file with a space and `#` in its name.
fn hostile() -> tempfile::TempDir {
    base_repo(&[
        (
            "global/ünï cødé #1 100%?.toml",
            "[model]\n\"bad\\u0001key\" = 1\n\"non\u{fffe}char\" = 2\n\"amp&<lt>\\\"q\\\"\" = 3\n",
        ),
        ("misc/a b#c.toml", "x = 1\n"),
    ])
}

fn run(dir: &std::path::Path, format: &str) -> (i32, String) {
    let out = opl()
        .arg("-C")
        .arg(dir)
        .args(["check", "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Decodes `%XX` escapes, failing on anything that is not a valid escape.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn sarif_follows_the_specifications_rules() {
    let d = hostile();
    let (code, json) = run(d.path(), "json");
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&json).unwrap();
    let files: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"global/ünï cødé #1 100%?.toml"),
        "{files:?}"
    );
    assert!(files.contains(&"misc/a b#c.toml"), "{files:?}");

    let (code, text) = run(d.path(), "sarif");
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    // Columns count code points, and say so.
    assert_eq!(run0["columnKind"], "unicodeCodePoints");
    // The base is named, and left to the consumer: no absolute `uri` that would be wrong.
    let base = &run0["originalUriBaseIds"]["SRCROOT"];
    assert!(base.is_object());
    assert!(base.get("uri").is_none(), "{base}");
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), files.len());
    let mut uris = Vec::new();
    for r in results {
        let locations = r["locations"]
            .as_array()
            .unwrap()
            .iter()
            .chain(r["relatedLocations"].as_array().into_iter().flatten());
        for l in locations {
            let a = &l["physicalLocation"]["artifactLocation"];
            assert_eq!(a["uriBaseId"], "SRCROOT");
            let uri = a["uri"].as_str().unwrap();
            // A relative reference: only unreserved characters, `/` and percent escapes.
            assert!(
                uri.bytes().all(|b| b.is_ascii_alphanumeric()
                    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b'%')),
                "{uri}"
            );
            assert!(!uri.starts_with('/'), "{uri}");
            uris.push(percent_decode(uri));
        }
        // The rule it names exists, with the code's description.
        let rule = &run0["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        let code = opl::diagnostic::Code::parse(r["ruleId"].as_str().unwrap()).unwrap();
        assert_eq!(rule["shortDescription"]["text"], code.description());
    }
    // Every URI decodes back to the finding's file.
    for f in &files {
        assert!(uris.iter().any(|u| u == f), "{f} not among {uris:?}");
    }
    assert_eq!(
        opl::output::ci::uri_reference("a b/ü#%?:x.toml"),
        "a%20b/%C3%BC%23%25%3F%3Ax.toml"
    );
}

#[test]
fn junit_is_well_formed_xml_whatever_the_config_holds() {
    let d = hostile();
    let (code, json) = run(d.path(), "json");
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&json).unwrap();
    let (code, xml) = run(d.path(), "junit");
    assert_eq!(code, 1);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(cases.len(), findings.len());
    let errors = findings.iter().filter(|f| f["severity"] == "error").count();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("failures"),
        Some(errors.to_string().as_str())
    );
    for (case, f) in cases.iter().zip(findings) {
        // The file name comes back exactly.
        assert_eq!(case.attribute("file"), f["file"].as_str());
        assert_eq!(case.attribute("line"), Some(f["line"].to_string().as_str()));
        if f["severity"] == "error" {
            let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
            assert_eq!(failure.attribute("type"), f["code"].as_str());
            let message = failure.attribute("message").unwrap();
            // What XML cannot carry is escaped; everything else comes back as it was.
            let want = f["message"]
                .as_str()
                .unwrap()
                .replace('\u{fffe}', "\\u{fffe}");
            assert_eq!(message, want);
        }
    }
    let texts: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert!(
        texts.iter().any(|t| t.contains("ünï cødé #1 100%?.toml")),
        "{texts:?}"
    );
}
