//! History walks read large trees straight from the pack files (`opl::pack`). Every object of a
//! packed repository reads the same as through libgit2, whichever way git stored its deltas, and
//! every history command answers the same from packs as from loose objects. A damaged pack is an
//! error, never a panic or another answer.

mod common;

use common::{TestRepo, agent, git};
use opl::pack::{Kind, Packs};

/// 120 agents (so `agents/` is a tree git stores as deltas of its other versions) and a history
/// of agent, global and client edits with merges of side branches.
fn history() -> TestRepo {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    for i in 0..120 {
        let c = if i % 2 == 0 { "acme" } else { "beta" };
        h.write(&format!("agents/a{i:03}.toml"), &agent(c, ""));
    }
    let mut tip = h.commit("base");
    for i in 0..40 {
        h.write(
            &format!("agents/a{:03}.toml", (i * 7) % 120),
            &agent("acme", &format!("\n[metadata]\nrev = {i}\n")),
        );
        tip = h.commit_as("Oli", &format!("agent {i}"), Some(vec![tip]), true);
        if i % 5 == 0 {
            h.write(
                "global/base.toml",
                &common::BASE[1]
                    .1
                    .replace("gpt-4.1", &format!("model-{}", i % 3)),
            );
            tip = h.commit_as("Gil", &format!("global {i}"), Some(vec![tip]), true);
        }
        if i % 7 == 0 {
            h.write(
                "clients/beta/client.toml",
                &format!("[meta]\nowner = \"user:bob\"\n\n[metadata]\nrev = {i}\n"),
            );
            tip = h.commit_as("Bob", &format!("beta {i}"), Some(vec![tip]), true);
        }
        if i % 9 == 0 {
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
    }
    h
}

/// Packs every object of the repository (deltas naming their base by offset, git's default, or
/// by id) and removes the loose ones.
fn repack(h: &TestRepo, by_offset: bool, args: &[&str]) {
    let mut all = vec!["-c"];
    all.push(if by_offset {
        "repack.useDeltaBaseOffset=true"
    } else {
        "repack.useDeltaBaseOffset=false"
    });
    all.extend_from_slice(&["repack", "-a", "-d", "-f", "-q"]);
    all.extend_from_slice(args);
    let o = git(h.top(), &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(git(h.top(), &["prune-packed"]).status.success());
    assert!(delta_count(h) > 50, "{args:?}: the packs hold few deltas");
}

/// Every object in the packs, read by `Packs` and by libgit2: same kind, same bytes, and none
/// left to libgit2 (the test would otherwise pass without reading a pack). Returns how many.
fn packs_agree(h: &TestRepo) -> usize {
    let odb = h.repo.odb().unwrap();
    let mut ids = Vec::new();
    odb.foreach(|id| {
        ids.push(*id);
        true
    })
    .unwrap();
    ids.sort();
    ids.dedup();
    let mut packs = Packs::open(&h.repo.path().join("objects"));
    for id in &ids {
        let want = odb.read(*id).unwrap();
        let (kind, data) = packs
            .read(id.as_bytes())
            .unwrap_or_else(|| panic!("{id} is not read from the packs"));
        let want_kind = match want.kind() {
            git2::ObjectType::Commit => Kind::Commit,
            git2::ObjectType::Tree => Kind::Tree,
            git2::ObjectType::Blob => Kind::Blob,
            other => panic!("{id}: {other:?}"),
        };
        assert_eq!(kind, want_kind, "{id}");
        assert_eq!(&data[..], want.data(), "{id}");
    }
    // Read again in another order: what the reader keeps changes no answer.
    let mut again = Packs::open(&h.repo.path().join("objects"));
    for id in ids.iter().rev() {
        let (_, data) = again.read(id.as_bytes()).unwrap();
        assert_eq!(&data[..], odb.read(*id).unwrap().data(), "{id}");
    }
    assert!(again.read(&[0u8; 20]).is_none());
    // And from the end of each pack to its start, then from its start to its end: the reader
    // reads ahead in the direction the reads go.
    for backwards in [true, false] {
        let mut by_offset = offsets(h);
        if backwards {
            by_offset.reverse();
        }
        let mut walk = Packs::open(&h.repo.path().join("objects"));
        for (_, id) in &by_offset {
            let (_, data) = walk.read(id.as_bytes()).unwrap();
            assert_eq!(&data[..], odb.read(*id).unwrap().data(), "{id}");
        }
        assert_eq!(by_offset.len(), ids.len());
    }
    ids.len()
}

/// Every object of the packs with its offset, in the order of the offsets (`git show-index`).
fn offsets(h: &TestRepo) -> Vec<(u64, git2::Oid)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(h.repo.path().join("objects/pack")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") {
            let o = std::process::Command::new("git")
                .arg("show-index")
                .stdin(std::fs::File::open(&p).unwrap())
                .output()
                .unwrap();
            assert!(o.status.success());
            for l in String::from_utf8(o.stdout).unwrap().lines() {
                let mut f = l.split_whitespace();
                let offset: u64 = f.next().unwrap().parse().unwrap();
                out.push((offset, git2::Oid::from_str(f.next().unwrap()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// How many entries of the packs are deltas, as git counts them.
fn delta_count(h: &TestRepo) -> usize {
    let pack_dir = h.repo.path().join("objects/pack");
    let mut n = 0;
    for e in std::fs::read_dir(pack_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") {
            let o = git(h.top(), &["verify-pack", "-v", p.to_str().unwrap()]);
            assert!(o.status.success());
            n += String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.split_whitespace().count() == 7)
                .count();
        }
    }
    n
}

#[test]
fn every_object_reads_as_libgit2_reads_it_whichever_way_git_stored_its_deltas() {
    let h = history();
    // Long chains of deltas naming their base by offset, then short ones naming it by id.
    repack(&h, true, &["--depth=250", "--window=50"]);
    assert!(packs_agree(&h) > 240);
    repack(&h, false, &["--depth=10"]);
    assert!(packs_agree(&h) > 240);
}

/// log, blame, whence, audit and inventory of a few agents, as JSON.
fn answers(h: &TestRepo) -> Vec<String> {
    let _ = std::fs::remove_dir_all(h.repo.path().join("opl"));
    let mut out = Vec::new();
    for a in ["a000", "a007", "a014", "bot"] {
        out.push(h.stdout_ok(&["log", a, "-q", "--format", "json"]));
        out.push(h.stdout_ok(&["blame", a, "-q", "--format", "json"]));
    }
    out.push(h.stdout_ok(&["audit", "HEAD~30..HEAD", "-q", "--format", "json"]));
    out.push(h.stdout_ok(&["inventory", "--format", "json"]));
    out
}

#[test]
fn history_commands_answer_the_same_from_packs_as_from_loose_objects() {
    let h = history();
    let loose = answers(&h);
    // The answers are about something: each agent has changes in its log.
    for (i, a) in ["a000", "a007", "a014", "bot"].iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(&loose[2 * i]).unwrap();
        let n = v.as_array().map(Vec::len).or_else(|| {
            v.get("entries")
                .or_else(|| v.get("commits"))
                .and_then(|e| e.as_array().map(Vec::len))
        });
        assert!(n.is_some_and(|n| n >= 2), "{a}: {v}");
    }
    repack(&h, true, &["--depth=250", "--window=50"]);
    assert_eq!(answers(&h), loose);
    repack(&h, false, &[]);
    assert_eq!(answers(&h), loose);
}

#[test]
fn a_damaged_pack_is_an_error_not_a_panic_or_another_answer() {
    let h = history();
    let loose = h.stdout_ok(&["log", "a007", "-q", "--format", "json"]);
    repack(&h, true, &[]);
    let pack = std::fs::read_dir(h.repo.path().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let bytes = std::fs::read(&pack).unwrap();
    // Every byte after the first quarter flipped: headers, deltas and zlib streams.
    let mut bad = bytes.clone();
    for b in &mut bad[bytes.len() / 4..bytes.len() - 20] {
        *b ^= 0x5a;
    }
    let mut perm = std::fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&pack, perm).unwrap();
    for damaged in [bad, bytes[..bytes.len() / 2].to_vec()] {
        std::fs::write(&pack, &damaged).unwrap();
        let _ = std::fs::remove_dir_all(h.repo.path().join("opl"));
        let o = h
            .opl()
            .args(["log", "a007", "-q", "--format", "json"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
        match o.status.code() {
            Some(0) => assert_eq!(String::from_utf8_lossy(&o.stdout), loose),
            Some(2) => assert!(!err.trim().is_empty()),
            other => panic!("exit {other:?}: {err}"),
        }
    }
}
