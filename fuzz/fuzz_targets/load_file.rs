//! Loading and validating one arbitrary layer file: never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let snap = opl::repo::snapshot::Memory::new([
        ("opl.toml", b"version = 1\n".to_vec()),
        ("global/fuzz.toml", data.to_vec()),
        ("agents/a.toml", b"[agent]\npurpose = \"p\"\nowner = \"user:a\"\n".to_vec()),
    ]);
    let repo = opl::repo::layer::load(&snap).expect("memory snapshots always load");
    let v = opl::merge::stack::validate(&repo, None, &[]);
    // Every finding points inside a known file and renders in every format.
    let report = opl::output::FindingsReport {
        findings: &v.findings,
        sources: &repo.sources,
        prefix: "",
        agents: v.agents,
        files: v.files,
        scope: String::new(),
        notes: Vec::new(),
    };
    let style = opl::output::Style { color: false, width: 80 };
    for format in [
        opl::output::ReportFormat::Human,
        opl::output::ReportFormat::Json,
        opl::output::ReportFormat::Github,
        opl::output::ReportFormat::Sarif,
        opl::output::ReportFormat::Junit,
    ] {
        let _ = report.text(format, style, Default::default());
    }
});
