//! The v1 schema: every key a layer file may set, its type and its merge class.
//!
//! This definition is the single source of the key set. The JSON Schema files in `schemas/` are
//! generated from it (`opl schema layer|effective`), and a test proves the committed files agree.

use serde_json::{Map, Value as Json, json};

pub use crate::model::class::Class;

/// When a change of a value between two revisions widens what an agent may do, for the keys
/// whose merge class does not say it: settings that grant (memory scopes, actions) and the
/// fields of approval rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loosens {
    /// As the merge class says ([`Class::widening`]).
    ByClass,
    /// A list whose new elements grant more (the text names what they are).
    WhenAdded(&'static str),
    /// A number whose increase grants more (retention in days).
    WhenRaised(&'static str),
    /// A level of the approval ladder (`require`): lower is looser.
    WhenLowered,
    /// A rule's lower bound (`gt`, `gte`): raised, the rule applies less often.
    BoundRaised,
    /// A rule's upper bound (`lt`, `lte`): lowered, the rule applies less often.
    BoundLowered,
    /// The field that makes a rule (`action`): removed, the rule is gone.
    WhenRemoved,
}

/// The type of a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Str,
    /// A non-negative integer.
    Count,
    /// A non-negative number.
    Number,
    Bool,
    Enum(&'static [&'static str]),
    /// An array of strings.
    Strings,
    /// A string, number or boolean.
    Scalar,
}

/// The shape of a key's value.
#[derive(Debug)]
pub enum Shape {
    /// A table with fixed keys.
    Struct(&'static [Field]),
    /// A table keyed by user-chosen names; each value as the field describes.
    Map(&'static Field),
    Leaf(Ty),
    /// An array of tables keyed by their `id` field.
    IdArray(&'static [Field]),
    /// An array of tables without ids, taken whole.
    TableArray(&'static [Field]),
    /// Anything (`[metadata]`).
    Free,
}

/// One key of the schema.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    pub class: Class,
    /// Must be present in every agent's effective config.
    pub required: bool,
    pub doc: &'static str,
    /// When a change of its value widens what an agent may do.
    pub loosens: Loosens,
}

impl Field {
    /// The field with a widening rule of its own.
    const fn loosens(mut self, loosens: Loosens) -> Self {
        self.loosens = loosens;
        self
    }
}

const fn f(name: &'static str, shape: Shape, class: Class, doc: &'static str) -> Field {
    Field {
        name,
        shape,
        class,
        required: false,
        doc,
        loosens: Loosens::ByClass,
    }
}
const fn req(name: &'static str, shape: Shape, class: Class, doc: &'static str) -> Field {
    Field {
        name,
        shape,
        class,
        required: true,
        doc,
        loosens: Loosens::ByClass,
    }
}

use Class::*;
use Shape::*;
use Ty::*;

pub const RISK_TIERS: &[&str] = &["low", "medium", "high", "critical"];
pub const LIFECYCLES: &[&str] = &["draft", "pilot", "production", "suspended", "retired"];
pub const CONNECTION_KINDS: &[&str] = &["mcp", "http", "builtin"];
pub const AUTH_MODES: &[&str] = &["none", "agent_identity", "end_user_delegated"];
pub const CLASSIFICATIONS: &[&str] = &["public", "internal", "confidential", "restricted"];
/// The approval ladder, loosest first.
pub const REQUIRE_LADDER: &[&str] = &["allow", "notify", "approval", "deny"];
/// Comparators of an approval rule's `when`.
pub const COMPARATORS: &[&str] = &["gt", "gte", "lt", "lte", "eq"];

static META: [Field; 3] = [
    f(
        "owner",
        Leaf(Str),
        Override,
        "Accountable owner of this layer (used for CODEOWNERS).",
    ),
    f(
        "description",
        Leaf(Str),
        Override,
        "What this layer is for.",
    ),
    f(
        "lock",
        Leaf(Strings),
        Override,
        "Key paths no later layer may define.",
    ),
];

static AGENT: [Field; 8] = [
    f(
        "client",
        Leaf(Str),
        AgentOnly,
        "The client (directory under clients/) whose layer this agent inherits.",
    ),
    f("display_name", Leaf(Str), AgentOnly, "Human-readable name."),
    req("purpose", Leaf(Str), AgentOnly, "What the agent is for."),
    req(
        "owner",
        Leaf(Str),
        AgentOnly,
        "The accountable human, e.g. user:jane.doe.",
    ),
    f(
        "maintainers",
        Leaf(Strings),
        AgentOnly,
        "People who maintain the agent.",
    ),
    f(
        "risk_tier",
        Leaf(Enum(RISK_TIERS)),
        AgentOnly,
        "low | medium | high | critical.",
    ),
    f(
        "lifecycle",
        Leaf(Enum(LIFECYCLES)),
        AgentOnly,
        "draft | pilot | production | suspended | retired.",
    ),
    f(
        "out_of_scope",
        Leaf(Strings),
        AgentOnly,
        "Topics the agent must decline.",
    ),
];

static PARAMETERS: [Field; 2] = [
    f(
        "temperature",
        Leaf(Number),
        Override,
        "Sampling temperature.",
    ),
    f(
        "max_output_tokens",
        Leaf(Count),
        Override,
        "Output token limit.",
    ),
];
static FALLBACK: [Field; 2] = [
    f("provider", Leaf(Str), Override, "Fallback model provider."),
    f("name", Leaf(Str), Override, "Fallback model name."),
];
static MODEL: [Field; 4] = [
    req("provider", Leaf(Str), Override, "Model provider."),
    req("name", Leaf(Str), Override, "Model name."),
    f(
        "parameters",
        Struct(&PARAMETERS),
        Table,
        "Model parameters.",
    ),
    f(
        "fallbacks",
        TableArray(&FALLBACK),
        Override,
        "Fallback models, in order (whole array).",
    ),
];

static FRAGMENT: [Field; 4] = [
    f("id", Leaf(Str), Override, "Fragment id."),
    f(
        "file",
        Leaf(Str),
        Override,
        "Path of a text file, relative to the TOML file naming it.",
    ),
    f("text", Leaf(Str), Override, "Inline text."),
    f(
        "required",
        Leaf(Bool),
        Override,
        "When true, no later layer may exclude it.",
    ),
];
static INSTRUCTIONS: [Field; 2] = [
    req(
        "fragments",
        IdArray(&FRAGMENT),
        Append,
        "Instruction fragments, appended in layer order.",
    ),
    f(
        "exclude",
        Leaf(Strings),
        Union,
        "Ids of inherited fragments to leave out.",
    ),
];

static AUTH: [Field; 2] = [
    f(
        "mode",
        Leaf(Enum(AUTH_MODES)),
        Override,
        "none | agent_identity | end_user_delegated.",
    ),
    f(
        "secret_ref",
        Leaf(Str),
        Override,
        "Reference to a secret: vault://... or env:NAME.",
    ),
];
static CONNECTION_FIELDS: [Field; 7] = [
    f(
        "kind",
        Leaf(Enum(CONNECTION_KINDS)),
        Override,
        "mcp | http | builtin.",
    ),
    req(
        "system",
        Leaf(Str),
        Override,
        "The connected system, for the inventory.",
    ),
    f("url", Leaf(Str), Override, "Endpoint."),
    f(
        "command",
        Leaf(Strings),
        Override,
        "Command that starts the server.",
    ),
    f("auth", Struct(&AUTH), Table, "Authentication."),
    f(
        "data_classification",
        Leaf(Enum(CLASSIFICATIONS)),
        Override,
        "public | internal | confidential | restricted.",
    ),
    f(
        "system_owner",
        Leaf(Str),
        Override,
        "Who owns the connected system.",
    ),
];
static CONNECTION: Field = f(
    "*",
    Struct(&CONNECTION_FIELDS),
    Table,
    "A connection, keyed by its name.",
);

static LIMITS: [Field; 3] = [
    f(
        "max_calls_per_run",
        Leaf(Count),
        Min,
        "Ceiling on calls per run.",
    ),
    f(
        "max_calls_per_hour",
        Leaf(Count),
        Min,
        "Ceiling on calls per hour.",
    ),
    f(
        "max_calls_per_day",
        Leaf(Count),
        Min,
        "Ceiling on calls per day.",
    ),
];
static TOOL_FIELDS: [Field; 2] = [
    f(
        "use",
        Leaf(Strings),
        Override,
        "Tools of the connection this agent uses.",
    ),
    f("limits", Struct(&LIMITS), Table, "Call ceilings."),
];
static TOOL: Field = f(
    "*",
    Struct(&TOOL_FIELDS),
    Table,
    "Tools of one connection, keyed by the connection name.",
);

static RETENTION: Field = f(
    "*",
    Leaf(Count),
    Override,
    "Retention in days for one scope.",
)
.loosens(Loosens::WhenRaised("longer retention"));
static MEMORY: [Field; 3] = [
    f("scopes", Leaf(Strings), Override, "Memory scopes.")
        .loosens(Loosens::WhenAdded("more memory scopes")),
    f(
        "retention_days",
        Map(&RETENTION),
        Table,
        "Retention per scope, in days.",
    ),
    f(
        "inspectors",
        Leaf(Strings),
        Override,
        "Who may inspect memory.",
    )
    .loosens(Loosens::WhenAdded("more memory inspectors")),
];

static CONTACT_FIELDS: [Field; 2] = [
    f("who", Leaf(Str), Override, "Person or group."),
    f("channels", Leaf(Strings), Override, "How to reach them."),
];
static CONTACT: Field = f(
    "*",
    Struct(&CONTACT_FIELDS),
    Table,
    "A contact, keyed by name.",
);
static TRIGGER: [Field; 3] = [
    f("id", Leaf(Str), Override, "Trigger id."),
    f(
        "on",
        Leaf(Strings),
        Override,
        "Events that trigger the handoff.",
    ),
    f("handoff_to", Leaf(Str), Override, "Contact to hand off to."),
];
static ESCALATION: [Field; 3] = [
    req(
        "default_target",
        Leaf(Str),
        Override,
        "Contact that receives escalations.",
    ),
    f("contacts", Map(&CONTACT), Table, "Contacts, keyed by name."),
    f(
        "triggers",
        IdArray(&TRIGGER),
        Union,
        "Handoff triggers, by id.",
    ),
];

static POLICY_MODEL: [Field; 5] = [
    f(
        "allow_providers",
        Leaf(Strings),
        Subset,
        "Providers an agent may use (globs).",
    ),
    f(
        "deny_models",
        Leaf(Strings),
        Union,
        "Model names no agent may use (globs).",
    ),
    f(
        "max_temperature",
        Leaf(Number),
        Min,
        "Ceiling on model.parameters.temperature.",
    ),
    f(
        "max_output_tokens",
        Leaf(Count),
        Min,
        "Ceiling on model.parameters.max_output_tokens.",
    ),
    f(
        "require_fallback",
        Leaf(Bool),
        Or,
        "Every agent needs a fallback model.",
    ),
];
static POLICY_TOOLS: [Field; 3] = [
    f(
        "allow",
        Leaf(Strings),
        Subset,
        "Actions an agent may take (globs).",
    ),
    f(
        "deny",
        Leaf(Strings),
        Union,
        "Actions no agent may take (globs); deny beats allow.",
    ),
    f(
        "require_approval",
        Leaf(Strings),
        Union,
        "Actions that need approval (globs).",
    ),
];
static WHEN: [Field; 6] = [
    f("arg", Leaf(Str), Override, "The action argument compared."),
    f("gt", Leaf(Scalar), Override, "Greater than.").loosens(Loosens::BoundRaised),
    f("gte", Leaf(Scalar), Override, "Greater than or equal.").loosens(Loosens::BoundRaised),
    f("lt", Leaf(Scalar), Override, "Less than.").loosens(Loosens::BoundLowered),
    f("lte", Leaf(Scalar), Override, "Less than or equal.").loosens(Loosens::BoundLowered),
    f("eq", Leaf(Scalar), Override, "Equal."),
];
static RULE: [Field; 5] = [
    f("id", Leaf(Str), Override, "Rule id."),
    f(
        "action",
        Leaf(Str),
        Override,
        "Actions the rule applies to (glob).",
    )
    .loosens(Loosens::WhenRemoved),
    f(
        "when",
        Struct(&WHEN),
        Table,
        "Condition on one argument; absent means always.",
    ),
    f(
        "require",
        Leaf(Enum(REQUIRE_LADDER)),
        Override,
        "allow < notify < approval < deny.",
    )
    .loosens(Loosens::WhenLowered),
    f("approvers", Leaf(Strings), Override, "Who approves."),
];
static POLICY_APPROVALS: [Field; 1] = [f("rules", IdArray(&RULE), Union, "Approval rules, by id.")];
static MAX_RETENTION: Field = f(
    "*",
    Leaf(Count),
    Min,
    "Ceiling on retention for one scope, in days.",
);
static POLICY_MEMORY: [Field; 4] = [
    f(
        "allow_scopes",
        Leaf(Strings),
        Subset,
        "Memory scopes an agent may use.",
    ),
    f(
        "max_retention_days",
        Map(&MAX_RETENTION),
        Table,
        "Ceiling on retention per scope.",
    ),
    f(
        "inspectors_allow",
        Leaf(Strings),
        Subset,
        "Who may be a memory inspector.",
    ),
    f(
        "redact_pii",
        Leaf(Bool),
        Or,
        "Personal data must be redacted.",
    ),
];
static POLICY: [Field; 4] = [
    f("model", Struct(&POLICY_MODEL), Table, "Model policy."),
    f("tools", Struct(&POLICY_TOOLS), Table, "Tool policy."),
    f(
        "approvals",
        Struct(&POLICY_APPROVALS),
        Table,
        "Approval rules.",
    ),
    f("memory", Struct(&POLICY_MEMORY), Table, "Memory policy."),
];

static TOP: [Field; 10] = [
    f(
        "meta",
        Struct(&META),
        Table,
        "Per-layer metadata; never merged.",
    ),
    f(
        "agent",
        Struct(&AGENT),
        AgentOnly,
        "The agent itself; only agent layers may set it.",
    ),
    f("model", Struct(&MODEL), Table, "The model."),
    f(
        "instructions",
        Struct(&INSTRUCTIONS),
        Table,
        "Instruction fragments.",
    ),
    f(
        "connections",
        Map(&CONNECTION),
        Table,
        "Connected systems, keyed by connection name.",
    ),
    f(
        "tools",
        Map(&TOOL),
        Table,
        "Tools used, keyed by connection name.",
    ),
    f("memory", Struct(&MEMORY), Table, "Memory."),
    f("escalation", Struct(&ESCALATION), Table, "Escalation."),
    f(
        "policy",
        Struct(&POLICY),
        Table,
        "Policy: a later layer may only make it stricter.",
    ),
    f(
        "metadata",
        Free,
        Override,
        "Free-form: tags, cost centre, review dates, links.",
    ),
];

/// `actions`, the one top-level key of the rendered document that no layer sets (spec section 7):
/// the sorted `connection.tool` of every `tools.<connection>.use`.
pub static ACTIONS: Field = f(
    "actions",
    Leaf(Strings),
    Override,
    "Every action the agent uses, derived from tools.*.use.",
)
.loosens(Loosens::WhenAdded("new action"));

/// `agent.id`: derived from the agent's file or folder name.
pub static AGENT_ID: Field = f(
    "id",
    Leaf(Str),
    AgentOnly,
    "The agent's id, derived from its file or folder name.",
);
/// `instructions.prompt`: the remaining fragments' text, joined.
pub static PROMPT: Field = f(
    "prompt",
    Leaf(Str),
    Override,
    "The text sent to the model: the remaining fragments joined with a blank line.",
);
/// `instructions.fragments[id=X].content`: a fragment's text.
pub static CONTENT: Field = f(
    "content",
    Leaf(Str),
    Append,
    "A fragment's text (its file's content, or `text`).",
);

/// The field a key path of the rendered document names: a schema key or one opl derives
/// (`actions`, `agent.id`, `instructions.prompt`, a fragment's `content`).
pub fn lookup_rendered<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<&'static Field> {
    let keys: Vec<&str> = keys.into_iter().collect();
    match keys.as_slice() {
        ["actions"] => Some(&ACTIONS),
        ["agent", "id"] => Some(&AGENT_ID),
        ["instructions", "prompt"] => Some(&PROMPT),
        ["instructions", "fragments", "content"] => Some(&CONTENT),
        _ => lookup(keys),
    }
}

/// Checks that a key path names a key of the rendered document; the error says the closest one.
pub fn check_key(key: &crate::model::key_path::KeyPath) -> Result<(), String> {
    if lookup_rendered(key.keys()).is_some() {
        return Ok(());
    }
    Err(format!(
        "`{key}` is not a key of the schema{}",
        suggest(key.keys())
            .map(|m| format!(" (did you mean `{m}`?)"))
            .unwrap_or_default()
    ))
}

/// The policy keys that constrain the setting at `keys` (spec section 6), each a path of plain
/// keys.
pub fn constrained_by(keys: &[&str]) -> Vec<Vec<String>> {
    let owned = |p: keys::Path| p.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    match keys {
        ["model", "provider"] => vec![owned(keys::POLICY_MODEL_ALLOW_PROVIDERS)],
        ["model", "name"] => vec![owned(keys::POLICY_MODEL_DENY_MODELS)],
        ["model", "fallbacks", ..] => vec![
            owned(keys::POLICY_MODEL_DENY_MODELS),
            owned(keys::POLICY_MODEL_REQUIRE_FALLBACK),
        ],
        ["model", "parameters", "temperature"] => vec![owned(keys::POLICY_MODEL_MAX_TEMPERATURE)],
        ["model", "parameters", "max_output_tokens"] => {
            vec![owned(keys::POLICY_MODEL_MAX_OUTPUT_TOKENS)]
        }
        ["tools", _, "use"] => vec![
            owned(keys::POLICY_TOOLS_ALLOW),
            owned(keys::POLICY_TOOLS_DENY),
            owned(keys::POLICY_TOOLS_REQUIRE_APPROVAL),
        ],
        ["memory", "scopes"] => vec![owned(keys::POLICY_MEMORY_ALLOW_SCOPES)],
        ["memory", "retention_days", scope] => {
            let mut v = owned(keys::POLICY_MEMORY_MAX_RETENTION_DAYS);
            v.push(scope.to_string());
            vec![v]
        }
        ["memory", "inspectors"] => vec![owned(keys::POLICY_MEMORY_INSPECTORS_ALLOW)],
        _ => Vec::new(),
    }
}

/// The key path `keys` with its first unknown key replaced by the closest known one, for a
/// did-you-mean; `None` when nothing is close.
pub fn suggest<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let keys: Vec<&str> = keys.into_iter().collect();
    let i = (0..keys.len()).find(|i| lookup(keys[..=*i].iter().copied()).is_none())?;
    let siblings: Vec<&str> = if i == 0 {
        top().iter().map(|f| f.name).collect()
    } else {
        match lookup(keys[..i].iter().copied()).map(|f| &f.shape) {
            Some(Struct(fs)) | Some(IdArray(fs)) | Some(TableArray(fs)) => {
                fs.iter().map(|f| f.name).collect()
            }
            _ => Vec::new(),
        }
    };
    let m = crate::diagnostic::did_you_mean(keys[i], siblings)?;
    let mut fixed = keys.clone();
    fixed[i] = m;
    Some(fixed.join("."))
}

/// The top-level keys of a layer file.
pub fn top() -> &'static [Field] {
    &TOP
}

/// Looks up a field by name among `fields` (a `Map` matches any name).
pub fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name)
}

/// The children of a shape, for descending by key name.
pub fn child<'a>(shape: &'a Shape, name: &str) -> Option<&'a Field> {
    match shape {
        Struct(fields) | IdArray(fields) | TableArray(fields) => find(fields, name),
        Map(field) => Some(field),
        _ => None,
    }
}

/// The field a key path (ids skipped) names, and whether it lies under `[metadata]`.
pub fn lookup<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<&'static Field> {
    let mut iter = keys.into_iter();
    let mut field = find(top(), iter.next()?)?;
    for k in iter {
        if matches!(field.shape, Free) {
            return Some(field);
        }
        field = child(&field.shape, k)?;
    }
    Some(field)
}

/// The effective merge class of a field (agent-only children included).
pub fn effective_class(path_root: &str, field: &Field) -> Class {
    if path_root == "agent" {
        AgentOnly
    } else {
        field.class
    }
}

/// The config paths the code reads, named once: a misspelt name does not compile, and a test
/// proves that every path names a key of the schema.
pub mod keys {
    /// A path of plain keys from the top of the effective config.
    pub type Path = &'static [&'static str];

    macro_rules! paths {
        ($($name:ident = [$($k:literal),+];)*) => {
            $(#[doc = concat!("`", $($k, ".",)+ "`")] pub const $name: Path = &[$($k),+];)*
            /// Every path above.
            pub const ALL: &[Path] = &[$($name),*];
        };
    }

    paths! {
        MODEL_PARAMETERS_TEMPERATURE = ["model", "parameters", "temperature"];
        MODEL_PARAMETERS_MAX_OUTPUT_TOKENS = ["model", "parameters", "max_output_tokens"];
        MEMORY = ["memory"];
        POLICY_MODEL_MAX_OUTPUT_TOKENS = ["policy", "model", "max_output_tokens"];
        POLICY_MODEL_MAX_TEMPERATURE = ["policy", "model", "max_temperature"];
    AGENT = ["agent"];
    AGENT_LIFECYCLE = ["agent", "lifecycle"];
    AGENT_MAINTAINERS = ["agent", "maintainers"];
    AGENT_OWNER = ["agent", "owner"];
    AGENT_PURPOSE = ["agent", "purpose"];
    AGENT_RISK_TIER = ["agent", "risk_tier"];
    CONNECTIONS = ["connections"];
    ESCALATION_CONTACTS = ["escalation", "contacts"];
    ESCALATION_DEFAULT_TARGET = ["escalation", "default_target"];
    ESCALATION_TRIGGERS = ["escalation", "triggers"];
    INSTRUCTIONS_EXCLUDE = ["instructions", "exclude"];
    INSTRUCTIONS_FRAGMENTS = ["instructions", "fragments"];
    MEMORY_INSPECTORS = ["memory", "inspectors"];
    MEMORY_RETENTION_DAYS = ["memory", "retention_days"];
    MEMORY_SCOPES = ["memory", "scopes"];
    MODEL_FALLBACKS = ["model", "fallbacks"];
    MODEL_NAME = ["model", "name"];
    MODEL_PROVIDER = ["model", "provider"];
    POLICY_APPROVALS_RULES = ["policy", "approvals", "rules"];
    POLICY_MEMORY_ALLOW_SCOPES = ["policy", "memory", "allow_scopes"];
    POLICY_MEMORY_INSPECTORS_ALLOW = ["policy", "memory", "inspectors_allow"];
    POLICY_MEMORY_MAX_RETENTION_DAYS = ["policy", "memory", "max_retention_days"];
    POLICY_MODEL_ALLOW_PROVIDERS = ["policy", "model", "allow_providers"];
    POLICY_MODEL_DENY_MODELS = ["policy", "model", "deny_models"];
    POLICY_MODEL_REQUIRE_FALLBACK = ["policy", "model", "require_fallback"];
    POLICY_TOOLS_ALLOW = ["policy", "tools", "allow"];
    POLICY_TOOLS_DENY = ["policy", "tools", "deny"];
    POLICY_TOOLS_REQUIRE_APPROVAL = ["policy", "tools", "require_approval"];
    TOOLS = ["tools"];
    }
}

// ---- JSON Schema generation ----

fn leaf_schema(ty: Ty) -> Json {
    match ty {
        Str => json!({"type": "string"}),
        Count => json!({"type": "integer", "minimum": 0}),
        Number => json!({"type": "number", "minimum": 0}),
        Bool => json!({"type": "boolean"}),
        Enum(vals) => json!({"type": "string", "enum": vals}),
        Strings => json!({"type": "array", "items": {"type": "string"}}),
        Scalar => json!({"type": ["string", "number", "boolean"]}),
    }
}

fn field_schema(field: &Field, class: Class, effective: bool) -> Json {
    let mut s = match &field.shape {
        Leaf(ty) => leaf_schema(*ty),
        Struct(fields) => object_schema(fields, class, effective, false),
        Map(value) => {
            let inner = field_schema(
                value,
                if class == AgentOnly {
                    AgentOnly
                } else {
                    value.class
                },
                effective,
            );
            json!({"type": "object", "additionalProperties": inner})
        }
        IdArray(fields) => {
            let mut item = object_schema(fields, Override, effective, true);
            item["required"] = json!(["id"]);
            json!({"type": "array", "items": item})
        }
        TableArray(fields) => {
            json!({"type": "array", "items": object_schema(fields, Override, effective, true)})
        }
        Free => json!({"type": "object"}),
    };
    let obj = s.as_object_mut().expect("schema objects");
    obj.insert("description".into(), json!(field.doc));
    obj.insert("x-merge".into(), json!(class.name()));
    s
}

fn object_schema(fields: &[Field], parent: Class, effective: bool, element: bool) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for fl in fields {
        if effective && (fl.name == "meta" || fl.name == "exclude") {
            continue;
        }
        let class = if parent == AgentOnly || fl.class == AgentOnly {
            AgentOnly
        } else if element {
            Override
        } else {
            fl.class
        };
        props.insert(fl.name.into(), field_schema(fl, class, effective));
        if effective && fl.required && !element {
            required.push(fl.name);
        }
    }
    let mut s = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

/// The JSON Schema of one layer file (`schemas/layer.schema.json`).
pub fn layer_json_schema() -> Json {
    let mut s = object_schema(top(), Table, false, false);
    s["properties"]["agent"]["properties"]["id"] = json!(false);
    let mut out = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://opl.dev/schemas/v1/layer.schema.json",
        "title": "opl layer file (v1)",
        "description": "One TOML file of a global, client or agent layer. `x-merge` names each key's merge class.",
    });
    merge_into(&mut out, s);
    out
}

/// The JSON Schema of the rendered effective config (`schemas/effective.schema.json`).
pub fn effective_json_schema() -> Json {
    let mut s = object_schema(top(), Table, true, false);
    s["properties"]["agent"]["properties"]["id"] =
        json!({"type": "string", "description": "The agent's id, from its file or folder name."});
    s["properties"]["agent"]["required"] = json!(["id", "purpose", "owner"]);
    s["properties"]["instructions"]["properties"]["prompt"] = json!({"type": "string", "description": "The text of every remaining fragment, joined with a blank line."});
    s["properties"]["instructions"]["properties"]["fragments"]["minItems"] = json!(1);
    s["properties"]["instructions"]["required"] = json!(["fragments", "prompt"]);
    s["properties"]["connections"]["additionalProperties"]["required"] = json!(["system"]);
    s["properties"]["actions"] = json!({"type": "array", "items": {"type": "string"}, "description": "Sorted connection.tool for every tool used."});
    s["required"] = json!(["agent", "model", "instructions", "escalation", "actions"]);
    let mut out = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://opl.dev/schemas/v1/effective.schema.json",
        "title": "opl effective config (v1)",
        "description": "The rendered document of one agent, as `opl render --format json` prints it.",
    });
    merge_into(&mut out, s);
    out
}

fn merge_into(out: &mut Json, s: Json) {
    if let (Some(o), Json::Object(m)) = (out.as_object_mut(), s) {
        o.extend(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_constrain_settings_and_typos_get_a_suggestion() {
        assert_eq!(
            constrained_by(&["memory", "retention_days", "user"]),
            [vec!["policy", "memory", "max_retention_days", "user"]]
        );
        assert_eq!(constrained_by(&["tools", "crm", "use"]).len(), 3);
        assert!(constrained_by(&["agent", "purpose"]).is_empty());
        for keys in constrained_by(&["model", "fallbacks"]) {
            assert!(lookup(keys.iter().map(String::as_str)).is_some());
        }
        assert_eq!(
            suggest(["model", "provdier"]).as_deref(),
            Some("model.provider")
        );
        assert_eq!(suggest(["polcy", "tools"]).as_deref(), Some("policy.tools"));
        assert_eq!(suggest(["model", "zzzzzz"]), None);
        assert_eq!(suggest(["model", "name"]), None);
    }

    #[test]
    fn every_named_path_is_a_key_of_the_schema() {
        for path in keys::ALL {
            assert!(lookup(path.iter().copied()).is_some(), "{path:?}");
        }
    }

    #[test]
    fn lookup_walks_maps_and_free_tables() {
        assert_eq!(
            lookup(["policy", "model", "max_temperature"])
                .unwrap()
                .class,
            Min
        );
        assert_eq!(
            lookup(["connections", "anything", "system"]).unwrap().name,
            "system"
        );
        assert_eq!(lookup(["metadata", "x", "y"]).unwrap().name, "metadata");
        assert!(lookup(["model", "nope"]).is_none());
        assert_eq!(
            lookup(["policy", "approvals", "rules", "require"])
                .unwrap()
                .name,
            "require"
        );
    }

    #[test]
    fn committed_json_schemas_match_the_definition() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (name, schema) in [
            ("layer.schema.json", layer_json_schema()),
            ("effective.schema.json", effective_json_schema()),
        ] {
            let committed =
                std::fs::read_to_string(root.join(name)).expect("schema file committed");
            let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            assert_eq!(
                committed, generated,
                "schemas/{name} is stale: run `opl schema` to regenerate"
            );
        }
    }
}
