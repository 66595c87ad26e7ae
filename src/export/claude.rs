//! Claude Code and the Claude Agent SDK: `.claude/settings.json` (permissions `allow` / `ask` /
//! `deny` with `mcp__<server>__<tool>` rules, `defaultMode = "dontAsk"` so that a tool no rule
//! names is denied, the model), `.mcp.json` (the servers) and `CLAUDE.md` (the instructions).

use serde_json::{Map, Value as Json, json};

use super::{Caps, File, Grant, Plan, Target, Transport, tools_with};

/// The Claude target.
pub struct Claude;

impl Target for Claude {
    fn name(&self) -> &'static str {
        "claude"
    }
    fn caps(&self) -> Caps {
        Caps {
            stdio: true,
            env_secret: true,
        }
    }
    fn files(&self, plan: &Plan) -> Vec<File> {
        let mut servers = Map::new();
        let (mut allow, mut ask, mut deny) = (Vec::new(), Vec::new(), Vec::new());
        for s in &plan.servers {
            let mut entry = match &s.transport {
                Transport::Http(url) => json!({"type": "http", "url": url}),
                Transport::Stdio(cmd) => json!({"command": cmd[0], "args": cmd[1..]}),
            };
            if let Some(var) = &s.secret_env {
                // `.mcp.json` expands `${VAR}` from the environment.
                match &s.transport {
                    Transport::Http(_) => {
                        entry["headers"] = json!({"Authorization": format!("Bearer ${{{var}}}")})
                    }
                    Transport::Stdio(_) => entry["env"] = json!({var: format!("${{{var}}}")}),
                }
            }
            servers.insert(s.name.clone(), entry);
            let rule = |t: String| format!("mcp__{}__{t}", s.name);
            allow.extend(tools_with(s, Grant::Allow).into_iter().map(rule));
            ask.extend(tools_with(s, Grant::Ask).into_iter().map(rule));
            deny.extend(tools_with(s, Grant::Deny).into_iter().map(rule));
        }
        let mut settings = json!({
            "$schema": "https://json.schemastore.org/claude-code-settings.json",
            "$comment": plan.provenance,
            "permissions": {
                "defaultMode": "dontAsk",
                "allow": allow,
                "ask": ask,
                "deny": deny,
            },
            "enableAllProjectMcpServers": false,
            "enabledMcpjsonServers": plan.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        });
        if let Some(m) = &plan.model {
            settings["model"] = Json::String(m.clone());
        }
        let mcp = json!({"$comment": plan.provenance, "mcpServers": servers});
        let mut files = vec![
            File {
                path: ".claude/settings.json".into(),
                text: crate::output::json_text(&settings),
            },
            File {
                path: ".mcp.json".into(),
                text: crate::output::json_text(&mcp),
            },
        ];
        if let Some(text) = &plan.instructions {
            files.push(File {
                path: "CLAUDE.md".into(),
                text: format!("<!-- {} -->\n\n{}\n", plan.provenance, text.trim_end()),
            });
        }
        files
    }
}
