//! The OpenAI Responses API: `openai-responses.json`, the request fields to send with every call
//! (`model`, `instructions`, `metadata` with the provenance, and one `{"type": "mcp"}` tool per
//! server with `allowed_tools` and `require_approval`). The API has no deny-list: a denied tool
//! is left out of `allowed_tools`.

use serde_json::{Map, Value as Json, json};

use super::{Caps, File, Grant, Plan, Target, Transport, tools_with};

/// The OpenAI target.
pub struct OpenAi;

impl Target for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }
    fn caps(&self) -> Caps {
        Caps {
            stdio: false,
            env_secret: false,
        }
    }
    fn files(&self, plan: &Plan) -> Vec<File> {
        let mut tools = Vec::new();
        for s in &plan.servers {
            let Transport::Http(url) = &s.transport else {
                continue;
            };
            let (never, always) = (tools_with(s, Grant::Allow), tools_with(s, Grant::Ask));
            let mut allowed = never.clone();
            allowed.extend(always.iter().cloned());
            allowed.sort();
            let mut approval = Map::new();
            if !always.is_empty() {
                approval.insert("always".into(), json!({"tool_names": always}));
            }
            if !never.is_empty() {
                approval.insert("never".into(), json!({"tool_names": never}));
            }
            let require_approval = if approval.is_empty() {
                json!("always")
            } else {
                Json::Object(approval)
            };
            tools.push(json!({
                "type": "mcp",
                "server_label": s.name,
                "server_url": url,
                "allowed_tools": allowed,
                "require_approval": require_approval,
            }));
        }
        let mut request = json!({"metadata": {"opl": plan.provenance}, "tools": tools});
        if let Some(m) = &plan.model {
            request["model"] = Json::String(m.clone());
        }
        if let Some(text) = &plan.instructions {
            request["instructions"] = Json::String(text.clone());
        }
        vec![File {
            path: "openai-responses.json".into(),
            text: crate::output::json_text(&request),
        }]
    }
}
