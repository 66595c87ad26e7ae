//! The adversarial corpus (fixtures/adversarial/) and inputs made here: each gets a clear
//! finding or the correct result, never a crash, a hang, or raw control characters on a terminal.

mod common;

use std::path::Path;

use common::{BASE, codes, fixtures, opl, validate_json, write_tree};
use serde_json::Value;

/// BASE with the overlay folder `fixtures/adversarial/<case>` copied over it.
fn case(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), BASE);
    let src = fixtures().join("adversarial").join(name);
    for e in walk(&src) {
        let rel = e.strip_prefix(&src).unwrap();
        let to = d.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, &to).unwrap();
    }
    d
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

/// Validates in human and JSON form; checks that no raw control character reaches stdout.
fn run(dir: &Path) -> (i32, Value) {
    let human = opl().arg("-C").arg(dir).arg("validate").output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "raw control character in human output: {text:?}"
    );
    assert!(
        human.stderr.is_empty() || !String::from_utf8_lossy(&human.stderr).contains("panicked")
    );
    let (code, v) = validate_json(dir);
    assert_eq!(Some(code), human.status.code());
    (code, v)
}

/// The rendered document of agent `bot`, as JSON.
fn render_json(dir: &Path) -> Value {
    let out = opl()
        .arg("-C")
        .arg(dir)
        .args(["render", "bot", "--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {v}"))
}

#[test]
fn invalid_utf8_is_a_parse_finding() {
    let d = case("invalid-utf8");
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    let f = finding(&v, "parse");
    assert_eq!(f["file"], "global/latin1.toml");
    assert!(f["message"].as_str().unwrap().contains("not valid UTF-8"));
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let d = case("bom");
    let (code, v) = run(d.path());
    assert_eq!(code, 0, "{v}");
    let doc = render_json(d.path());
    assert_eq!(doc["metadata"]["bom"], true);
}

#[test]
fn crlf_line_ends_keep_positions() {
    let d = case("crlf");
    let (_, v) = run(d.path());
    let f = finding(&v, "type");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(7), Some(8))
    );
}

#[test]
fn nul_bytes_raw_and_escaped() {
    let d = case("nul-bytes");
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert_eq!(finding(&v, "parse")["file"], "global/nul.toml");
    // an escaped NUL is a valid string: without the raw one, it renders, escaped in JSON
    std::fs::write(
        d.path().join("global/nul.toml"),
        "[metadata]\nescaped = \"a\\u0000b\"\n",
    )
    .unwrap();
    let (code, _) = run(d.path());
    assert_eq!(code, 0);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["render", "bot", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\"a\\u0000b\"")
    );
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["explain", "bot", "metadata"])
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0u8));
}

#[test]
fn a_ten_megabyte_file_is_not_read() {
    let d = case("bom");
    std::fs::write(d.path().join("global/huge.toml"), "# x\n".repeat(2_600_000)).unwrap();
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert!(
        finding(&v, "file-too-large")["message"]
            .as_str()
            .unwrap()
            .contains("more than the limit")
    );
}

#[test]
fn nesting_ten_thousand_deep() {
    let d = case("bom");
    let arrays = format!(
        "[metadata]\nx = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let tables = format!(
        "[metadata]\nx = {}1{}\n",
        "{a = ".repeat(10_000),
        "}".repeat(10_000)
    );
    let dotted = format!("[metadata.{}]\n", vec!["k"; 10_000].join("."));
    std::fs::write(d.path().join("global/arrays.toml"), arrays).unwrap();
    std::fs::write(d.path().join("global/tables.toml"), tables).unwrap();
    std::fs::write(d.path().join("global/dotted.toml"), dotted).unwrap();
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    let parse: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "parse")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        parse,
        [
            "global/arrays.toml",
            "global/dotted.toml",
            "global/tables.toml"
        ]
    );
}

#[test]
fn a_hundred_thousand_keys_hit_the_value_limit() {
    let d = case("bom");
    let mut t = String::from("[metadata]\n");
    for i in 0..100_000 {
        t.push_str(&format!("k{i} = {i}\n"));
    }
    std::fs::write(d.path().join("global/keys.toml"), t).unwrap();
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert!(
        finding(&v, "file-too-large")["message"]
            .as_str()
            .unwrap()
            .contains("100001 values, more than the limit of 50000")
    );
}

#[test]
fn very_long_strings_are_shortened_in_output() {
    let d = case("bom");
    std::fs::write(d.path().join("agents/bot.toml"), format!("[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[model]\nname = {}\n", "1".repeat(10))).unwrap();
    std::fs::write(
        d.path().join("global/long.toml"),
        format!("[metadata]\nlong = \"{}\"\n", "x".repeat(2_000_000)),
    )
    .unwrap();
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert_eq!(finding(&v, "type")["file"], "agents/bot.toml");
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["explain", "bot", "metadata.long"])
        .output()
        .unwrap();
    assert!(
        out.stdout.len() < 2_000,
        "explain printed {} bytes",
        out.stdout.len()
    );
}

#[test]
fn keys_that_differ_only_by_normalisation_stay_distinct() {
    let d = case("unicode-keys");
    let (code, _) = run(d.path());
    assert_eq!(code, 0);
    let doc = render_json(d.path());
    assert_eq!(doc["metadata"].as_object().unwrap().len(), 2);
    // an id spelled with a combining accent breaks the id pattern
    write_tree(
        d.path(),
        &[(
            "agents/cafe\u{301}.toml",
            "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n",
        )],
    );
    let (_, v) = run(d.path());
    assert!(
        finding(&v, "invalid-id")["message"]
            .as_str()
            .unwrap()
            .contains("cafe\u{301}")
    );
}

#[test]
fn escapes_and_newlines_never_reach_the_terminal_raw() {
    let d = case("ansi-escapes");
    write_tree(
        d.path(),
        &[
            (
                "agents/x\u{1b}[31m.toml",
                "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n",
            ),
            ("agents/line\nbreak.toml", "[agent]\n"),
        ],
    );
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    let c = codes(&v);
    assert!(
        c.contains(&"unknown-key".to_string()) && c.contains(&"invalid-id".to_string()),
        "{c:?}"
    );
    // Every format of each command: the human one and the machine one.
    for (cmd, formats) in [
        (vec!["validate"], ["human", "json"]),
        (vec!["render", "bot"], ["toml", "json"]),
        (vec!["explain", "bot", "metadata"], ["human", "json"]),
        (vec!["inventory"], ["table", "json"]),
    ] {
        for format in formats {
            let out = opl()
                .arg("-C")
                .arg(d.path())
                .args(&cmd)
                .args(["--format", format])
                .output()
                .unwrap();
            for stream in [&out.stdout, &out.stderr] {
                let s = String::from_utf8_lossy(stream);
                assert!(
                    !s.contains('\u{1b}') && !s.contains('\u{7}'),
                    "{cmd:?} {format}: {s:?}"
                );
            }
        }
    }
}

/// A valid agent whose purpose, metadata keys and values carry escape sequences and newlines,
/// changed in a second commit: no command in any output format prints them raw.
#[test]
fn escapes_in_values_never_reach_the_terminal_raw_in_any_format() {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), BASE);
    let agent = |v: &str| {
        format!(
            "[agent]\nclient = \"acme\"\npurpose = \"Help \\u001b[31m Acme\\ncustomers\"\nowner = \"user:ann\"\n\n[metadata]\n\"evil\\u001b[31m\" = \"red\\u001b[0m\\n{v}\\u0007\"\n"
        )
    };
    write_tree(d.path(), &[("agents/bot.toml", &agent("one"))]);
    common::git(d.path(), &["init", "-q"]);
    common::git(d.path(), &["add", "-A"]);
    common::git(d.path(), &["commit", "-qm", "one"]);
    write_tree(d.path(), &[("agents/bot.toml", &agent("two\\u001b[2J"))]);
    common::git(d.path(), &["commit", "-qam", "two"]);
    let (code, v) = run(d.path());
    assert_eq!(code, 0, "{v}");
    let runs: &[&[&str]] = &[
        &["validate"],
        &["validate", "--format", "json"],
        &["render", "bot"],
        &["render", "bot", "--format", "json"],
        &["render", "bot", "--format", "toml"],
        &["render", "bot", "--explain"],
        &["explain", "bot", "agent.purpose"],
        &["inventory"],
        &["inventory", "--format", "csv"],
        &["inventory", "--format", "markdown"],
        &["diff", "HEAD~1", "HEAD"],
        &["diff", "HEAD~1", "HEAD", "--format", "markdown"],
        &["diff", "HEAD~1", "HEAD", "--format", "patch"],
        &["check", "--format", "github"],
        &["check", "--format", "junit"],
        &["check", "--format", "sarif"],
        &["log", "bot"],
        &["blame", "bot"],
        &[
            "whence",
            "bot",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
        &["audit", "HEAD~1..HEAD"],
        &["audit", "HEAD~1..HEAD", "--format", "csv"],
        &["audit", "HEAD~1..HEAD", "--format", "markdown"],
        &["graph"],
        &["graph", "--format", "mermaid"],
        &["codeowners"],
    ];
    for args in runs {
        let out = opl().arg("-C").arg(d.path()).args(*args).output().unwrap();
        assert!(
            out.status.code().unwrap() < 2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for stream in [&out.stdout, &out.stderr] {
            let s = String::from_utf8_lossy(stream);
            assert!(
                !s.contains('\u{1b}') && !s.contains('\u{7}'),
                "{args:?}: {s:?}"
            );
        }
    }
    // The machine formats keep the exact value, escaped by JSON.
    let doc = render_json(d.path());
    assert_eq!(
        doc["metadata"]["evil\u{1b}[31m"], "red\u{1b}[0m\ntwo\u{1b}[2J\u{7}",
        "{doc}"
    );
}

#[cfg(unix)]
#[test]
fn fragment_paths_that_escape_or_are_not_files() {
    let d = case("fragment-paths");
    std::fs::create_dir_all(d.path().join("agents/frag-dir")).unwrap();
    std::fs::write(d.path().join("agents/real.md"), "real\n").unwrap();
    std::os::unix::fs::symlink("real.md", d.path().join("agents/frag-link.md")).unwrap();
    let fifo = d.path().join("agents/frag-fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    let msgs: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "file-ref")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("leaves the config root")));
    assert!(msgs.iter().any(|m| m.contains("absolute path")));
    assert!(msgs.iter().any(|m| m.contains("is a directory")));
    assert!(msgs.iter().any(|m| m.contains("is not a regular file")));
    assert!(msgs.iter().any(|m| m.contains("symbolic link")));
}

#[cfg(unix)]
#[test]
fn a_fragment_symlink_in_a_git_tree() {
    let mut t = common::TestRepo::new();
    t.write(
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[instructions]\nfragments = [{ id = \"l\", file = \"link.md\" }]\n",
    );
    std::os::unix::fs::symlink("/etc/passwd", t.root().join("agents/link.md")).unwrap();
    t.commit("link");
    let (_, v) = t.json(&["validate", "--rev", "HEAD", "--format", "json"]);
    assert!(
        finding(&v, "file-ref")["message"]
            .as_str()
            .unwrap()
            .contains("symbolic link")
    );
}

#[test]
fn ids_that_differ_only_in_case() {
    let d = case("bom");
    write_tree(
        d.path(),
        &[(
            "agents/Bot.toml",
            "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n",
        )],
    );
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert!(
        finding(&v, "case-collision")["message"]
            .as_str()
            .unwrap()
            .contains("differ only in case")
    );
}

#[test]
fn an_agent_client_that_is_not_an_id_reads_nothing() {
    let d = case("agent-client-id");
    let (code, v) = run(d.path());
    assert_eq!(code, 1);
    assert_eq!(finding(&v, "unknown-client")["file"], "agents/bot.toml");
}

#[test]
fn opl_runs_within_a_memory_limit_on_the_largest_inputs() {
    // A 4 MiB file (the size limit) of 50,000 values (the value limit), and 2,000 agents, under
    // a 1 GiB address-space limit.
    let d = case("bom");
    let mut t = String::from("[metadata]\n");
    for i in 0..49_000 {
        t.push_str(&format!("k{i} = \"{}\"\n", "v".repeat(60)));
    }
    assert!(t.len() < 4 * 1024 * 1024);
    std::fs::write(d.path().join("global/big.toml"), t).unwrap();
    for i in 0..2_000 {
        std::fs::write(
            d.path().join(format!("agents/a{i}.toml")),
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n",
        )
        .unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("opl");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576 && exec '{}' -C '{}' validate --format json",
            bin.display(),
            d.path().display()
        ))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["agents"], 2001);
}
