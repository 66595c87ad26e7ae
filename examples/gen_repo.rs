//! Generates a large, valid opl config repository for benchmarks.
//!
//! cargo run --release --example gen_repo -- --agents 10000 --clients 200 OUT
//!
//! With `--commits N`, OUT becomes a git repository: the tree above as the first commit, then N
//! commits (through `git fast-import`): mostly one agent's temperature; one in ten edits a shared
//! layer (every 20th the global output-token ceiling, every other 10th a client's retention
//! ceiling, every 500th the global model); every 50th merges a side branch that changed an agent;
//! authors take turns.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn main() {
    let mut agents = 10_000usize;
    let mut clients = 200usize;
    let mut commits = 0usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--commits" => {
                commits = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--commits N")
            }
            "--agents" => {
                agents = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--agents N")
            }
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--clients N")
            }
            _ => out = Some(PathBuf::from(a)),
        }
    }
    let Some(root) = out else {
        eprintln!("usage: gen_repo [--agents N] [--clients N] OUT");
        std::process::exit(2);
    };
    if root.join("opl.toml").exists() {
        eprintln!(
            "{} already holds a config repository; remove it first",
            root.display()
        );
        std::process::exit(2);
    }
    write(&root, "opl.toml", "version = 1\nname = \"generated\"\n");
    write(&root, "global/policy.toml", &global_policy(8192));
    write(
        &root,
        "global/models.toml",
        "[model]\nprovider = \"openai\"\nname = \"gpt-4.1-mini\"\nparameters = { temperature = 0.2, max_output_tokens = 2048 }\n",
    );
    write(
        &root,
        "global/instructions.toml",
        "[instructions]\nfragments = [{ id = \"org.safety\", file = \"safety.md\", required = true }]\n\n[escalation]\ndefault_target = \"oncall\"\ncontacts.oncall = { who = \"group:oncall\" }\n",
    );
    write(
        &root,
        "global/safety.md",
        "Never share one customer's data with another.\n",
    );
    for c in 0..clients {
        let mut t = String::new();
        writeln!(t, "[meta]\nowner = \"user:owner{c}\"\n").unwrap();
        writeln!(t, "[connections.desk]\nkind = \"mcp\"\nsystem = \"Helpdesk of client {c}\"\nurl = \"https://mcp.example/c{c}/desk\"\nauth = {{ mode = \"agent_identity\", secret_ref = \"vault://c{c}/desk\" }}\ndata_classification = \"confidential\"\n").unwrap();
        writeln!(t, "[policy.tools]\nallow = [\"desk.*\"]\n").unwrap();
        writeln!(
            t,
            "[policy.memory]\nmax_retention_days = {{ user = {} }}\n",
            30 + c % 300
        )
        .unwrap();
        writeln!(t, "[escalation]\ndefault_target = \"tier2\"\ncontacts.tier2 = {{ who = \"group:c{c}-tier2\" }}").unwrap();
        write(&root, &format!("clients/c{c:04}/client.toml"), &t);
        write(
            &root,
            &format!("clients/c{c:04}/tone.md"),
            &format!("Client {c} prefers short answers.\n"),
        );
        write(
            &root,
            &format!("clients/c{c:04}/instructions.toml"),
            &format!(
                "[instructions]\nfragments = [{{ id = \"c{c}.tone\", file = \"tone.md\" }}]\n"
            ),
        );
    }
    for a in 0..agents {
        write(
            &root,
            &format!("agents/a{a:05}.toml"),
            &agent_text(a, clients, 3 + a % 6),
        );
    }
    println!(
        "wrote {agents} agents and {clients} clients to {}",
        root.display()
    );
    if commits > 0 {
        history(&root, agents, clients, commits);
    }
}

/// The global policy, with its output-token ceiling.
fn global_policy(max_output_tokens: usize) -> String {
    format!(
        r#"[meta]
owner = "group:ai-governance"
lock = ["policy.approvals"]

[policy.model]
allow_providers = ["openai", "azure-openai", "anthropic"]
deny_models = ["*-preview"]
max_temperature = 0.9
max_output_tokens = {max_output_tokens}

[policy.tools]
allow = ["*"]
deny = ["*.delete_*"]
require_approval = ["*.send_bulk_*"]

[policy.approvals]
rules = [
  {{ id = "org.refund", action = "*.create_refund", when = {{ arg = "amount", gt = 500 }}, require = "approval", approvers = ["role:finance"] }},
]

[policy.memory]
allow_scopes = ["session", "user"]
max_retention_days = {{ session = 30, user = 365 }}
redact_pii = true
"#
    )
}

fn client_text(c: usize, user_days: usize) -> String {
    let mut t = String::new();
    writeln!(t, "[meta]\nowner = \"user:owner{c}\"\n").unwrap();
    writeln!(t, "[connections.desk]\nkind = \"mcp\"\nsystem = \"Helpdesk of client {c}\"\nurl = \"https://mcp.example/c{c}/desk\"\nauth = {{ mode = \"agent_identity\", secret_ref = \"vault://c{c}/desk\" }}\ndata_classification = \"confidential\"\n").unwrap();
    writeln!(t, "[policy.tools]\nallow = [\"desk.*\"]\n").unwrap();
    writeln!(
        t,
        "[policy.memory]\nmax_retention_days = {{ user = {user_days} }}\n"
    )
    .unwrap();
    writeln!(t, "[escalation]\ndefault_target = \"tier2\"\ncontacts.tier2 = {{ who = \"group:c{c}-tier2\" }}").unwrap();
    t
}

fn agent_text(a: usize, clients: usize, temp_tenths: usize) -> String {
    {
        let c = a % clients.max(1);
        let mut t = String::new();
        writeln!(
            t,
            "[agent]\nclient = \"c{c:04}\"\npurpose = \"Answer tickets for client {c} (agent {a})\"\nowner = \"user:owner{c}\"\nrisk_tier = \"medium\"\nlifecycle = \"production\"\n"
        )
        .unwrap();
        writeln!(t, "[model.parameters]\ntemperature = 0.{temp_tenths}\n").unwrap();
        let bulk = if a % 10 == 0 {
            ", \"send_bulk_reply\""
        } else {
            ""
        };
        writeln!(t, "[tools.desk]\nuse = [\"get_ticket\", \"add_comment\", \"create_refund\"{bulk}]\nlimits = {{ max_calls_per_run = {} }}\n", 10 + a % 50).unwrap();
        writeln!(t, "[memory]\nscopes = [\"session\", \"user\"]\nretention_days = {{ session = 7, user = {} }}\n", 1 + (a % 30)).unwrap();
        writeln!(
            t,
            "[metadata]\ncost_center = \"CC-{}\"\ntags = [\"generated\", \"batch-{}\"]",
            a % 97,
            a % 13
        )
        .unwrap();
        t
    }
}

fn git(root: &Path, args: &[&str]) {
    let st = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .status()
        .expect("git runs");
    assert!(st.success(), "git {args:?} failed");
}

/// Commits the tree, then `n` more commits through `git fast-import`.
fn history(root: &Path, agents: usize, clients: usize, n: usize) {
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(
        root,
        &[
            "-c",
            "user.name=Gen",
            "-c",
            "user.email=gen@example.com",
            "commit",
            "-qm",
            "base",
            "--date",
            "1600000000 +0000",
        ],
    );
    let mut stream = String::new();
    let authors = [
        "Ann <ann@example.com>",
        "Bob <bob@example.com>",
        "Cy <cy@example.com>",
    ];
    let mut state: u64 = 42;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut side_mark = n;
    for i in 1..=n {
        let time = 1_600_000_000 + i * 60;
        let who = authors[i % authors.len()];
        let (path, text, msg) = if i % 500 == 0 {
            let name = ["gpt-4.1-mini", "gpt-4.1", "o4-mini"][(i / 500) % 3];
            (
                "global/models.toml".to_string(),
                format!(
                    "[model]\nprovider = \"openai\"\nname = \"{name}\"\nparameters = {{ temperature = 0.2, max_output_tokens = 2048 }}\n"
                ),
                format!("global: model {name}"),
            )
        } else if i % 20 == 0 {
            // A policy edit: one ceiling every agent inherits.
            let tokens = 8192 + ((i / 20) % 8) * 1024;
            (
                "global/policy.toml".to_string(),
                global_policy(tokens),
                format!("global: max_output_tokens {tokens}"),
            )
        } else if i % 10 == 0 {
            let c = next() % clients.max(1);
            (
                format!("clients/c{c:04}/client.toml"),
                client_text(c, 30 + (i / 10) % 300),
                format!("client c{c}: retention"),
            )
        } else {
            let a = next() % agents;
            (
                format!("agents/a{a:05}.toml"),
                agent_text(a, clients, 1 + i % 8),
                format!("agent a{a}: temperature"),
            )
        };
        // Every 50th commit merges a side branch that forked ten commits earlier and changed
        // one agent.
        let merge = if i % 50 == 0 && i > 10 {
            side_mark += 1;
            let a = next() % agents;
            let side_path = format!("agents/a{a:05}.toml");
            let side_text = agent_text(a, clients, 1 + (i / 50) % 8);
            writeln!(stream, "commit refs/heads/side\nmark :{side_mark}\nauthor {who} {time} +0000\ncommitter {who} {time} +0000").unwrap();
            let m = format!("agent a{a}: temperature (side branch)");
            writeln!(stream, "data {}\n{m}\nfrom :{}", m.len(), i - 10).unwrap();
            writeln!(
                stream,
                "M 100644 inline {side_path}\ndata {}\n{side_text}",
                side_text.len()
            )
            .unwrap();
            Some((side_mark, side_path, side_text))
        } else {
            None
        };
        writeln!(stream, "commit refs/heads/main\nmark :{i}\nauthor {who} {time} +0000\ncommitter {who} {time} +0000").unwrap();
        writeln!(stream, "data {}\n{msg}", msg.len()).unwrap();
        if i == 1 {
            writeln!(stream, "from refs/heads/main^0").unwrap();
        } else if merge.is_some() {
            writeln!(stream, "from :{}", i - 1).unwrap();
        }
        if let Some((mark, side_path, side_text)) = &merge {
            writeln!(stream, "merge :{mark}").unwrap();
            // The merge result holds the side branch's change.
            writeln!(
                stream,
                "M 100644 inline {side_path}\ndata {}\n{side_text}",
                side_text.len()
            )
            .unwrap();
        }
        writeln!(
            stream,
            "M 100644 inline {path}\ndata {}\n{text}",
            text.len()
        )
        .unwrap();
    }
    let mut child = std::process::Command::new("git")
        .args(["fast-import", "--quiet", "--force"])
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), stream.as_bytes())
        .expect("stream written");
    assert!(child.wait().expect("fast-import").success());
    git(root, &["reset", "-q", "--hard", "main"]);
    println!("committed {n} more commits");
}
