//! Rendering and digesting arbitrary stacks: deterministic, and the TOML view parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0xff);
    let g = parts.next().unwrap_or_default().to_vec();
    let mut a = b"[agent]\npurpose = \"p\"\nowner = \"user:a\"\n".to_vec();
    a.extend_from_slice(parts.next().unwrap_or_default());
    let snap = opl::repo::snapshot::Memory::new([("opl.toml", b"version = 1\n".to_vec()), ("global/g.toml", g), ("agents/a.toml", a)]);
    let repo = opl::repo::layer::load(&snap).expect("memory snapshots always load");
    let stacks = opl::merge::stack::Stacks::new(&repo);
    let Some(agent) = stacks.agent("a") else { return };
    let doc = opl::render::document(&repo, "a", &agent.eff);
    let d1 = opl::render::digest(&doc);
    let d2 = opl::render::digest(&opl::render::document(&repo, "a", &agent.eff));
    assert_eq!(d1, d2);
    // The JCS form is JSON that parses back to the same document.
    let back: serde_json::Value = serde_json::from_str(&opl::render::jcs(&doc)).expect("JCS is JSON");
    assert_eq!(opl::render::digest(&back), d1);
    let toml = opl::render::to_toml(&doc, &d1);
    toml.parse::<toml_edit::DocumentMut>().expect("the TOML view parses");
});
