//! Merging a stack of three arbitrary files (global, client, agent): never a panic, and a stack
//! without errors never yields a document with a raised ceiling.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let g = parts.next().unwrap_or_default().to_vec();
    let c = parts.next().unwrap_or_default().to_vec();
    let mut a = b"[agent]\nclient = \"c\"\n".to_vec();
    a.extend_from_slice(parts.next().unwrap_or_default());
    let snap = opl::repo::snapshot::Memory::new([("opl.toml", b"version = 1\n".to_vec()), ("global/g.toml", g), ("clients/c/c.toml", c), ("agents/a.toml", a)]);
    let repo = opl::repo::layer::load(&snap).expect("memory snapshots always load");
    let stacks = opl::merge::stack::Stacks::new(&repo);
    if let Some(agent) = stacks.agent("a") {
        let _ = opl::merge::provenance::provenance(&repo, &agent, None);
        if !agent.all_findings().any(|f| matches!(f.code, opl::diagnostic::Code::Widening | opl::diagnostic::Code::Locked | opl::diagnostic::Code::TypeConflict)) {
            // Without a widening finding, every layer's max_temperature is >= the effective one.
            if let Some(eff) = agent.eff.leaf(&["policy", "model", "max_temperature"]).and_then(|l| l.node.value.as_f64()) {
                for l in agent.eff.leaf(&["policy", "model", "max_temperature"]).map(|l| l.shadowed.as_slice()).unwrap_or_default() {
                    if let Some(v) = l.value.as_f64() {
                        assert!(eff <= v, "effective ceiling {eff} above an inherited {v}");
                    }
                }
            }
        }
    }
});
