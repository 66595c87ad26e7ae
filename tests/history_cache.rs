//! The history caches (`<git dir>/opl/history-v3.bin`, `commits-v1.bin`, `audit-v2.json`) are
//! shortcuts only: log, blame, whence and audit say the same with them, without them, with a
//! corrupt one, with one written by another agent's walk, for another config root or by another
//! opl, and a walk writes them.

mod common;

use common::{BASE, TestRepo, agent};

/// A binary cache file read back: its header (JSON) and its body; the file must be whole (the
/// magic, the header's length, the checksum of all before it).
fn unframe(file: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let (content, sum) = file.split_at(file.len() - 8);
    assert_eq!(
        opl::history::bin::checksum(content).to_le_bytes(),
        sum,
        "checksum"
    );
    let rest = content.strip_prefix(b"opl cache\n").expect("magic");
    let n = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&rest[4..4 + n]).unwrap();
    (header, rest[4 + n..].to_vec())
}

/// A binary cache file of `header` and `body`, whole.
fn frame(header: &serde_json::Value, body: &[u8]) -> Vec<u8> {
    let head = serde_json::to_vec(header).unwrap();
    let mut out = b"opl cache\n".to_vec();
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(body);
    let sum = opl::history::bin::checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The count a binary cache's body starts with (pairs, commits).
fn count(body: &[u8]) -> usize {
    u32::from_le_bytes(body[..4].try_into().unwrap()) as usize
}

/// A history with global and client edits, a client switch, a fragment outside the layers,
/// merges of side branches, and commits that touch other agents only.
fn history() -> TestRepo {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    h.write("agents/bot.toml", &agent("acme", ""));
    h.write("agents/other.toml", &agent("beta", ""));
    let base = h.commit("base");
    let mut tip = base;
    for i in 0..6 {
        h.write(
            "global/base.toml",
            &BASE[1].1.replace("gpt-4.1", &format!("model-{}", i % 3)),
        );
        tip = h.commit_as("Gil", &format!("global {i}"), Some(vec![tip]), true);
        h.write(
            "agents/other.toml",
            &agent("beta", &format!("\n[metadata]\nn = {i}\n")),
        );
        tip = h.commit_as("Oli", &format!("other {i}"), Some(vec![tip]), true);
        h.write(
            "clients/acme/client.toml",
            &format!("[meta]\nowner = \"user:ann\"\n\n[metadata]\nrev = {i}\n"),
        );
        tip = h.commit_as("Ann", &format!("acme {i}"), Some(vec![tip]), true);
        // A side branch from two commits back changes bot, and is merged.
        h.write(
            "agents/bot.toml",
            &agent(
                "acme",
                &format!("\n[model.parameters]\ntemperature = 0.{i}\n"),
            ),
        );
        let side = h.commit_as("Sid", &format!("side {i}"), Some(vec![tip]), false);
        tip = h.commit_as("Mia", &format!("merge {i}"), Some(vec![tip, side]), true);
    }
    // bot moves to beta, then reads a fragment outside its folders.
    h.write(
        "agents/bot.toml",
        &agent("beta", "\n[metadata]\nmoved = true\n"),
    );
    tip = h.commit_as("Ann", "bot to beta", Some(vec![tip]), true);
    h.write("shared/tone.md", "Be kind.\n");
    h.write(
        "agents/bot.toml",
        &agent(
            "beta",
            "\n[instructions]\nfragments = [{ id = \"bot.tone\", file = \"../shared/tone.md\" }]\n",
        ),
    );
    tip = h.commit_as("Ann", "bot reads a shared fragment", Some(vec![tip]), true);
    h.write("shared/tone.md", "Be very kind.\n");
    tip = h.commit_as("Ann", "kinder tone", Some(vec![tip]), true);
    h.write(
        "clients/beta/client.toml",
        "[meta]\nowner = \"user:bob\"\n\n[metadata]\nx = 1\n",
    );
    h.commit_as("Bob", "beta edit", Some(vec![tip]), true);
    h
}

/// The digest `opl render` prints for `agent` at `rev`.
fn digest(h: &TestRepo, agent: &str, rev: &str) -> String {
    let o = h
        .opl()
        .args([
            "render",
            agent,
            "--rev",
            rev,
            "--format",
            "json",
            "--explain",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

fn outputs(h: &TestRepo) -> Vec<String> {
    let mut out = Vec::new();
    // `bot` as it was before the merges and the fragment, and `other` at the tip.
    let (old_bot, other_now) = (digest(h, "bot", "HEAD~4"), digest(h, "other", "HEAD"));
    for args in [
        &["log", "bot", "--format", "json"][..],
        &["log", "other", "--format", "json"],
        &["log", "bot", "--first-parent", "--format", "json"],
        &["blame", "bot", "--rev", "HEAD", "--format", "json"],
        &["blame", "other", "--rev", "HEAD", "--format", "json"],
        &["whence", "bot", &old_bot, "--format", "json"],
        &["whence", "other", &other_now, "--format", "json"],
    ] {
        out.push(h.stdout_ok(args));
    }
    out
}

#[test]
fn log_blame_and_whence_say_the_same_with_and_without_the_cache() {
    let h = history();
    let file = h.top().join(".git/opl/history-v3.bin");
    let commits = h.top().join(".git/opl/commits-v1.bin");
    assert!(!file.exists() && !commits.exists());
    let first = outputs(&h);
    // The walk wrote the cache: one entry per (commit, parent) pair it compared.
    let (header, body) = unframe(&std::fs::read(&file).unwrap());
    assert_eq!(header["version"], 3);
    assert_eq!(header["prefix"], "");
    assert!(count(&body) > 20, "{}", count(&body));
    // ...and the commit table: every commit of the history, once.
    let revs = std::process::Command::new("git")
        .args(["rev-list", "--all"])
        .current_dir(h.top())
        .output()
        .unwrap();
    let listed = String::from_utf8(revs.stdout).unwrap().lines().count();
    let (header, table) = unframe(&std::fs::read(&commits).unwrap());
    assert_eq!(header["version"], 1);
    assert_eq!(count(&table), listed);
    // The walks find what changed each agent, wherever it was changed (a walk that passes a
    // commit's key on to its parent must not skip any of these).
    let summaries = |text: &str| -> std::collections::BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["summary"].as_str().unwrap().to_string())
            .collect()
    };
    let mut bot: Vec<String> = [
        "base",
        "bot to beta",
        "bot reads a shared fragment",
        "kinder tone",
        "beta edit",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..6 {
        bot.extend([
            format!("global {i}"),
            format!("acme {i}"),
            format!("side {i}"),
        ]);
    }
    assert_eq!(summaries(&first[0]), bot.into_iter().collect());
    let mut other: Vec<String> = vec!["base".into(), "beta edit".into()];
    for i in 0..6 {
        other.extend([format!("global {i}"), format!("other {i}")]);
    }
    assert_eq!(summaries(&first[1]), other.into_iter().collect());
    // whence lists exactly the commits whose document has the digest: `other` is unchanged
    // since the last commit that changed it ("beta edit", the tip).
    let whence = |text: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["summary"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(whence(&first[6]), ["beta edit"]);
    // `bot` at HEAD~4: every commit (side branches too) whose render has that digest.
    let revs = std::process::Command::new("git")
        .args(["rev-list", "HEAD"])
        .current_dir(h.top())
        .output()
        .unwrap();
    let wanted = digest(&h, "bot", "HEAD~4");
    let expected: Vec<String> = String::from_utf8(revs.stdout)
        .unwrap()
        .lines()
        .filter(|c| digest(&h, "bot", c) == wanted)
        .map(|c| {
            let o = std::process::Command::new("git")
                .args(["log", "-1", "--format=%s", c])
                .current_dir(h.top())
                .output()
                .unwrap();
            String::from_utf8(o.stdout).unwrap().trim().to_string()
        })
        .collect();
    assert!(expected.len() >= 2, "{expected:?}");
    assert_eq!(whence(&first[5]), expected);
    // With the cache.
    assert_eq!(outputs(&h), first);
    // Deleted.
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&commits).unwrap();
    assert_eq!(outputs(&h), first);
    // Corrupt, truncated, a byte changed, or for another config root: ignored, and written anew.
    let whole = std::fs::read(&file).unwrap();
    let (mut header, body) = unframe(&whole);
    header["prefix"] = "elsewhere".into();
    let mut flipped = whole.clone();
    flipped[whole.len() / 2] ^= 1;
    for bad in [
        b"not a cache".to_vec(),
        whole[..40].to_vec(),
        whole[..whole.len() - 1].to_vec(),
        flipped,
        frame(&header, &body),
    ] {
        std::fs::write(&file, &bad).unwrap();
        assert_eq!(outputs(&h), first);
        let (again, _) = unframe(&std::fs::read(&file).unwrap());
        assert_eq!(again["prefix"], "");
    }
    // The commit table is what lists the commits: a summary changed in it (and the file made
    // whole again) shows in the output...
    let whole = std::fs::read(&commits).unwrap();
    let (header, table) = unframe(&whole);
    let at = table
        .windows(b"kinder tone".len())
        .position(|w| w == b"kinder tone")
        .expect("the summary is in the table");
    let mut forged = table.clone();
    forged[at..at + 11].copy_from_slice(b"KINDER TONE");
    std::fs::write(&commits, frame(&header, &forged)).unwrap();
    assert!(
        h.stdout_ok(&["log", "bot", "--format", "json"])
            .contains("KINDER TONE")
    );
    // ...unless it is not whole, or is of another version: then it is ignored and written anew.
    let mut other = header.clone();
    other["version"] = 2.into();
    let mut flipped = frame(&header, &forged);
    flipped[whole.len() / 2] ^= 1;
    for bad in [
        flipped,
        frame(&other, &forged),
        frame(&header, &forged)[..whole.len() - 3].to_vec(),
        b"not a cache".to_vec(),
    ] {
        std::fs::write(&commits, &bad).unwrap();
        assert_eq!(outputs(&h), first);
        assert_eq!(unframe(&std::fs::read(&commits).unwrap()).1, table);
    }
    // Written by one agent's walk, read by another's.
    std::fs::remove_file(&file).unwrap();
    let o = h
        .opl()
        .args(["log", "other", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), first[1]);
    assert_eq!(outputs(&h), first);
}

/// A long history (past the first rounds a walk reads ahead): edits of one agent among many,
/// one commit in ten to `global/` or a client, merges of side branches.
fn long_history() -> TestRepo {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    for a in ["bot", "other", "third"] {
        h.write(&format!("agents/{a}.toml"), &agent("acme", ""));
    }
    let mut tip = h.commit("base");
    for i in 0..700 {
        let n = format!("\n[metadata]\nn = {i}\n");
        match i % 10 {
            0 => h.write(
                "global/base.toml",
                &BASE[1].1.replace("gpt-4.1", &format!("model-{}", i % 7)),
            ),
            5 => h.write(
                "clients/acme/client.toml",
                &format!("[meta]\nowner = \"user:ann\"\n{n}"),
            ),
            k => {
                let a = ["bot", "other", "third"][k % 3];
                let client = if i % 90 == 1 { "beta" } else { "acme" };
                h.write(&format!("agents/{a}.toml"), &agent(client, &n));
            }
        }
        if i % 25 == 24 {
            let side = h.commit_as("Sid", &format!("side {i}"), Some(vec![tip]), false);
            h.write(
                "agents/other.toml",
                &agent("acme", "\n[metadata]\nmain = 1\n"),
            );
            tip = h.commit_as("Oli", &format!("main {i}"), Some(vec![tip]), true);
            tip = h.commit_as("Mia", &format!("merge {i}"), Some(vec![tip, side]), true);
        } else {
            tip = h.commit_as("Ann", &format!("change {i}"), Some(vec![tip]), true);
        }
    }
    h
}

/// On several threads, a first walk reads what changed between commits and their parents ahead
/// of where it stands; it must find what a walk on one thread finds (which reads as it goes), and
/// write the same history cache.
#[test]
fn a_walk_that_reads_ahead_on_several_threads_says_what_one_thread_says() {
    let h = long_history();
    let file = h.top().join(".git/opl/history-v3.bin");
    let old_bot = digest(&h, "bot", "HEAD~300");
    let run = |threads: &str, args: &[&str]| -> (String, Vec<u8>) {
        let _ = std::fs::remove_file(&file);
        let o = h
            .opl()
            .env("RAYON_NUM_THREADS", threads)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        (
            String::from_utf8(o.stdout).unwrap(),
            std::fs::read(&file).unwrap(),
        )
    };
    for args in [
        &["log", "bot", "--format", "json"][..],
        &["log", "other", "--first-parent", "--format", "json"],
        &["log", "third", "-n", "3", "--format", "json"],
        &["blame", "bot", "--rev", "HEAD", "--format", "json"],
        &["whence", "bot", &old_bot, "--format", "json"],
    ] {
        let (one, one_cache) = run("1", args);
        let (three, three_cache) = run("3", args);
        assert!(one == three, "{args:?}: the outputs differ");
        let listed = serde_json::from_str::<serde_json::Value>(&one).unwrap();
        assert!(!listed.as_array().unwrap().is_empty(), "{args:?}");
        // A walk of every commit compares the same pairs either way.
        if args[0] != "blame" && !args.contains(&"-n") {
            assert!(one_cache == three_cache, "{args:?}: the caches differ");
        }
    }
    // `bot` changed in every third agent commit, every global and acme edit, and the merges
    // that brought its side-branch edits: more than a round's worth of commits.
    let (log, _) = run("3", &["log", "bot", "--format", "json"]);
    let n = serde_json::from_str::<serde_json::Value>(&log)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert!(n > 250, "{n}");
}

fn audits(h: &TestRepo) -> Vec<String> {
    ["json", "csv", "markdown", "human"]
        .iter()
        .map(|f| h.stdout_ok(&["audit", "--format", f]))
        .collect()
}

#[test]
fn audit_says_the_same_with_and_without_its_cache() {
    let h = history();
    let file = h.top().join(".git/opl/audit-v2.json");
    let first = audits(&h);
    // Every commit of the history changed some agent: the JSON lists them all.
    let v: serde_json::Value = serde_json::from_str(&first[0]).unwrap();
    let listed = v["commits"].as_array().unwrap().len();
    assert!(listed >= 20, "{listed}");
    // The cache holds one entry per commit, agents that changed alike grouped.
    let cache: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(cache["header"]["opl"], env!("CARGO_PKG_VERSION"));
    assert!(cache["body"]["commits"].as_array().unwrap().len() >= listed);
    assert_eq!(audits(&h), first);
    // The cache is what answers: a commit's entry edited by hand shows in the output...
    let text = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    assert!(text.contains("\"keys\":["));
    let forged = text.replacen("\"keys\":[", "\"keys\":[\"forged.key\",", 1);
    std::fs::write(&file, &forged).unwrap();
    assert!(audits(&h)[0].contains("forged.key"));
    // ...unless another version of opl wrote it, or it is for another config root, corrupt or
    // truncated: then it is ignored and written anew.
    ignored_when_unusable(&file, &forged, || audits(&h), &first);
}

/// Writes `forged` (a cache whose entries were edited) made unusable in each way a cache can be,
/// and requires `run` to answer `first` each time, then with the cache deleted.
fn ignored_when_unusable(
    file: &std::path::Path,
    forged: &str,
    run: impl Fn() -> Vec<String>,
    first: &[String],
) {
    for bad in [
        forged.replacen(env!("CARGO_PKG_VERSION"), "0.0.0-other", 1),
        forged.replacen("\"prefix\":\"\"", "\"prefix\":\"elsewhere\"", 1),
        "not json".to_string(),
        forged[..60].to_string(),
    ] {
        std::fs::write(file, &bad).unwrap();
        assert_eq!(run(), first);
    }
    std::fs::remove_file(file).unwrap();
    assert_eq!(run(), first);
}

fn inventories(h: &TestRepo) -> Vec<String> {
    [
        &["inventory", "--format", "json"][..],
        &["inventory", "--format", "csv", "--rev", "HEAD~3"],
        &["inventory", "--format", "json", "--client", "beta"],
    ]
    .iter()
    .map(|args| h.stdout_ok(args))
    .collect()
}

#[test]
fn inventory_last_change_says_the_same_with_and_without_its_cache() {
    let h = history();
    let file = h.top().join(".git/opl/last-change-v2.json");
    let first = inventories(&h);
    // Each agent's last change is the newest commit `opl log -n 1` lists for it.
    let v: serde_json::Value = serde_json::from_str(&first[0]).unwrap();
    for row in v.as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let o = h
            .opl()
            .args(["log", id, "-n", "1", "--format", "json"])
            .output()
            .unwrap();
        let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(row["last_change"]["commit"], log[0]["commit"], "{id}");
    }
    let cache: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(cache["header"]["opl"], env!("CARGO_PKG_VERSION"));
    assert_eq!(cache["body"]["heads"].as_array().unwrap().len(), 2);
    assert_eq!(inventories(&h), first);
    // The cache answers: an entry edited by hand shows...
    let text = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    let rev = |r: &str| {
        let o = common::git(h.top(), &["rev-parse", r]);
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let (head, old) = (rev("HEAD"), rev("HEAD~3"));
    let forged = text
        .replace(&head, "HEAD-ID")
        .replace(&old, &head)
        .replace("HEAD-ID", &old);
    assert_ne!(forged, text);
    std::fs::write(&file, &forged).unwrap();
    assert_ne!(inventories(&h)[0], first[0]);
    // ...unless another opl wrote it, for another root, or it is corrupt or truncated.
    ignored_when_unusable(&file, &forged, || inventories(&h), &first);
}

/// Each commit `opl audit` lists, with each agent and the keys it changed, is what `opl diff` of
/// the commit's first parent and the commit says (the audit reads files it has already parsed in a
/// neighbouring commit from memory; `opl diff` reads every file anew), and a commit it leaves out
/// changes no agent.
#[test]
fn audit_lists_what_diff_says_of_each_commit() {
    let compared = assert_audit_is_diff(&history());
    assert!(compared >= 25, "{compared}");
}

/// The same with agents whose own files make them invalid for a while, between changes to
/// `global/` and a client: the audit remembers an agent's own errors from one shared change to
/// the next only while nothing the errors depend on changed (its files, the fragment files it
/// names, the layers above it).
#[test]
fn audit_lists_what_diff_says_when_agents_turn_invalid_between_shared_changes() {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    h.write(
        "agents/bad.toml",
        &agent("acme", "\n[modle]\nname = \"x\"\n"),
    );
    h.write("agents/flip.toml", &agent("beta", ""));
    h.write("shared/tone.md", "Be kind.\n");
    let frag = "\n[instructions]\nfragments = [{ id = \"t\", file = \"../shared/tone.md\" }]\n";
    h.write("agents/reader.toml", &agent("acme", frag));
    h.commit("base");
    let global = |h: &mut TestRepo, i: usize| {
        h.write(
            "global/base.toml",
            &BASE[1].1.replace("gpt-4.1", &format!("model-{i}")),
        );
        h.commit(&format!("global {i}"));
    };
    global(&mut h, 0);
    // flip turns invalid by its own file, stays so through a global change, then is fixed.
    h.write(
        "agents/flip.toml",
        &agent("beta", "\n[agent]\nowner = \"user:x\"\n"),
    );
    h.commit("flip: a duplicate table");
    global(&mut h, 1);
    h.write(
        "clients/beta/client.toml",
        "[meta]\nowner = \"user:bob\"\n\n[metadata]\nx = 1\n",
    );
    h.commit("beta edit");
    h.write("agents/flip.toml", &agent("beta", ""));
    h.commit("flip fixed");
    global(&mut h, 2);
    // reader's fragment file goes away (a commit outside the layers), then comes back.
    h.remove("shared/tone.md");
    h.commit("tone removed");
    global(&mut h, 3);
    h.write("shared/tone.md", "Be kinder.\n");
    h.commit("tone back");
    global(&mut h, 4);
    // bad is fixed by its own file.
    h.write("agents/bad.toml", &agent("acme", ""));
    h.commit("bad fixed");
    global(&mut h, 5);
    let compared = assert_audit_is_diff(&h);
    assert!(compared >= 12, "{compared}");
}

/// The same for commits that change client folders only (the audit tells the agents they reach
/// from the client each agent file names, read from its blob): edits no agent sees, an agent
/// that moves to the client edited in the same commit, agents in folder form, with a file that
/// does not parse, or with no client, a client folder removed, a new client named in the commit
/// that adds it, and a client id that collides in case with another.
#[test]
fn audit_lists_what_diff_says_of_changes_to_client_folders() {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    h.write(
        "clients/gamma/client.toml",
        "[meta]\nowner = \"user:gil\"\n",
    );
    h.write("agents/a1.toml", &agent("acme", ""));
    h.write("agents/a2.toml", &agent("acme", ""));
    h.write("agents/b1.toml", &agent("beta", ""));
    h.write("agents/f1/agent.toml", &agent("beta", ""));
    h.write("agents/broken.toml", "[agent\nclient = \"beta\"\n");
    h.write(
        "agents/free.toml",
        "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n",
    );
    h.commit("base");
    let client = |h: &mut TestRepo, c: &str, extra: &str, msg: &str| {
        h.write(
            &format!("clients/{c}/client.toml"),
            &format!("[meta]\nowner = \"user:bob\"\n{extra}"),
        );
        h.commit(msg);
    };
    client(
        &mut h,
        "beta",
        "\n[model.parameters]\ntemperature = 0.4\n",
        "beta: temperature",
    );
    client(
        &mut h,
        "gamma",
        "\n[metadata]\nx = 1\n",
        "gamma: no agent names it",
    );
    h.write("agents/a1.toml", &agent("beta", ""));
    client(
        &mut h,
        "beta",
        "\n[model.parameters]\ntemperature = 0.5\n",
        "beta edit, a1 moves there",
    );
    h.write("agents/free.toml", &agent("delta", ""));
    client(
        &mut h,
        "delta",
        "\n[metadata]\nteam = \"d\"\n",
        "delta added with its agent",
    );
    client(
        &mut h,
        "beta",
        "\n[policy.model]\nmax_temperature = 0.3\n",
        "beta: a ceiling below",
    );
    h.remove("clients/gamma/client.toml");
    h.commit("gamma removed");
    h.remove("clients/beta/client.toml");
    h.commit("beta removed");
    client(&mut h, "Beta", "", "Beta: an id that collides in case");
    client(&mut h, "beta", "", "beta back");
    let compared = assert_audit_is_diff(&h);
    assert_eq!(compared, 9);
}

/// Asserts that `opl audit` lists, for each commit, the agents, statuses and keys that `opl diff`
/// of its first parent and the commit gives; returns how many commits were compared.
fn assert_audit_is_diff(h: &TestRepo) -> usize {
    let o = h
        .opl()
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    type Agents = std::collections::BTreeMap<String, (String, Vec<String>)>;
    let listed: std::collections::BTreeMap<String, Agents> = audit["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let agents = c["agents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let keys = a["keys"].as_array().unwrap();
                    let keys = keys.iter().map(|k| k.as_str().unwrap().to_string());
                    let status = a["status"].as_str().unwrap().to_string();
                    (
                        a["agent"].as_str().unwrap().to_string(),
                        (status, keys.collect()),
                    )
                })
                .collect();
            (c["commit"].as_str().unwrap().to_string(), agents)
        })
        .collect();
    let revs = common::git(h.top(), &["rev-list", "--parents", "HEAD"]);
    let mut compared = 0;
    for line in String::from_utf8(revs.stdout).unwrap().lines() {
        let ids: Vec<&str> = line.split(' ').collect();
        let Some(parent) = ids.get(1) else { continue };
        let o = h
            .opl()
            .args(["diff", parent, ids[0], "--format", "json"])
            .output()
            .unwrap();
        let diff: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let agents: Agents = diff["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let keys = a["changes"].as_array().unwrap().iter();
                let keys = keys.map(|c| c["path"].as_str().unwrap().to_string());
                let status = a["status"].as_str().unwrap().to_string();
                (
                    a["agent"].as_str().unwrap().to_string(),
                    (status, keys.collect()),
                )
            })
            .collect();
        let want = (!agents.is_empty()).then_some(&agents);
        assert_eq!(listed.get(ids[0]), want, "commit {}", ids[0]);
        compared += 1;
    }
    compared
}

/// The cache files of the earlier format (`-v1`, header flattened into the object) are not read:
/// the first walk that writes a cache removes them, and nothing else of `<git dir>/opl/`.
#[test]
fn caches_of_the_earlier_format_are_removed_when_a_cache_is_written() {
    let h = history();
    let dir = h.top().join(".git/opl");
    std::fs::create_dir_all(&dir).unwrap();
    let old = [
        "history-v1.json",
        "audit-v1.json",
        "last-change-v1.json",
        "history-v2.json",
    ];
    for f in old {
        // A file in the v1 layout: its header flattened into the object.
        std::fs::write(dir.join(f), "{\"version\":1,\"prefix\":\"\",\"pairs\":[]}").unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    let first = outputs(&h);
    for f in old {
        assert!(!dir.join(f).exists(), "{f}");
    }
    assert!(dir.join("history-v3.bin").is_file());
    assert!(dir.join("commits-v1.bin").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine\n"
    );
    // The answers are those of a repository that never had them.
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(outputs(&h), first);
}
