//! `opl init`: a small config repository that validates clean.

use std::path::PathBuf;

use super::{Ctx, Failure, Outcome, emit};
use crate::cli::InitArgs;
use crate::write::{Overwrite, ensure_dir, write_atomic};

/// The files `opl init` writes, relative to the target directory.
pub const FILES: &[(&str, &str)] = &[
    (
        "opl.toml",
        "# opl config repository root\nversion = 1\nname = \"my-agents\"\n",
    ),
    (
        "global/policy.toml",
        r#"# What every agent shares. Policy here can only be made stricter by clients and agents.
[meta]
owner = "group:ai-governance"
description = "Organisation-wide defaults and policy"
lock = ["policy.approvals"]

[model]
provider = "openai"
name = "gpt-4.1-mini"
parameters = { temperature = 0.2 }

[instructions]
fragments = [{ id = "org.safety", file = "safety.md", required = true }]

[policy.model]
allow_providers = ["openai", "azure-openai"]
max_temperature = 0.7

[policy.tools]
allow = ["*"]
deny = ["*.delete_*"]

[policy.approvals]
rules = [
  { id = "org.refund-large", action = "*.create_refund", when = { arg = "amount", gt = 500 }, require = "approval", approvers = ["role:finance"] },
]

[policy.memory]
allow_scopes = ["session", "user"]
max_retention_days = { session = 30, user = 365 }
redact_pii = true
"#,
    ),
    (
        "global/safety.md",
        "Never share one customer's data with another.\nIf you are unsure, hand off to a human.\n",
    ),
    (
        "clients/example/client.toml",
        r#"# What one client (or department) narrows or adjusts.
[meta]
owner = "user:jane.doe"

[connections.helpdesk]
kind = "mcp"
system = "Helpdesk"
url = "https://mcp.example.com/helpdesk"
auth = { mode = "agent_identity", secret_ref = "vault://example/helpdesk" }
data_classification = "confidential"

[escalation]
default_target = "tier2"
contacts.tier2 = { who = "group:example-tier2", channels = ["email:tier2@example.com"] }

[policy.tools]
allow = ["helpdesk.*"]
"#,
    ),
    (
        "agents/assistant.toml",
        r#"# One agent.
[agent]
client = "example"
purpose = "Answer helpdesk tickets for Example Ltd"
owner = "user:jane.doe"
risk_tier = "medium"
lifecycle = "pilot"

[tools.helpdesk]
use = ["get_ticket", "add_comment", "create_refund"]

[memory]
scopes = ["session"]
retention_days = { session = 7 }
"#,
    ),
];

/// Editor support: taplo (Even Better TOML) checks and completes layer files with the schema.
pub const TAPLO: &str = r#"# Editors that use taplo (Even Better TOML) complete and check opl layer files with this.
[[rule]]
include = ["global/**/*.toml", "clients/**/*.toml", "agents/**/*.toml"]

[rule.schema]
path = "schemas/layer.schema.json"
"#;

/// Runs `opl init`.
pub fn run(ctx: &mut Ctx, args: &InitArgs) -> Outcome {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let schema = crate::output::json_text(&crate::model::schema::layer_json_schema());
    let files: Vec<(&str, &str)> = FILES
        .iter()
        .copied()
        .chain([
            (".taplo.toml", TAPLO),
            ("schemas/layer.schema.json", schema.as_str()),
        ])
        .collect();
    let existing: Vec<&str> = files
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| std::fs::symlink_metadata(dir.join(p)).is_ok())
        .collect();
    if !existing.is_empty() {
        return Err(Failure(format!(
            "{} already has {}; opl init never overwrites files",
            dir.display(),
            existing.join(", ")
        )));
    }
    for (path, text) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            ensure_dir(parent).map_err(Failure)?;
        }
        write_atomic(&target, text.as_bytes(), Overwrite::Never).map_err(Failure)?;
    }
    emit(
        ctx.out,
        &format!(
            "created an opl config repository in {}:\n{}\nnext: opl -C {0} validate && opl -C {0} render assistant --explain\n",
            dir.display(),
            files
                .iter()
                .map(|(p, _)| format!("  {p}\n"))
                .collect::<String>()
        ),
    )?;
    Ok(crate::EXIT_CLEAN)
}
