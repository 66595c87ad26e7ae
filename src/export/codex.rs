//! The Codex CLI: `.codex/config.toml` with one `[mcp_servers.<name>]` per server
//! (`enabled_tools` the allow-list, `disabled_tools` the denied tools, every tool's
//! `approval_mode`, `default_tools_approval_mode = "prompt"` for anything else), the model and the
//! instructions as `developer_instructions`.

use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::{Caps, File, Grant, Plan, Target, Transport, tools_with};

/// The Codex target.
pub struct Codex;

impl Target for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }
    fn caps(&self) -> Caps {
        Caps {
            stdio: true,
            env_secret: true,
        }
    }
    fn files(&self, plan: &Plan) -> Vec<File> {
        let strings = |v: &[String]| v.iter().map(String::as_str).collect::<Array>();
        let mut doc = DocumentMut::new();
        if let Some(m) = &plan.model {
            doc["model"] = value(m.as_str());
        }
        if let Some(text) = &plan.instructions {
            doc["developer_instructions"] = value(text.as_str());
        }
        let mut servers = Table::new();
        servers.set_implicit(true);
        for s in &plan.servers {
            let mut t = Table::new();
            match &s.transport {
                Transport::Http(url) => {
                    t["url"] = value(url.as_str());
                    if let Some(var) = &s.secret_env {
                        t["bearer_token_env_var"] = value(var.as_str());
                    }
                }
                Transport::Stdio(cmd) => {
                    t["command"] = value(cmd[0].as_str());
                    t["args"] = value(strings(&cmd[1..]));
                    if let Some(var) = &s.secret_env {
                        t["env_vars"] = value(strings(std::slice::from_ref(var)));
                    }
                }
            }
            let mut enabled = tools_with(s, Grant::Allow);
            enabled.extend(tools_with(s, Grant::Ask));
            enabled.sort();
            t["enabled_tools"] = value(strings(&enabled));
            let denied = tools_with(s, Grant::Deny);
            if !denied.is_empty() {
                t["disabled_tools"] = value(strings(&denied));
            }
            t["default_tools_approval_mode"] = value("prompt");
            let mut tools = Table::new();
            tools.set_implicit(true);
            for tool in s.tools.iter().filter(|t| t.grant != Grant::Deny) {
                let mut one = Table::new();
                one["approval_mode"] = value(match tool.grant {
                    Grant::Allow => "approve",
                    _ => "prompt",
                });
                tools[tool.name.as_str()] = Item::Table(one);
            }
            t["tools"] = Item::Table(tools);
            servers[s.name.as_str()] = Item::Table(t);
        }
        doc["mcp_servers"] = Item::Table(servers);
        vec![File {
            path: ".codex/config.toml".into(),
            text: format!("# {}\n{doc}", plan.provenance),
        }]
    }
}
