//! The README cannot drift: every `console` block in it runs, in order, in a scratch folder that
//! holds a copy of `fixtures/acme` (the blocks build its git history themselves), and prints what
//! the README shows. Commit ids are elided (`<commit>`); a line `...` stands for the rest of the
//! output.

mod common;

use std::path::Path;

/// One `$ command` of a block and the output shown under it.
struct Step {
    command: String,
    shown: Vec<String>,
}

/// The `console` blocks of a Markdown text, each as its steps.
fn console_blocks(markdown: &str) -> Vec<Vec<Step>> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let mut steps: Vec<Step> = Vec::new();
        while let Some(l) = lines.next() {
            if l.trim() == "```" {
                break;
            }
            if let Some(cmd) = l.strip_prefix("$ ") {
                let mut command = cmd.to_string();
                // A here-document runs to its closing EOF line.
                if cmd.contains("<<'EOF'") {
                    for h in lines.by_ref() {
                        command.push('\n');
                        command.push_str(h);
                        if h == "EOF" {
                            break;
                        }
                    }
                }
                steps.push(Step {
                    command,
                    shown: Vec::new(),
                });
            } else if let Some(s) = steps.last_mut() {
                s.shown.push(l.to_string());
            }
        }
        blocks.push(steps);
    }
    blocks
}

/// Commit ids (7 to 40 hex digits with at least one digit and one letter) become `<commit>`.
fn elide(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word.len() >= 7
            && word.len() <= 40
            && word
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_alphabetic());
        out.push_str(if hex { "<commit>" } else { word });
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.trim_end().to_string()
}

fn run(dir: &Path, command: &str) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_opl")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("CI")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Jane Doe")
        .env("GIT_AUTHOR_EMAIL", "jane.doe@acme.example")
        .env("GIT_COMMITTER_NAME", "Jane Doe")
        .env("GIT_COMMITTER_EMAIL", "jane.doe@acme.example")
        .env("GIT_AUTHOR_DATE", "2026-11-02T09:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-02T09:00:00Z")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_console_example_in_the_readme_prints_what_it_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = console_blocks(&readme);
    assert!(blocks.len() >= 3, "the README's tour has console blocks");
    let dir = tempfile::tempdir().unwrap();
    let acme = dir.path().join("fixtures/acme");
    std::fs::create_dir_all(&acme).unwrap();
    common::copy_tree(&root.join("fixtures/acme"), &acme);
    let mut failures = Vec::new();
    for step in blocks.iter().flatten() {
        let got: Vec<String> = run(dir.path(), &step.command).lines().map(elide).collect();
        let shown: Vec<String> = step.shown.iter().map(|l| elide(l)).collect();
        let upto = shown.iter().position(|l| l == "...");
        let (want, got_cmp) = match upto {
            Some(n) => (&shown[..n], got.iter().take(n).cloned().collect::<Vec<_>>()),
            None => (&shown[..], got.clone()),
        };
        // Blank lines at the end of a block are layout, not output.
        let trim = |v: &[String]| {
            let mut v = v.to_vec();
            while v.last().is_some_and(|l| l.is_empty()) {
                v.pop();
            }
            v
        };
        if trim(want) != trim(&got_cmp) {
            failures.push(format!(
                "$ {}\n--- README\n{}\n--- printed\n{}",
                step.command,
                want.join("\n"),
                got.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
