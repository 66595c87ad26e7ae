//! Schema checks of one layer file, before any merging.
//!
//! Everything that can be known from one file alone is checked here, once per file however many
//! agents inherit it: unknown keys (with a did-you-mean), types, enum values, keys a layer may not
//! set, repeated ids inside one array, fragments with both or neither of `file` and `text`,
//! approval rules without approvers, plaintext secrets. The result is a clean table holding only
//! what passed, so merging never sees an ill-typed value.

use crate::diagnostic::{Code, Finding, did_you_mean};
use crate::model::key_path::{At, KeyPath};
use crate::model::schema::{self, COMPARATORS, Field, Shape, Ty, keys};
use crate::model::source::{FileId, LayerKind, Span, safe};
use crate::model::value::{Node, Table, Value};

/// Per-layer metadata from `[meta]`.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub owner: Option<(String, Span)>,
    pub description: Option<String>,
    pub locks: Vec<(KeyPath, Span)>,
}

/// A fragment `file` reference, resolved against the root.
#[derive(Clone, Debug)]
pub struct FragmentRef {
    /// Root-relative path.
    pub path: String,
    pub span: Span,
}

/// The checked content of one layer file.
#[derive(Clone, Debug)]
pub struct CheckedFile {
    pub file: FileId,
    /// The clean table, shared with [`crate::repo::layer::Layer::table`] (and with the parse
    /// memo of a walk, which hands the same file to many loads).
    pub table: std::sync::Arc<Table>,
    pub meta: Meta,
    pub fragments: Vec<FragmentRef>,
}

struct Cx<'a> {
    layer: &'a LayerKind,
    dir: &'a str,
    findings: &'a mut Vec<Finding>,
    fragments: Vec<FragmentRef>,
}

/// Checks one parsed layer file located at root-relative `path`.
pub fn check_file(
    file: FileId,
    path: &str,
    layer: &LayerKind,
    table: Table,
    findings: &mut Vec<Finding>,
) -> CheckedFile {
    scan_secrets(&table, "", findings);
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut cx = Cx {
        layer,
        dir,
        findings,
        fragments: Vec::new(),
    };
    let mut table = table;
    let meta = table
        .remove("meta")
        .map(|m| check_meta(&m, cx.findings))
        .unwrap_or_default();
    let clean = check_fields(schema::top(), table, &At::Root, &mut cx);
    CheckedFile {
        file,
        table: std::sync::Arc::new(clean),
        meta,
        fragments: cx.fragments,
    }
}

/// Adds a `plaintext-secret` finding for every string that looks like a credential.
pub fn scan_secrets(table: &Table, _parent: &str, findings: &mut Vec<Finding>) {
    for (k, node) in table {
        scan_entry(k, node, findings);
    }
}

fn scan_node(key: &str, node: &Node, findings: &mut Vec<Finding>) {
    match &node.value {
        Value::String(s) => {
            if let Some(why) = crate::check::secret::detect(key, s) {
                findings.push(
                    Finding::new(Code::PlaintextSecret, node.span, format!("`{}` holds what looks like {why}: {}", safe(key), crate::check::secret::redact(s)))
                        .label("plaintext secret")
                        .help("store the secret in a vault and reference it: secret_ref = \"vault://...\" or \"env:NAME\""),
                );
            }
        }
        Value::Array(a) => a.iter().for_each(|n| scan_node(key, n, findings)),
        Value::Table(t) => t.iter().for_each(|(k, n)| scan_entry(k, n, findings)),
        _ => {}
    }
}

/// A table entry: its key name, then its value.
fn scan_entry(key: &str, node: &Node, findings: &mut Vec<Finding>) {
    scan_node(key, node, findings);
    if let Some((_, why)) = crate::check::secret::locate(key) {
        findings.push(
            Finding::new(
                Code::PlaintextSecret,
                node.key_span,
                format!(
                    "a key name holds what looks like {why}: {}",
                    crate::check::secret::redact(key)
                ),
            )
            .label("plaintext secret")
            .help(
                "a key name is never secret: rename the key and reference the secret from a vault",
            ),
        );
    }
}

fn check_meta(node: &Node, findings: &mut Vec<Finding>) -> Meta {
    let mut meta = Meta::default();
    let Some(t) = node.value.as_table() else {
        findings.push(type_error("meta", node, "a table"));
        return meta;
    };
    for (k, n) in t {
        match (k.as_str(), &n.value) {
            ("owner", Value::String(s)) => meta.owner = Some((s.clone(), n.span)),
            ("description", Value::String(s)) => meta.description = Some(s.clone()),
            ("lock", Value::Array(items)) => {
                for item in items {
                    let Some(s) = item.value.as_str() else {
                        findings.push(type_error("meta.lock", item, "a key path string"));
                        continue;
                    };
                    match KeyPath::parse(s) {
                        Ok(p)
                            if p.0.first()
                                == Some(&crate::model::key_path::Segment::Key("meta".into())) =>
                        {
                            findings.push(
                                Finding::new(
                                    Code::Type,
                                    item.span,
                                    "`meta` is per-layer and cannot be locked",
                                )
                                .label("here"),
                            );
                        }
                        Ok(p) if schema::lookup(p.keys()).is_none() => {
                            findings.push(
                                Finding::new(
                                    Code::UnknownKey,
                                    item.span,
                                    format!("lock names `{p}`, which the schema does not know"),
                                )
                                .label("unknown key path"),
                            );
                        }
                        Ok(p) => meta.locks.push((p, item.span)),
                        Err(e) => findings.push(
                            Finding::new(Code::Type, item.span, format!("not a key path: {e}"))
                                .label("here"),
                        ),
                    }
                }
            }
            ("owner" | "description", _) => {
                findings.push(type_error(&format!("meta.{k}"), n, "a string"))
            }
            ("lock", _) => findings.push(type_error("meta.lock", n, "an array of key paths")),
            _ => findings.push(unknown_key(k, n, &["owner", "description", "lock"], "meta")),
        }
    }
    meta
}

fn unknown_key(k: &str, n: &Node, known: &[&str], within: &str) -> Finding {
    let mut f = Finding::new(
        Code::UnknownKey,
        n.key_span,
        if within.is_empty() {
            format!("unknown key `{}`", safe(k))
        } else {
            format!("unknown key `{}` in `{within}`", safe(k))
        },
    )
    .label("unknown key");
    if let Some(s) = did_you_mean(k, known.iter().copied()) {
        f = f.help(format!("did you mean `{s}`?"));
    } else {
        f = f.help(format!("known keys here: {}", known.join(", ")));
    }
    f
}

/// A `type` finding: the key, what it must be and what it is.
fn type_error(what: &str, n: &Node, expected: &str) -> Finding {
    Finding::new(
        Code::Type,
        n.span,
        format!(
            "`{what}` must be {expected}, found {}",
            n.value.kind().article_name()
        ),
    )
    .label(format!("should be {expected}"))
}

fn check_fields(fields: &[Field], table: Table, path: &At, cx: &mut Cx) -> Table {
    let mut out = Table::with_capacity(table.len());
    for (k, node) in table {
        if k == "id" && path.is(keys::AGENT) {
            cx.findings.push(
                Finding::new(
                    Code::MisplacedKey,
                    node.key_span,
                    "`agent.id` is derived from the file or folder name and cannot be set",
                )
                .label("remove this"),
            );
            continue;
        }
        let Some(field) = schema::find(fields, &k) else {
            let known: Vec<&str> = fields
                .iter()
                .map(|f| f.name)
                .filter(|n| *n != "meta")
                .collect();
            cx.findings
                .push(unknown_key(&k, &node, &known, &path.to_string()));
            continue;
        };
        if matches!(path, At::Root) && k == "agent" && !matches!(cx.layer, LayerKind::Agent(_)) {
            cx.findings.push(
                Finding::new(
                    Code::MisplacedKey,
                    node.key_span,
                    format!(
                        "`[agent]` may only be set in an agent's own layer, not in the {} layer",
                        cx.layer.label()
                    ),
                )
                .label("agent-only key")
                .help("move these keys to agents/<agent>.toml"),
            );
            continue;
        }
        let here = At::Key(path, &k);
        if let Some(n) = check_field(field, node, &here, cx) {
            out.insert(k, n);
        }
    }
    out
}

/// Splits a node into its table and spans, or reports a type error.
fn expect_table(node: Node, path: &At, cx: &mut Cx) -> Option<(Table, Span, Span)> {
    match node.value {
        Value::Table(t) => Some((t, node.key_span, node.span)),
        _ => {
            cx.findings
                .push(type_error(&path.to_string(), &node, "a table"));
            None
        }
    }
}

fn check_field(field: &Field, node: Node, path: &At, cx: &mut Cx) -> Option<Node> {
    match &field.shape {
        Shape::Leaf(ty) => check_leaf(*ty, &node, path, cx.findings).then_some(node),
        Shape::Free => Some(node),
        Shape::Struct(fields) => {
            let (t, key_span, span) = expect_table(node, path, cx)?;
            Some(Node {
                value: Value::Table(check_fields(fields, t, path, cx)),
                key_span,
                span,
            })
        }
        Shape::Map(inner) => {
            let (t, key_span, span) = expect_table(node, path, cx)?;
            let mut out = Table::with_capacity(t.len());
            for (k, n) in t {
                let here = At::Key(path, &k);
                if let Some(c) = check_field(inner, n, &here, cx) {
                    out.insert(k, c);
                }
            }
            Some(Node {
                value: Value::Table(out),
                key_span,
                span,
            })
        }
        Shape::TableArray(fields) | Shape::IdArray(fields) => {
            let id_keyed = matches!(field.shape, Shape::IdArray(_));
            let (items, key_span, span) = match node.value {
                Value::Array(a) => (a, node.key_span, node.span),
                _ => {
                    cx.findings
                        .push(type_error(&path.to_string(), &node, "an array of tables"));
                    return None;
                }
            };
            let is_fragments = path.is(keys::INSTRUCTIONS_FRAGMENTS);
            let is_rules = path.is(keys::POLICY_APPROVALS_RULES);
            let mut out = Vec::new();
            let mut seen: Vec<(String, Span)> = Vec::new();
            for item in items {
                let (item_key_span, item_span) = (item.key_span, item.span);
                let Some((t, _, _)) = expect_table(item, path, cx) else {
                    continue;
                };
                let id = if id_keyed {
                    match t.get("id").map(|n| (&n.value, n.span)) {
                        Some((Value::String(s), span)) => {
                            if let Some((_, first)) = seen.iter().find(|(i, _)| i == s) {
                                cx.findings.push(
                                    Finding::new(
                                        Code::DuplicateId,
                                        span,
                                        format!("id `{}` appears twice in `{path}`", safe(s)),
                                    )
                                    .label("repeated id")
                                    .related(*first, "first defined here"),
                                );
                                continue;
                            }
                            seen.push((s.clone(), span));
                            Some(s.clone())
                        }
                        Some(_) => {
                            cx.findings.push(type_error(
                                &format!("{path}.id"),
                                &t["id"],
                                "a string id",
                            ));
                            continue;
                        }
                        None => {
                            cx.findings.push(
                                Finding::new(
                                    Code::Missing,
                                    item_span,
                                    format!("every element of `{path}` needs an `id`"),
                                )
                                .label("no id"),
                            );
                            continue;
                        }
                    }
                } else {
                    None
                };
                let elem_path = match &id {
                    Some(i) => At::Id(path, i),
                    None => *path,
                };
                let mut clean = check_fields(fields, t, &elem_path, cx);
                let ok = if is_fragments {
                    check_fragment(&mut clean, item_span, cx)
                } else if is_rules {
                    check_rule(&clean, item_span, cx.findings)
                } else {
                    true
                };
                if ok {
                    out.push(Node {
                        value: Value::Table(clean),
                        key_span: item_key_span,
                        span: item_span,
                    });
                }
            }
            Some(Node {
                value: Value::Array(out),
                key_span,
                span,
            })
        }
    }
}

fn check_leaf(ty: Ty, node: &Node, path: &At, findings: &mut Vec<Finding>) -> bool {
    let v = &node.value;
    let ok = match ty {
        Ty::Str => v.as_str().is_some(),
        Ty::Bool => matches!(v, Value::Boolean(_)),
        Ty::Count => match v {
            Value::Integer(i) if *i >= 0 => true,
            Value::Integer(_) => {
                findings.push(
                    Finding::new(
                        Code::Type,
                        node.span,
                        format!(
                            "`{path}` must be a non-negative integer, found {}",
                            v.short()
                        ),
                    )
                    .label("negative"),
                );
                return false;
            }
            _ => false,
        },
        Ty::Number => match v.as_f64() {
            Some(x) if x >= 0.0 => true,
            Some(_) => {
                findings.push(
                    Finding::new(
                        Code::Type,
                        node.span,
                        format!(
                            "`{path}` must be a non-negative number, found {}",
                            v.short()
                        ),
                    )
                    .label("negative"),
                );
                return false;
            }
            None => false,
        },
        Ty::Scalar => matches!(
            v,
            Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_)
        ),
        Ty::Strings => {
            let Some(items) = v.as_array() else {
                findings.push(type_error(&path.to_string(), node, "an array of strings"));
                return false;
            };
            let mut ok = true;
            for i in items.iter().filter(|i| i.value.as_str().is_none()) {
                findings.push(
                    Finding::new(
                        Code::Type,
                        i.span,
                        format!(
                            "every element of `{path}` must be a string, found {}",
                            i.value.kind().article_name()
                        ),
                    )
                    .label("should be a string"),
                );
                ok = false;
            }
            return ok;
        }
        Ty::Enum(vals) => match v.as_str() {
            Some(s) if vals.contains(&s) => true,
            Some(s) => {
                let mut f = Finding::new(
                    Code::Type,
                    node.span,
                    format!(
                        "`{path}` = `{}` is not one of {}",
                        safe(s),
                        vals.join(" | ")
                    ),
                )
                .label("unknown value");
                if let Some(m) = did_you_mean(s, vals.iter().copied()) {
                    f = f.help(format!("did you mean `{m}`?"));
                }
                findings.push(f);
                return false;
            }
            None => false,
        },
    };
    if !ok {
        let expected = match ty {
            Ty::Str | Ty::Enum(_) => "a string",
            Ty::Bool => "a boolean",
            Ty::Count => "a non-negative integer",
            Ty::Number => "a number",
            Ty::Scalar => "a string, number or boolean",
            Ty::Strings => "an array of strings",
        };
        findings.push(type_error(&path.to_string(), node, expected));
    }
    ok
}

/// Exactly one of `file` and `text`; `file` resolved against the TOML file's directory.
fn check_fragment(t: &mut Table, item: Span, cx: &mut Cx) -> bool {
    match (t.get("file").is_some(), t.get("text").is_some()) {
        (true, true) | (false, false) => {
            cx.findings.push(
                Finding::new(
                    Code::Type,
                    item,
                    "a fragment needs exactly one of `file` and `text`",
                )
                .label("fragment")
                .help("give `file = \"x.md\"` or `text = \"...\"`"),
            );
            return false;
        }
        (false, true) => return true,
        (true, false) => {}
    }
    let node = t.get_mut("file").expect("checked above");
    let rel = node.value.as_str().unwrap_or_default().to_string();
    match resolve(cx.dir, &rel) {
        Ok(path) => {
            cx.fragments.push(FragmentRef {
                path: path.clone(),
                span: node.span,
            });
            node.value = Value::String(path);
            true
        }
        Err(why) => {
            cx.findings.push(
                Finding::new(
                    Code::FileRef,
                    node.span,
                    format!("fragment file `{}` {why}", safe(&rel)),
                )
                .label("bad path"),
            );
            false
        }
    }
}

/// Joins a relative path to a root-relative directory, refusing absolute paths and escapes.
pub fn resolve(dir: &str, rel: &str) -> Result<String, &'static str> {
    if rel.is_empty() {
        return Err("is empty");
    }
    if rel.starts_with('/')
        || rel.starts_with('\\')
        || rel.contains(':') && rel.chars().nth(1) == Some(':')
    {
        return Err("is an absolute path: give it relative to the TOML file that names it");
    }
    if rel.contains('\\') || rel.contains('\0') {
        return Err("contains a backslash or NUL: use `/` separators");
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("leaves the config root");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err("names the config root itself");
    }
    Ok(parts.join("/"))
}

fn check_rule(t: &Table, item: Span, findings: &mut Vec<Finding>) -> bool {
    let mut ok = true;
    if t.get("require").and_then(|n| n.value.as_str()) == Some("approval") {
        let empty = t
            .get("approvers")
            .and_then(|n| n.value.as_array())
            .is_none_or(|a| a.is_empty());
        if empty {
            findings.push(
                Finding::new(
                    Code::NoApprovers,
                    t["require"].span,
                    "this rule requires approval but names no approver",
                )
                .label("require = \"approval\"")
                .help("add approvers = [\"role:...\"]"),
            );
        }
    }
    if t.get("require").is_none() {
        findings.push(
            Finding::new(
                Code::Missing,
                item,
                "an approval rule needs `require` (allow | notify | approval | deny)",
            )
            .label("rule"),
        );
        ok = false;
    }
    if t.get("action").is_none() {
        findings.push(
            Finding::new(
                Code::Missing,
                item,
                "an approval rule needs `action` (a glob over actions)",
            )
            .label("rule"),
        );
        ok = false;
    }
    if let Some(w) = t.get("when") {
        let wt = w.value.as_table().expect("checked as a table");
        let n = COMPARATORS.iter().filter(|c| wt.contains_key(c)).count();
        if n != 1 || !wt.contains_key("arg") {
            findings.push(
                Finding::new(
                    Code::Type,
                    w.span,
                    "`when` needs `arg` and exactly one of gt | gte | lt | lte | eq",
                )
                .label("condition")
                .help("for example when = { arg = \"amount\", gt = 1000 }"),
            );
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::parse_file;

    fn check(layer: LayerKind, text: &str) -> (CheckedFile, Vec<&'static str>) {
        let mut f = Vec::new();
        let t = parse_file(FileId(0), text, &mut f).unwrap();
        let c = check_file(FileId(0), "clients/acme/client.toml", &layer, t, &mut f);
        (c, f.iter().map(|f| f.code.as_str()).collect())
    }

    #[test]
    fn unknown_keys_get_did_you_mean() {
        let mut f = Vec::new();
        let t = parse_file(FileId(0), "[model]\nprovdier = \"x\"\n", &mut f).unwrap();
        check_file(FileId(0), "global/a.toml", &LayerKind::Global, t, &mut f);
        assert_eq!(f[0].code.as_str(), "unknown-key");
        assert_eq!(f[0].help.as_deref(), Some("did you mean `provider`?"));
    }

    #[test]
    fn agent_keys_only_in_agent_layers() {
        let (_, codes) = check(LayerKind::Global, "[agent]\npurpose = \"x\"\n");
        assert_eq!(codes, ["misplaced-key"]);
        let (_, codes) = check(
            LayerKind::Agent("a".into()),
            "[agent]\npurpose = \"x\"\nid = \"b\"\n",
        );
        assert_eq!(codes, ["misplaced-key"]);
    }

    #[test]
    fn types_and_enums() {
        let (c, codes) = check(
            LayerKind::Global,
            "[model]\nprovider = 3\n[connections.z]\nkind = \"mpc\"\nsystem = \"Z\"\n",
        );
        assert_eq!(codes, ["type", "type"]);
        assert!(c.table["model"].value.as_table().unwrap().is_empty());
    }

    /// Findings name the key path they are about, down through id-keyed elements, tables of a
    /// map and arrays of tables, quoted where a key needs it.
    #[test]
    fn findings_name_their_key_path() {
        let text = concat!(
            "[escalation]\ndefault_target = \"x\"\n",
            "[[escalation.triggers]]\nid = \"late.night\"\non = \"a\"\n",
            "[[escalation.triggers]]\nid = \"late.night\"\n",
            "[[escalation.triggers]]\non = [\"b\"]\n",
            "[escalation.contacts.\"on call\"]\nbogus = 1\n",
            "[[model.fallbacks]]\nname = 7\n",
        );
        let mut f = Vec::new();
        let t = parse_file(FileId(0), text, &mut f).unwrap();
        check_file(FileId(0), "global/a.toml", &LayerKind::Global, t, &mut f);
        let messages: Vec<String> = f
            .iter()
            .map(|f| format!("{}: {}", f.code.as_str(), f.message))
            .collect();
        let has = |code: &str, text: &str| {
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with(code) && m.contains(text)),
                "{code} {text}: {messages:#?}"
            )
        };
        has("type", "`escalation.triggers[id=late.night].on` must be");
        has(
            "duplicate-id",
            "`late.night` appears twice in `escalation.triggers`",
        );
        has(
            "missing",
            "every element of `escalation.triggers` needs an `id`",
        );
        has("unknown-key", "escalation.contacts.\"on call\"");
        has("type", "`model.fallbacks.name` must be");
        assert_eq!(messages.len(), 5, "{messages:#?}");
    }

    #[test]
    fn fragments_resolve_relative_to_their_file() {
        let (c, codes) = check(
            LayerKind::Global,
            "[instructions]\nfragments = [{ id = \"a\", file = \"../../global/s.md\" }, { id = \"b\", text = \"t\", file = \"x\" }]\n",
        );
        assert_eq!(codes, ["type"]);
        assert_eq!(c.fragments[0].path, "global/s.md");
        let (_, codes) = check(
            LayerKind::Global,
            "[instructions]\nfragments = [{ id = \"a\", file = \"../../../etc/passwd\" }]\n",
        );
        assert_eq!(codes, ["file-ref"]);
    }

    #[test]
    fn resolve_refuses_escapes() {
        assert_eq!(
            resolve("clients/acme", "tone.md").unwrap(),
            "clients/acme/tone.md"
        );
        assert!(resolve("global", "/etc/passwd").is_err());
        assert!(resolve("global", "../../x").is_err());
        assert_eq!(resolve("global", "./a/../b.md").unwrap(), "global/b.md");
    }

    #[test]
    fn rules_need_approvers_and_a_single_comparator() {
        let (_, codes) = check(
            LayerKind::Global,
            "[policy.approvals]\nrules = [{ id = \"r\", action = \"*.x\", require = \"approval\" }, { id = \"s\", action = \"*\", require = \"deny\", when = { arg = \"a\", gt = 1, lt = 2 } }]\n",
        );
        assert_eq!(codes, ["no-approvers", "type"]);
    }

    #[test]
    fn secrets_are_found_and_redacted() {
        let mut f = Vec::new();
        let t = parse_file(
            FileId(0),
            "[metadata]\nnote = \"sk-abcdefghijklmnopqrstuvwxyz\"\n",
            &mut f,
        )
        .unwrap();
        check_file(FileId(0), "global/a.toml", &LayerKind::Global, t, &mut f);
        assert_eq!(f[0].code.as_str(), "plaintext-secret");
        assert!(!f[0].message.contains("ghijklmnop"));
    }
}
