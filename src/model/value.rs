//! Parsed TOML values that remember where they were written.
//!
//! Files are parsed with `toml_edit` (which bounds nesting depth, so deep input is a parse error,
//! never a stack overflow) and converted into [`Node`]s: a value plus the span of its key and of
//! the value itself, down to every array element.

use serde_json::Value as Json;

use crate::diagnostic::{Code, Finding};
use crate::model::source::{FileId, Span};

/// Most values (keys and array elements) one file may hold.
pub const MAX_VALUES_PER_FILE: usize = 50_000;

/// Largest integer that survives a round trip through a JSON number (2^53 - 1).
pub const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// A TOML value whose nested values are [`Node`]s.
#[derive(Clone, Debug)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(toml_edit::Datetime),
    Array(Vec<Node>),
    Table(Table),
}

pub use super::table::Table;

/// A value with its key span (where `key =` was written) and its value span.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    /// The key that defined it (the value itself for array elements).
    pub key_span: Span,
    pub span: Span,
}

/// The type of a value, as `type-conflict` compares them: integers and floats are one type, all
/// date/time kinds are one type, all arrays are one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    Boolean,
    Datetime,
    Array,
    Table,
}

impl Kind {
    /// The word used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Datetime => "date-time",
            Kind::Array => "array",
            Kind::Table => "table",
        }
    }
    /// The kind's name with its article: `a string`, `an array`.
    pub fn article_name(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Datetime => "a date-time",
            Kind::Array => "an array",
            Kind::Table => "a table",
        }
    }
}

impl Value {
    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::String(_) => Kind::String,
            Value::Integer(_) | Value::Float(_) => Kind::Number,
            Value::Boolean(_) => Kind::Boolean,
            Value::Datetime(_) => Kind::Datetime,
            Value::Array(_) => Kind::Array,
            Value::Table(_) => Kind::Table,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The number as a float, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Node]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The string elements of an array (none for anything else).
    pub fn strings(&self) -> Vec<String> {
        self.as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.value.as_str().map(String::from))
            .collect()
    }
    /// The table, if this is one.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }
    /// Equality of content, ignoring spans (1 equals 1.0, as in JSON).
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Datetime(_), Value::Datetime(_)) => {
                crate::model::value::datetime_string(self)
                    == crate::model::value::datetime_string(other)
            }
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.value.same(&y.value))
            }
            (Value::Table(a), Value::Table(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.value.same(&vb.value))
            }
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }
    /// A short TOML-like rendering for messages (control characters escaped).
    pub fn short(&self) -> String {
        let s = crate::model::value::to_json(self).to_string();
        let s = crate::model::source::safe(&s);
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(77).collect::<String>())
        } else {
            s
        }
    }
}

impl Node {
    /// A node at `span` with no separate key.
    pub fn new(value: Value, span: Span) -> Self {
        Node {
            value,
            key_span: span,
            span,
        }
    }
}

/// Parses one file's text into a table, adding a `parse` or `type` finding for what it cannot
/// accept. Returns `None` when the file is not TOML at all.
pub fn parse_file(file: FileId, text: &str, findings: &mut Vec<Finding>) -> Option<Table> {
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e
                .span()
                .map(|r| Span::new(file, r))
                .unwrap_or(Span::file_start(file));
            let msg = e.message().trim().to_string();
            let msg = if msg == "recursion limit" {
                "nesting is deeper than the limit of 80 levels".into()
            } else {
                msg
            };
            findings.push(
                Finding::new(
                    Code::Parse,
                    span,
                    format!("not valid TOML: {}", crate::model::source::safe(&msg)),
                )
                .label("here"),
            );
            return None;
        }
    };
    let whole = Span::new(file, 0..text.len());
    let values = count_items(doc.as_table());
    if values > MAX_VALUES_PER_FILE {
        findings.push(
            Finding::new(
                Code::FileTooLarge,
                Span::file_start(file),
                format!(
                    "the file holds {values} values, more than the limit of {MAX_VALUES_PER_FILE}"
                ),
            )
            .label("too many values")
            .help("split the layer into several files"),
        );
        return None;
    }
    Some(convert_table(doc.as_table(), file, whole, findings))
}

fn count_items(t: &toml_edit::Table) -> usize {
    t.iter().map(|(_, i)| 1 + count_item(i)).sum()
}

fn count_item(i: &toml_edit::Item) -> usize {
    match i {
        toml_edit::Item::Table(t) => count_items(t),
        toml_edit::Item::ArrayOfTables(a) => a.iter().map(|t| 1 + count_items(t)).sum(),
        toml_edit::Item::Value(v) => count_value(v),
        toml_edit::Item::None => 0,
    }
}

fn count_value(v: &toml_edit::Value) -> usize {
    match v {
        toml_edit::Value::Array(a) => a.iter().map(|e| 1 + count_value(e)).sum(),
        toml_edit::Value::InlineTable(t) => t.iter().map(|(_, e)| 1 + count_value(e)).sum(),
        _ => 0,
    }
}

fn span_of(file: FileId, r: Option<std::ops::Range<usize>>, fallback: Span) -> Span {
    r.map(|r| Span::new(file, r)).unwrap_or(fallback)
}

fn convert_table(
    t: &toml_edit::Table,
    file: FileId,
    fallback: Span,
    findings: &mut Vec<Finding>,
) -> Table {
    // Collected, not inserted one by one: keys come in document order, and a table of thousands
    // of keys would move its entries on every insert.
    t.iter()
        .filter_map(|(name, _)| {
            let (key, item) = t.get_key_value(name)?;
            let key_span = span_of(file, key.span(), fallback);
            let mut node = convert_item(item, file, key_span, findings)?;
            node.key_span = key_span;
            Some((name.to_string(), node))
        })
        .collect()
}

fn convert_item(
    item: &toml_edit::Item,
    file: FileId,
    key_span: Span,
    findings: &mut Vec<Finding>,
) -> Option<Node> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(v) => convert_value(v, file, key_span, findings),
        toml_edit::Item::Table(t) => {
            let span = span_of(file, t.span(), key_span);
            Some(Node {
                value: Value::Table(convert_table(t, file, key_span, findings)),
                key_span,
                span,
            })
        }
        toml_edit::Item::ArrayOfTables(a) => {
            let span = span_of(file, a.span(), key_span);
            let elems = a
                .iter()
                .map(|t| {
                    let s = span_of(file, t.span(), span);
                    Node::new(Value::Table(convert_table(t, file, s, findings)), s)
                })
                .collect();
            Some(Node {
                value: Value::Array(elems),
                key_span,
                span,
            })
        }
    }
}

fn convert_value(
    v: &toml_edit::Value,
    file: FileId,
    key_span: Span,
    findings: &mut Vec<Finding>,
) -> Option<Node> {
    let span = span_of(file, v.span(), key_span);
    let value = match v {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => {
            let i = *i.value();
            if !(-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&i) {
                findings.push(
                    Finding::new(
                        Code::Type,
                        span,
                        format!(
                            "integer {i} is outside ±(2^53 - 1), which JSON cannot carry exactly"
                        ),
                    )
                    .label("too large"),
                );
                return None;
            }
            Value::Integer(i)
        }
        toml_edit::Value::Float(f) => {
            let f = *f.value();
            if !f.is_finite() {
                findings.push(
                    Finding::new(
                        Code::Type,
                        span,
                        "nan and inf are not allowed: JSON cannot carry them",
                    )
                    .label("not finite"),
                );
                return None;
            }
            Value::Float(f)
        }
        toml_edit::Value::Boolean(b) => Value::Boolean(*b.value()),
        toml_edit::Value::Datetime(d) => Value::Datetime(*d.value()),
        toml_edit::Value::Array(a) => Value::Array(
            a.iter()
                .filter_map(|e| convert_value(e, file, span, findings))
                .collect(),
        ),
        toml_edit::Value::InlineTable(t) => {
            let out = t
                .iter()
                .filter_map(|(name, _)| {
                    let (key, item) = t.get_key_value(name)?;
                    let ks = span_of(file, key.span(), span);
                    let mut node = convert_item(item, file, ks, findings)?;
                    node.key_span = ks;
                    Some((name.to_string(), node))
                })
                .collect();
            Value::Table(out)
        }
    };
    Some(Node {
        value,
        key_span,
        span,
    })
}

/// The canonical string of a TOML date/time: `T` separator, upper-case `Z`, `+HH:MM` offsets,
/// fractional seconds without trailing zeros. `None` for other values.
pub fn datetime_string(v: &Value) -> Option<String> {
    let Value::Datetime(d) = v else { return None };
    let mut s = String::new();
    if let Some(date) = d.date {
        s.push_str(&format!(
            "{:04}-{:02}-{:02}",
            date.year, date.month, date.day
        ));
    }
    if let Some(t) = d.time {
        if d.date.is_some() {
            s.push('T');
        }
        s.push_str(&format!(
            "{:02}:{:02}:{:02}",
            t.hour,
            t.minute,
            t.second.unwrap_or(0)
        ));
        if let Some(ns) = t.nanosecond.filter(|n| *n > 0) {
            let frac = format!("{ns:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
    }
    match d.offset {
        Some(toml_edit::Offset::Z) => s.push('Z'),
        Some(toml_edit::Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
        }
        None => {}
    }
    Some(s)
}

/// A value as JSON (dates as canonical strings).
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(_) => Json::String(datetime_string(v).unwrap_or_default()),
        Value::Array(a) => Json::Array(a.iter().map(|n| to_json(&n.value)).collect()),
        Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, n)| (k.clone(), to_json(&n.value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<Table>, Vec<Finding>) {
        let mut f = Vec::new();
        (parse_file(FileId(0), text, &mut f), f)
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let (t, f) = parse("[model]\nprovider = \"openai\"\nparameters = { temperature = 0.2 }\n");
        assert!(f.is_empty());
        let t = t.unwrap();
        let model = t["model"].value.as_table().unwrap();
        let p = &model["provider"];
        assert_eq!(p.key_span.start, 8);
        assert_eq!(p.span.start, 19);
        let temp = &model["parameters"].value.as_table().unwrap()["temperature"];
        assert_eq!(temp.value.as_f64(), Some(0.2));
    }

    #[test]
    fn rejects_big_ints_and_nan() {
        let (t, f) = parse("a = 9007199254740992\nb = nan\nc = 9007199254740991\n");
        let codes: Vec<_> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["type", "type"]);
        assert!(t.unwrap().contains_key("c"));
    }

    #[test]
    fn deep_nesting_is_a_parse_error_not_a_crash() {
        let text = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        let (t, f) = parse(&text);
        assert!(t.is_none());
        assert_eq!(f[0].code.as_str(), "parse");
    }
}
