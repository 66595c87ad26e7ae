//! Policy tests (spec section 10): `[[case]]` and `[[invariant]]` tables in `tests/**/*.toml`,
//! read with the same care as layer files (unknown keys, agents, clients and levels are findings
//! with a did-you-mean), then run against the decisions of one state.

use serde::Serialize;
use serde_json::Value as Json;

use super::{Decider, Level};
use crate::diagnostic::{Code, Finding, did_you_mean};
use crate::model::glob;
use crate::model::source::{LayerKind, SourceFile, Span, safe};
use crate::model::value::{Node, Table, Value, parse_file, to_json};
use crate::repo::layer::Repo;
use crate::repo::layout::{Place, classify};
use crate::repo::snapshot::{EntryKind, MAX_FILE_BYTES, Snapshot};

/// Which agents a test is about.
#[derive(Clone, Debug)]
pub enum Agents {
    One(String),
    Many(Vec<String>),
    Client(String),
    /// A glob over agent ids (invariants).
    Glob(String),
}

/// One `[[case]]`.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub span: Span,
    pub agents: Agents,
    pub action: String,
    pub args: Json,
    pub expect: Level,
    pub approvers: Option<Vec<String>>,
    pub rules: Vec<String>,
    /// Decide at this revision instead of the state under test.
    pub rev: Option<String>,
}

/// One `[[invariant]]`.
#[derive(Clone, Debug)]
pub struct Invariant {
    pub name: String,
    pub span: Span,
    pub agents: Agents,
    pub actions: String,
    pub args: Json,
    pub at_least: Option<Level>,
    pub at_most: Option<Level>,
}

/// The tests of a repository (their files are added to the repository's sources).
#[derive(Default)]
pub struct Suite {
    /// How many test files were read.
    pub files: usize,
    pub cases: Vec<Case>,
    pub invariants: Vec<Invariant>,
    /// What is wrong with the test files themselves.
    pub findings: Vec<Finding>,
}

/// The outcome of one check: a case, or one (agent, action) pair of an invariant.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// `case` or `invariant`.
    pub kind: &'static str,
    pub name: String,
    pub file: String,
    pub line: u32,
    pub agent: String,
    pub action: String,
    pub passed: bool,
    /// Why it failed, or what it checked.
    pub detail: String,
    /// What decided (rule ids and globs).
    pub decided_by: Vec<String>,
    pub missing_args: Vec<String>,
    /// The case or invariant, in the repository's sources.
    #[serde(skip)]
    pub span: Span,
}

/// Reads every `tests/**/*.toml` of a snapshot (or only `paths`) into the repository's sources.
pub fn load(snap: &dyn Snapshot, repo: &mut Repo, paths: &[String]) -> std::io::Result<Suite> {
    let mut suite = Suite::default();
    let mut files: Vec<String> = snap
        .entries()?
        .into_iter()
        .filter(|e| e.kind == EntryKind::File && classify(&e.path) == Place::Test)
        .map(|e| e.path)
        .filter(|p| paths.is_empty() || paths.iter().any(|q| q.trim_start_matches("./") == p))
        .collect();
    files.sort();
    for path in files {
        let text = String::from_utf8_lossy(&snap.read(&path, MAX_FILE_BYTES)?).into_owned();
        let fid = repo
            .sources
            .add(SourceFile::new(path.clone(), text.clone(), LayerKind::Test));
        suite.files += 1;
        let mut f = Vec::new();
        if let Some(table) = parse_file(fid, &text, &mut f) {
            read_file(&table, fid, repo, &mut suite, &mut f);
        }
        suite.findings.extend(f);
    }
    Ok(suite)
}

fn read_file(
    t: &Table,
    fid: crate::model::source::FileId,
    repo: &Repo,
    suite: &mut Suite,
    f: &mut Vec<Finding>,
) {
    for (k, n) in t {
        let items = match (k.as_str(), &n.value) {
            ("case" | "invariant", Value::Array(items)) => items,
            ("case" | "invariant", _) => {
                f.push(Finding::new(
                    Code::Type,
                    n.span,
                    format!("`{k}` must be an array of tables ([[{k}]])"),
                ));
                continue;
            }
            _ => {
                f.push(unknown(k, n, &["case", "invariant"], "a test file"));
                continue;
            }
        };
        for item in items {
            let Some(table) = item.value.as_table() else {
                f.push(Finding::new(
                    Code::Type,
                    item.span,
                    format!("every `{k}` must be a table"),
                ));
                continue;
            };
            let mut r = Reader {
                t: table,
                span: item.span,
                repo,
                f,
                what: k,
            };
            if k == "case" {
                if let Some(c) = r.case() {
                    suite.cases.push(c);
                }
            } else if let Some(i) = r.invariant() {
                suite.invariants.push(i);
            }
        }
    }
    let _ = fid;
}

fn unknown(k: &str, n: &Node, known: &[&str], within: &str) -> Finding {
    let mut fi = Finding::new(
        Code::UnknownKey,
        n.key_span,
        format!("unknown key `{}` in {within}", safe(k)),
    )
    .label("unknown key");
    fi = match did_you_mean(k, known.iter().copied()) {
        Some(m) => fi.help(format!("did you mean `{m}`?")),
        None => fi.help(format!("known keys: {}", known.join(", "))),
    };
    fi
}

struct Reader<'a> {
    t: &'a Table,
    span: Span,
    repo: &'a Repo,
    f: &'a mut Vec<Finding>,
    what: &'a str,
}

impl Reader<'_> {
    fn known(&mut self, keys: &[&str]) {
        for (k, n) in self.t {
            if !keys.contains(&k.as_str()) {
                let what = format!("a [[{}]]", self.what);
                self.f.push(unknown(k, n, keys, &what));
            }
        }
    }
    fn string(&mut self, k: &str, required: bool) -> Option<String> {
        match self.t.get(k) {
            Some(n) => match n.value.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    self.f.push(Finding::new(
                        Code::Type,
                        n.span,
                        format!("`{k}` must be a string"),
                    ));
                    None
                }
            },
            None if required => {
                self.f.push(Finding::new(
                    Code::Missing,
                    self.span,
                    format!("a [[{}]] needs `{k}`", self.what),
                ));
                None
            }
            None => None,
        }
    }
    fn strings(&mut self, k: &str) -> Option<Vec<String>> {
        let n = self.t.get(k)?;
        let list: Option<Vec<String>> = n.value.as_array().and_then(|a| {
            a.iter()
                .map(|e| e.value.as_str().map(String::from))
                .collect()
        });
        if list.is_none() {
            self.f.push(Finding::new(
                Code::Type,
                n.span,
                format!("`{k}` must be an array of strings"),
            ));
        }
        list
    }
    fn level(&mut self, k: &str, required: bool) -> Option<Level> {
        let n = self.t.get(k);
        let s = self.string(k, required)?;
        match Level::parse(&s) {
            Some(l) => Some(l),
            None => {
                let ladder = ["allow", "notify", "approval", "deny"];
                let mut fi = Finding::new(
                    Code::Type,
                    n.map_or(self.span, |n| n.span),
                    format!(
                        "`{k}` = `{}` is not one of allow | notify | approval | deny",
                        safe(&s)
                    ),
                );
                if let Some(m) = did_you_mean(&s, ladder) {
                    fi = fi.help(format!("did you mean `{m}`?"));
                }
                self.f.push(fi);
                None
            }
        }
    }
    fn agent(&mut self, id: &str, at: Span) -> bool {
        if self.repo.agent_ids.iter().any(|a| a == id) {
            return true;
        }
        let mut fi = Finding::new(
            Code::UnknownAgent,
            at,
            format!("no agent `{}` in this repository", safe(id)),
        );
        if let Some(m) = did_you_mean(id, self.repo.agent_ids.iter().map(String::as_str)) {
            fi = fi.help(format!("did you mean `{m}`?"));
        }
        self.f.push(fi);
        false
    }
    fn client(&mut self, c: &str, at: Span) -> bool {
        if self.repo.clients.contains_key(c) {
            return true;
        }
        let mut fi = Finding::new(
            Code::UnknownClient,
            at,
            format!("no client `{}` in this repository", safe(c)),
        );
        if let Some(m) = did_you_mean(c, self.repo.clients.keys().map(String::as_str)) {
            fi = fi.help(format!("did you mean `{m}`?"));
        }
        self.f.push(fi);
        false
    }
    fn args(&mut self) -> Json {
        match self.t.get("args") {
            Some(n) if n.value.as_table().is_some() => to_json(&n.value),
            Some(n) => {
                self.f
                    .push(Finding::new(Code::Type, n.span, "`args` must be a table"));
                Json::Object(Default::default())
            }
            None => Json::Object(Default::default()),
        }
    }
    fn span_of(&self, k: &str) -> Span {
        self.t.get(k).map_or(self.span, |n| n.span)
    }
    fn case(&mut self) -> Option<Case> {
        self.known(&[
            "name",
            "agent",
            "agents",
            "client",
            "action",
            "args",
            "expect",
            "approvers",
            "rules",
            "rev",
        ]);
        let errors = self.f.len();
        let name = self.string("name", true);
        let agents = if let Some(a) = self.string("agent", false) {
            let at = self.span_of("agent");
            self.agent(&a, at).then_some(Agents::One(a))
        } else if let Some(list) = self.strings("agents") {
            let at = self.span_of("agents");
            list.iter()
                .all(|a| self.agent(a, at))
                .then_some(Agents::Many(list))
        } else if let Some(c) = self.string("client", false) {
            let at = self.span_of("client");
            self.client(&c, at).then_some(Agents::Client(c))
        } else {
            self.f.push(Finding::new(
                Code::Missing,
                self.span,
                "a [[case]] needs `agent`, `agents` or `client`",
            ));
            None
        };
        let action = self.string("action", true);
        let expect = self.level("expect", true);
        let approvers = self.strings("approvers");
        let rules = self.strings("rules").unwrap_or_default();
        let rev = self.string("rev", false);
        let args = self.args();
        if self.f.len() > errors {
            return None;
        }
        Some(Case {
            name: name?,
            span: self.span,
            agents: agents?,
            action: action?,
            args,
            expect: expect?,
            approvers,
            rules,
            rev,
        })
    }
    fn invariant(&mut self) -> Option<Invariant> {
        self.known(&[
            "name", "agents", "client", "actions", "args", "at_least", "at_most",
        ]);
        let errors = self.f.len();
        let name = self.string("name", true);
        let agents = match (self.string("agents", false), self.string("client", false)) {
            (Some(g), None) => Some(Agents::Glob(g)),
            (None, Some(c)) => {
                let at = self.span_of("client");
                self.client(&c, at).then_some(Agents::Client(c))
            }
            (None, None) => Some(Agents::Glob("*".into())),
            (Some(_), Some(_)) => {
                self.f.push(Finding::new(
                    Code::Type,
                    self.span,
                    "an [[invariant]] takes `agents` or `client`, not both",
                ));
                None
            }
        };
        let actions = self.string("actions", true);
        let at_least = self.level("at_least", false);
        let at_most = self.level("at_most", false);
        if !self.t.contains_key("at_least") && !self.t.contains_key("at_most") {
            self.f.push(Finding::new(
                Code::Missing,
                self.span,
                "an [[invariant]] needs `at_least` or `at_most`",
            ));
        }
        let args = self.args();
        if self.f.len() > errors {
            return None;
        }
        Some(Invariant {
            name: name?,
            span: self.span,
            agents: agents?,
            actions: actions?,
            args,
            at_least,
            at_most,
        })
    }
}

/// The agents a test selects.
fn select(repo: &Repo, agents: &Agents) -> Vec<String> {
    let all = repo.agents.keys();
    match agents {
        Agents::One(a) => vec![a.clone()],
        Agents::Many(list) => list.clone(),
        Agents::Glob(g) => all.filter(|a| glob::matches(g, a)).cloned().collect(),
        Agents::Client(c) => all
            .filter(|a| {
                repo.agents
                    .get(*a)
                    .and_then(|l| crate::repo::layout::client_of(&l.table))
                    == Some(c.as_str())
            })
            .cloned()
            .collect(),
    }
}

/// Runs every case and invariant: one outcome per case and agent, one per (agent, action) of an
/// invariant; an invariant that checks nothing passes and says so.
///
/// A case with its own `rev` is decided on the state `at_rev` loads for it (once per revision).
pub fn run(
    repo: &Repo,
    suite: &Suite,
    at_rev: &dyn Fn(&str) -> Result<Repo, String>,
) -> Vec<Outcome> {
    let decider = Decider::new(repo);
    let mut revs: Vec<&str> = suite
        .cases
        .iter()
        .filter_map(|c| c.rev.as_deref())
        .collect();
    revs.sort();
    revs.dedup();
    let loaded: std::collections::BTreeMap<&str, Result<Repo, String>> =
        revs.into_iter().map(|r| (r, at_rev(r))).collect();
    let deciders: std::collections::BTreeMap<&str, (&Repo, Decider)> = loaded
        .iter()
        .filter_map(|(r, l)| l.as_ref().ok().map(|repo| (*r, (repo, Decider::new(repo)))))
        .collect();
    let mut out = Vec::new();
    let place = |span: Span| repo.sources.locate(span);
    let sources_of = |d: &super::Decision| -> Vec<String> {
        d.sources
            .iter()
            .map(|s| {
                s.id.clone()
                    .or(s.glob.clone())
                    .unwrap_or_else(|| s.kind.as_str().to_string())
            })
            .collect()
    };
    for c in &suite.cases {
        let at = place(c.span);
        let (state, decider) = match c.rev.as_deref() {
            None => (repo, &decider),
            Some(r) => match (deciders.get(r), loaded.get(r)) {
                (Some((state, d)), _) => (*state, d),
                (None, Some(Err(why))) => {
                    out.push(Outcome {
                        kind: "case",
                        name: c.name.clone(),
                        file: at.file.clone(),
                        line: at.line,
                        agent: String::new(),
                        action: c.action.clone(),
                        passed: false,
                        detail: format!("cannot decide at {}: {why}", safe(r)),
                        decided_by: Vec::new(),
                        missing_args: Vec::new(),
                        span: c.span,
                    });
                    continue;
                }
                _ => continue,
            },
        };
        for agent in select(state, &c.agents) {
            let Some(d) = decider.decide(&agent, &c.action, &c.args) else {
                continue;
            };
            let mut why = Vec::new();
            if d.decision != c.expect {
                why.push(format!("expected {}, got {}", c.expect, d.decision));
            }
            if let Some(want) = &c.approvers {
                let (mut a, mut b) = (want.clone(), d.approvers.clone());
                a.sort();
                b.sort();
                if a != b {
                    why.push(format!(
                        "expected approvers [{}], got [{}]",
                        want.join(", "),
                        d.approvers.join(", ")
                    ));
                }
            }
            let deciding = sources_of(&d);
            for r in &c.rules {
                if !deciding.contains(r) {
                    why.push(format!("rule `{r}` did not decide"));
                }
            }
            out.push(Outcome {
                kind: "case",
                name: c.name.clone(),
                file: at.file.clone(),
                line: at.line,
                agent,
                action: c.action.clone(),
                passed: why.is_empty(),
                detail: if why.is_empty() {
                    format!("{}", d.decision)
                } else {
                    why.join("; ")
                },
                decided_by: deciding,
                missing_args: d.missing_args.clone(),
                span: c.span,
            });
        }
    }
    for inv in &suite.invariants {
        let at = place(inv.span);
        let stacks = crate::merge::stack::Stacks::new(repo);
        let mut checked = 0;
        for agent in select(repo, &inv.agents) {
            let Some(a) = stacks.agent(&agent) else {
                continue;
            };
            let mut actions: Vec<String> = crate::render::action_nodes(&a.eff)
                .into_iter()
                .map(|(x, _)| x)
                .filter(|x| glob::matches(&inv.actions, x))
                .collect();
            actions.sort();
            actions.dedup();
            for action in actions {
                checked += 1;
                let d = super::decide_for(repo, &a, &action, &inv.args);
                let low = inv.at_least.is_some_and(|l| d.decision < l);
                let high = inv.at_most.is_some_and(|l| d.decision > l);
                if low || high {
                    let bound = if low {
                        format!("at least {}", inv.at_least.expect("low"))
                    } else {
                        format!("at most {}", inv.at_most.expect("high"))
                    };
                    out.push(Outcome {
                        kind: "invariant",
                        name: inv.name.clone(),
                        file: at.file.clone(),
                        line: at.line,
                        agent: agent.clone(),
                        action,
                        passed: false,
                        detail: format!("expected {bound}, got {}", d.decision),
                        decided_by: sources_of(&d),
                        missing_args: d.missing_args.clone(),
                        span: inv.span,
                    });
                }
            }
        }
        if !out
            .iter()
            .any(|o| o.kind == "invariant" && o.name == inv.name && !o.passed)
        {
            out.push(Outcome {
                kind: "invariant",
                name: inv.name.clone(),
                file: at.file.clone(),
                line: at.line,
                agent: String::new(),
                action: inv.actions.clone(),
                passed: true,
                detail: if checked == 0 {
                    format!(
                        "no action of the selected agents matches `{}`: nothing to check",
                        inv.actions
                    )
                } else {
                    format!("holds for {checked} (agent, action) pairs")
                },
                decided_by: Vec::new(),
                missing_args: Vec::new(),
                span: inv.span,
            });
        }
    }
    out
}

/// Every failing outcome as a `test-failed` finding at its case or invariant.
pub fn failures(outcomes: &[Outcome]) -> Vec<Finding> {
    outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| {
            let what = if o.agent.is_empty() {
                safe(&o.name)
            } else {
                format!("{} ({} {})", safe(&o.name), safe(&o.agent), safe(&o.action))
            };
            let by = if o.decided_by.is_empty() {
                "none".to_string()
            } else {
                o.decided_by.join(", ")
            };
            Finding::new(
                Code::TestFailed,
                o.span,
                format!("policy test {what}: {} (decided by: {by})", safe(&o.detail)),
            )
            .label("fails")
        })
        .collect()
}
