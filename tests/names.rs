//! Every name a user types is checked: an unknown agent, client, key path, digest or range is a
//! usage error (exit 2) that says what was wrong and, where one is close, what was meant.

mod common;

use common::TestRepo;

fn repo() -> TestRepo {
    let mut t = TestRepo::new();
    t.write("agents/bot/prompt.md", "Answer kindly.\n");
    t.write(
        "agents/bot/agent.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers\"\nowner = \"user:ann\"\n\n[instructions]\nfragments = [{ id = \"bot.prompt\", file = \"prompt.md\" }]\n\n[connections.crm]\nsystem = \"CRM\"\n\n[tools.crm]\nuse = [\"get\"]\n",
    );
    t.remove("agents/bot.toml");
    t.commit("one");
    t.write("agents/bot/prompt.md", "Answer kindly and briefly.\n");
    t.commit("two");
    t
}

/// Runs opl; returns its exit status, stdout and stderr.
fn run(t: &TestRepo, args: &[&str]) -> (i32, String, String) {
    let out = t.opl().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn usage_error(t: &TestRepo, args: &[&str], says: &str) {
    let (code, out, err) = run(t, args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert!(out.is_empty(), "{args:?}: {out}");
}

#[test]
fn an_unknown_agent_is_a_usage_error_with_a_suggestion() {
    let t = repo();
    let hint = "no agent `bto` in this repository (did you mean `bot`?)";
    usage_error(&t, &["diff", "HEAD~1", "HEAD", "--agent", "bto"], hint);
    usage_error(&t, &["log", "bto"], hint);
    usage_error(&t, &["blame", "bto"], hint);
    usage_error(&t, &["blame", "bto", "--rev", "HEAD"], hint);
    let zeros = format!("sha256:{}", "0".repeat(64));
    usage_error(&t, &["whence", "bto", &zeros], hint);
    usage_error(&t, &["explain", "bto", "model.name"], hint);
    usage_error(&t, &["render", "bto"], hint);
    // A known agent still answers.
    let (code, out, _) = run(&t, &["log", "bot", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (code, out, _) = run(&t, &["diff", "HEAD~1", "HEAD", "--agent", "bot"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 agent changed"), "{out}");
}

#[test]
fn an_unknown_key_a_bad_digest_or_client_is_a_usage_error() {
    let t = repo();
    let key = "`modle.name` is not a key of the schema (did you mean `model.name`?)";
    usage_error(&t, &["explain", "bot", "modle.name"], key);
    usage_error(&t, &["log", "bot", "modle.name"], key);
    usage_error(&t, &["blame", "bot", "modle.name"], key);
    usage_error(
        &t,
        &["whence", "bot", "abc123"],
        "`abc123` is not a digest: expected sha256: and 64 lowercase hex digits",
    );
    let upper = format!("sha256:{}", "A".repeat(64));
    usage_error(&t, &["whence", "bot", &upper], "is not a digest");
    usage_error(
        &t,
        &["inventory", "--client", "acm"],
        "no client `acm` in this repository (did you mean `acme`?)",
    );
}

#[test]
fn explain_takes_every_path_of_the_rendered_document() {
    let t = repo();
    for (key, value) in [
        ("actions", "[\"crm.get\"]"),
        ("agent.id", "\"bot\""),
        ("instructions.prompt", "Answer kindly and briefly."),
        (
            "instructions.fragments[id=bot.prompt].content",
            "Answer kindly and briefly.",
        ),
    ] {
        let (code, out, err) = run(&t, &["explain", "bot", key, "--format", "json"]);
        assert_eq!(code, 0, "{key}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["set"], true, "{key}: {out}");
        let leaf = &v["leaves"][0];
        assert_eq!(leaf["path"], key);
        assert!(leaf["value"].to_string().contains(value), "{key}: {out}");
    }
    // Derived values say so; a fragment's content has its file as origin.
    let (_, out, _) = run(&t, &["explain", "bot", "actions"]);
    assert!(out.contains("class    derived"), "{out}");
    let (_, out, _) = run(
        &t,
        &[
            "explain",
            "bot",
            "instructions.fragments[id=bot.prompt].content",
        ],
    );
    assert!(out.contains("set at   agents/bot/prompt.md:1:1"), "{out}");
}

#[test]
fn audit_ranges_read_as_git_reads_them() {
    let t = repo();
    // `A..` and `..B` default the missing side to HEAD.
    let (code, out, err) = run(&t, &["audit", "HEAD~1..", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["commits"].as_array().unwrap().len(), 1);
    assert_eq!(v["commits"][0]["summary"], "two");
    let (code, out, err) = run(&t, &["audit", "..HEAD", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["commits"], serde_json::json!([]));
    let (code, _, err) = run(&t, &["audit", "nope..HEAD"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
}
