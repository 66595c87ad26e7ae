//! `opl export`: one agent's rendered document as the configuration files of a runtime it runs in,
//! so that what opl validated is what the runtime enforces.
//!
//! The lowering is decided here, once, for every target: each tool the agent uses gets the
//! strictest level any rule can give it (`max` of the access report, spec section 10), then the
//! nearest form the target can express that is at least as strict. Whatever a target cannot
//! express is reported ([`Lowering`]); a deny it cannot express fails the export for that agent.
//! A target module only maps the resulting [`Plan`] to files: adding a runtime means one module
//! and one line in [`TARGETS`].

pub mod claude;
pub mod codex;
pub mod openai;

use serde::Serialize;
use serde_json::Value as Json;

use crate::policy::Level;
use crate::policy::access::AccessRow;

/// Every runtime opl exports to.
pub static TARGETS: &[&dyn Target] = &[&claude::Claude, &codex::Codex, &openai::OpenAi];

/// A runtime format: what it can express, and the files it reads.
pub trait Target: Sync {
    /// The name `--target` takes.
    fn name(&self) -> &'static str;
    /// What the target can express beyond an allow-list and a per-tool approval.
    fn caps(&self) -> Caps;
    /// The files of one agent (paths relative to the export folder), the provenance in each.
    fn files(&self, plan: &Plan) -> Vec<File>;
}

/// What a target can express.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// It can start an MCP server from a command (stdio).
    pub stdio: bool,
    /// It can name the environment variable that holds a server's secret.
    pub env_secret: bool,
}

/// The names `--target` accepts.
pub fn target_names() -> Vec<&'static str> {
    TARGETS.iter().map(|t| t.name()).collect()
}

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static dyn Target> {
    TARGETS.iter().copied().find(|t| t.name() == name)
}

/// One exported file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Relative to the export folder, `/`-separated.
    pub path: String,
    pub text: String,
}

/// What the runtime does with one call of a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grant {
    /// Runs without asking.
    Allow,
    /// Runs after a person approves it in the runtime.
    Ask,
    /// Never runs.
    Deny,
}

/// One tool of a server, with its grant.
#[derive(Clone, Debug)]
pub struct Tool {
    pub name: String,
    pub grant: Grant,
}

/// How the runtime reaches a server.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Streamable HTTP at a URL.
    Http(String),
    /// A command and its arguments (stdio).
    Stdio(Vec<String>),
}

/// One MCP server the agent uses, with the tools it uses.
#[derive(Clone, Debug)]
pub struct Server {
    /// The connection's name.
    pub name: String,
    pub transport: Transport,
    /// The environment variable that holds its secret (`secret_ref = "env:NAME"`), when the
    /// target can name one.
    pub secret_env: Option<String>,
    /// The tools the agent uses, by name.
    pub tools: Vec<Tool>,
}

/// Everything a target maps to files: the lowering is already done.
#[derive(Clone, Debug)]
pub struct Plan {
    pub agent: String,
    /// `opl export: agent=ID digest=sha256:... rev=REV`, written into every file.
    pub provenance: String,
    /// `model.name`.
    pub model: Option<String>,
    /// The rendered instructions (`instructions.prompt`).
    pub instructions: Option<String>,
    pub servers: Vec<Server>,
}

/// What an export could not say as opl says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoweringKind {
    /// A conditional rule became unconditional.
    Threshold,
    /// `notify` became an approval: the target has no notify.
    Notify,
    /// Who approves is not expressed: the runtime asks whoever runs the session.
    Approvers,
    /// A connection the target has no form for, or that the agent does not use: not exported,
    /// so its tools are not available in the runtime.
    NotExported,
    /// A secret reference the target cannot name: the credential is set up in the runtime.
    Secret,
    /// A setting the target has no field for.
    NotMapped,
}

/// One lowering, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Lowering {
    pub kind: LoweringKind,
    /// The action (`connection.tool`), connection or key it is about.
    pub subject: String,
    /// What opl says.
    pub from: String,
    /// What the export says instead.
    pub to: String,
}

/// The report of one agent's export, printed and written beside its files.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub agent: String,
    pub target: String,
    pub digest: String,
    pub revision: String,
    pub provenance: String,
    /// The files written (or compared), relative to the agent's folder.
    pub files: Vec<String>,
    pub lowered: Vec<Lowering>,
    /// Why nothing was written: a rule the target cannot express without loosening it.
    pub errors: Vec<String>,
}

/// The file the report is written to, beside the target's files.
pub const REPORT_FILE: &str = "opl-export.json";

/// The provenance text of one export.
pub fn provenance(agent: &str, digest: &str, rev: &str) -> String {
    format!("opl export: agent={agent} digest={digest} rev={rev}")
}

/// The revision recorded in an exported file's provenance, if it has one.
pub fn recorded_rev(text: &str) -> Option<&str> {
    let at = text.find("opl export: agent=")?;
    let rest = &text[at..];
    let start = rest.find(" rev=")? + " rev=".len();
    let len = rest[start..]
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len() - start);
    Some(&rest[start..start + len])
}

/// `text` (an export made at revision `now`) as it reads when made at revision `was`: the two
/// places a revision is written, the provenance and the report's `revision`.
pub fn with_rev(text: &str, now: &str, was: &str) -> String {
    text.replace(&format!(" rev={now}"), &format!(" rev={was}"))
        .replace(
            &format!("\"revision\": \"{now}\""),
            &format!("\"revision\": \"{was}\""),
        )
}

/// Lowers one agent for `target`: its rendered document `doc` (with `digest`, read at `rev`) and
/// its access rows. Returns the files (none when an error stops the export) and the report.
pub fn export(
    target: &dyn Target,
    doc: &Json,
    digest: &str,
    rev: &str,
    rows: &[AccessRow],
) -> (Vec<File>, Report) {
    let agent = doc["agent"]["id"].as_str().unwrap_or_default().to_string();
    let prov = provenance(&agent, digest, rev);
    let mut report = Report {
        agent: agent.clone(),
        target: target.name().to_string(),
        digest: digest.to_string(),
        revision: rev.to_string(),
        provenance: prov.clone(),
        files: Vec::new(),
        lowered: Vec::new(),
        errors: Vec::new(),
    };
    let caps = target.caps();
    let name = target.name();
    let mut servers = Vec::new();
    let empty = serde_json::Map::new();
    let conns = doc["connections"].as_object().unwrap_or(&empty);
    for (conn, c) in conns {
        let used: Vec<&AccessRow> = rows.iter().filter(|r| &r.connection == conn).collect();
        let kind = c["kind"].as_str().unwrap_or("mcp");
        let not_exported = |why: String, report: &mut Report| {
            report.lowered.push(Lowering {
                kind: LoweringKind::NotExported,
                subject: conn.clone(),
                from: format!("kind {kind}"),
                to: why,
            })
        };
        let tools_text = || {
            used.iter()
                .map(|r| r.action.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if used.is_empty() {
            not_exported("the agent uses none of its tools".into(), &mut report);
            continue;
        }
        let transport = match (kind, c["url"].as_str(), c["command"].as_array()) {
            ("mcp", _, Some(cmd)) if !cmd.is_empty() => {
                if !caps.stdio {
                    not_exported(
                        format!(
                            "{name} reaches servers by URL only; not available: {}",
                            tools_text()
                        ),
                        &mut report,
                    );
                    continue;
                }
                Transport::Stdio(
                    cmd.iter()
                        .filter_map(Json::as_str)
                        .map(String::from)
                        .collect(),
                )
            }
            ("mcp", Some(url), _) => Transport::Http(url.to_string()),
            _ => {
                not_exported(
                    format!(
                        "{name} runs MCP servers only; not available: {}",
                        tools_text()
                    ),
                    &mut report,
                );
                continue;
            }
        };
        let secret_env = match c["auth"]["secret_ref"].as_str() {
            Some(r) => match r.strip_prefix("env:") {
                Some(var) if caps.env_secret => Some(var.to_string()),
                Some(var) => {
                    report.lowered.push(Lowering {
                        kind: LoweringKind::Secret,
                        subject: conn.clone(),
                        from: r.to_string(),
                        to: format!(
                            "not written ({name} takes no variable name): the caller reads {var} and sends the credential"
                        ),
                    });
                    None
                }
                None => {
                    report.lowered.push(Lowering {
                        kind: LoweringKind::Secret,
                        subject: conn.clone(),
                        from: r.to_string(),
                        to: "not written (a vault reference is no variable name): set the credential up in the runtime".into(),
                    });
                    None
                }
            },
            None => None,
        };
        let mut tools = Vec::new();
        for r in &used {
            let tool = r.action[conn.len() + 1..].to_string();
            let grant = grant(r, name, &mut report);
            tools.push(Tool { name: tool, grant });
        }
        servers.push(Server {
            name: conn.clone(),
            transport,
            secret_env,
            tools,
        });
    }
    if let Some(p) = doc["model"]["provider"].as_str() {
        report.lowered.push(Lowering {
            kind: LoweringKind::NotMapped,
            subject: "model.provider".into(),
            from: p.to_string(),
            to: "not written: set the provider up in the runtime".into(),
        });
    }
    let plan = Plan {
        agent,
        provenance: prov,
        model: doc["model"]["name"].as_str().map(String::from),
        instructions: doc["instructions"]["prompt"].as_str().map(String::from),
        servers,
    };
    if !report.errors.is_empty() {
        return (Vec::new(), report);
    }
    let mut files = target.files(&plan);
    report.files = files.iter().map(|f| f.path.clone()).collect();
    report.files.push(REPORT_FILE.to_string());
    files.push(File {
        path: REPORT_FILE.to_string(),
        text: crate::output::json_text(&report),
    });
    (files, report)
}

/// The grant of one used tool: its strictest level, lowered to what targets express, with the
/// lowerings reported (and an error for a deny that depends on the call's arguments).
fn grant(r: &AccessRow, target: &str, report: &mut Report) -> Grant {
    if r.reason.is_some() {
        return Grant::Deny;
    }
    let g = match r.max {
        Level::Allow => Grant::Allow,
        Level::Notify | Level::Approval => Grant::Ask,
        Level::Deny if r.base == Level::Deny => Grant::Deny,
        Level::Deny => {
            report.errors.push(format!(
                "{}: {} cannot deny a call by its arguments ({}), and asking would be looser than deny",
                r.action,
                target,
                r.conditions_text()
            ));
            return Grant::Deny;
        }
    };
    for c in &r.conditions {
        report.lowered.push(Lowering {
            kind: LoweringKind::Threshold,
            subject: r.action.clone(),
            from: format!("{} if {} ({})", c.level, c.when, c.rule),
            to: "ask on every call".into(),
        });
    }
    if r.max == Level::Notify {
        report.lowered.push(Lowering {
            kind: LoweringKind::Notify,
            subject: r.action.clone(),
            from: "notify".into(),
            to: format!("ask on every call ({target} has no notify)"),
        });
    }
    if g == Grant::Ask && !r.approvers.is_empty() {
        report.lowered.push(Lowering {
            kind: LoweringKind::Approvers,
            subject: r.action.clone(),
            from: format!("approvers {}", r.approvers.join(", ")),
            to: "whoever runs the session approves".into(),
        });
    }
    g
}

/// The tools of `s` with grant `g`, by name.
pub fn tools_with(s: &Server, g: Grant) -> Vec<String> {
    s.tools
        .iter()
        .filter(|t| t.grant == g)
        .map(|t| t.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_revision_is_read_back_from_any_format() {
        let p = provenance("support-bot", "sha256:ab12", "0123abcd");
        for text in [
            format!("# {p}\nmodel = \"x\"\n"),
            format!("{{\"$comment\": \"{p}\"}}"),
            format!("<!-- {p} -->\n"),
        ] {
            assert_eq!(recorded_rev(&text), Some("0123abcd"));
        }
        assert_eq!(recorded_rev("no provenance here"), None);
    }
}
