//! The rendered document of one agent and its digest (spec section 7).
//!
//! The rendered document is every merged key except `meta`, plus `agent.id`, with
//! `instructions.exclude` applied and dropped, fragment files given relative to the root,
//! `instructions.prompt` added, and the top-level `actions` list. Its digest is
//! `sha256:<hex>` over the RFC 8785 (JCS) canonical JSON of the document.

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::merge::{ENode, ETable, Effective};
use crate::model::schema::keys;
use crate::model::value::{Node, to_json};
use crate::repo::layer::{Repo, elem_id};

fn table_json(t: &ETable) -> Map<String, Json> {
    t.entries
        .iter()
        .map(|(k, n)| {
            let v = match &**n {
                ENode::Table(sub) => Json::Object(table_json(sub)),
                ENode::Leaf(l) => to_json(&l.node.value),
                ENode::List(l) => Json::Array(l.elems.iter().map(|e| to_json(&e.value)).collect()),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The text of a fragment element: its `text`, or its file's content.
pub fn fragment_text<'a>(repo: &'a Repo, elem: &'a Node) -> Option<&'a str> {
    let t = elem.value.as_table()?;
    if let Some(text) = t.get("text").and_then(|n| n.value.as_str()) {
        return Some(text);
    }
    let path = t.get("file")?.value.as_str()?;
    repo.fragments
        .get(path)
        .map(|fid| repo.sources.get(*fid).text.as_ref())
}

/// The fragments that remain after `instructions.exclude`.
pub fn remaining_fragments(eff: &Effective) -> Vec<&Node> {
    let excluded: Vec<&str> = eff
        .leaf(keys::INSTRUCTIONS_EXCLUDE)
        .and_then(|l| l.node.value.as_array())
        .map(|a| a.iter().filter_map(|e| e.value.as_str()).collect())
        .unwrap_or_default();
    eff.list(keys::INSTRUCTIONS_FRAGMENTS)
        .iter()
        .filter(|e| !excluded.contains(&elem_id(e).unwrap_or_default()))
        .collect()
}

/// Every action (`connection.tool`) the agent uses, sorted and de-duplicated.
pub fn actions(eff: &Effective) -> Vec<String> {
    let mut out: Vec<String> = action_nodes(eff).into_iter().map(|(a, _)| a).collect();
    out.sort();
    out.dedup();
    out
}

/// Every action with the node of the `use` element that names it.
pub fn action_nodes(eff: &Effective) -> Vec<(String, &Node)> {
    let mut out = Vec::new();
    if let Some(tools) = eff.table(keys::TOOLS) {
        for (conn, n) in tools.iter() {
            let ENode::Table(t) = n else { continue };
            if let Some(ENode::Leaf(l)) = t.get("use") {
                for e in l.node.value.as_array().unwrap_or_default() {
                    if let Some(tool) = e.value.as_str() {
                        out.push((format!("{conn}.{tool}"), e));
                    }
                }
            }
        }
    }
    out
}

/// The rendered document of agent `id`.
pub fn document(repo: &Repo, id: &str, eff: &Effective) -> Json {
    let mut doc = table_json(&eff.root);
    let agent = doc
        .entry("agent")
        .or_insert_with(|| Json::Object(Map::new()));
    if let Json::Object(a) = agent {
        a.insert("id".into(), Json::String(id.to_string()));
    }
    let remaining = remaining_fragments(eff);
    let prompt: Vec<&str> = remaining
        .iter()
        .filter_map(|e| fragment_text(repo, e))
        .map(|t| t.trim_end())
        .collect();
    let instr = doc
        .entry("instructions")
        .or_insert_with(|| Json::Object(Map::new()));
    if let Json::Object(i) = instr {
        i.remove("exclude");
        if i.contains_key("fragments") {
            i.insert(
                "fragments".into(),
                Json::Array(remaining.iter().map(|e| to_json(&e.value)).collect()),
            );
        }
        i.insert("prompt".into(), Json::String(prompt.join("\n\n")));
    }
    doc.insert(
        "actions".into(),
        Json::Array(actions(eff).into_iter().map(Json::String).collect()),
    );
    Json::Object(doc)
}

/// `sha256:<hex>` of the JCS form.
pub fn digest(doc: &Json) -> String {
    format!("sha256:{}", hex(&Sha256::digest(jcs(doc).as_bytes())))
}

/// Lower-case hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    write_hex(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Writes `bytes` in lowercase hex into `out`, which holds twice as many bytes.
pub fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, o) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        o[0] = DIGITS[usize::from(b >> 4)];
        o[1] = DIGITS[usize::from(b & 15)];
    }
}

/// RFC 8785 canonical JSON.
pub fn jcs(v: &Json) -> String {
    let mut out = String::new();
    write_jcs(v, &mut out);
    out
}

fn write_jcs(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&es_number(i as f64));
            } else if let Some(u) = n.as_u64() {
                out.push_str(&es_number(u as f64));
            } else {
                out.push_str(&es_number(n.as_f64().unwrap_or(0.0)));
            }
        }
        Json::String(s) => write_string(s, out),
        Json::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(e, out);
            }
            out.push(']');
        }
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_jcs(&m[*k], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 section 3.2.2.3).
pub fn es_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let neg = x < 0.0;
    // Shortest round-trip digits, from Rust's `{:e}` form: d[.ddd]e[-]n
    let sci = format!("{:e}", x.abs());
    let (mant, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().expect("exponent") + 1; // position of the decimal point
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.push_str(&"0".repeat((n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-n) as usize));
        s.push_str(&digits);
    } else {
        let e = n - 1;
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&e.abs().to_string());
    }
    s
}

/// The rendered document as TOML, with the digest in a leading comment.
pub fn to_toml(doc: &Json, digest: &str) -> String {
    let mut d = toml_edit::DocumentMut::new();
    if let Json::Object(m) = doc {
        fill_table(d.as_table_mut(), m);
    }
    format!("# digest: {digest}\n{d}")
}

fn fill_table(t: &mut toml_edit::Table, m: &Map<String, Json>) {
    for (k, v) in m {
        let item = match v {
            Json::Object(sub) => {
                let mut st = toml_edit::Table::new();
                st.set_implicit(true);
                fill_table(&mut st, sub);
                toml_edit::Item::Table(st)
            }
            Json::Array(a) if !a.is_empty() && a.iter().all(|e| e.is_object()) => {
                let mut aot = toml_edit::ArrayOfTables::new();
                for e in a {
                    let mut st = toml_edit::Table::new();
                    if let Json::Object(sub) = e {
                        fill_table(&mut st, sub);
                    }
                    aot.push(st);
                }
                toml_edit::Item::ArrayOfTables(aot)
            }
            other => toml_edit::Item::Value(toml_value(other)),
        };
        t.insert(k, item);
    }
}

fn toml_value(v: &Json) -> toml_edit::Value {
    match v {
        Json::Null => toml_edit::Value::from(""),
        Json::Bool(b) => toml_edit::Value::from(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => toml_edit::Value::from(s.as_str()),
        Json::Array(a) => toml_edit::Value::Array(a.iter().map(toml_value).collect()),
        Json::Object(m) => {
            let mut it = toml_edit::InlineTable::new();
            for (k, e) in m {
                it.insert(k, toml_value(e));
            }
            toml_edit::Value::InlineTable(it)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::{Value, datetime_string};
    use serde_json::json;

    #[test]
    fn es_numbers_follow_rfc_8785() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (0.3, "0.3"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (4.5, "4.5"),
            (2e-3, "0.002"),
        ];
        for (x, want) in cases {
            assert_eq!(es_number(x), want, "{x}");
        }
    }

    /// Found by the `render_digest` fuzz target: 1.9791e304 written by `es_number` must read back
    /// as the same double, and the digest of the JCS form read back must not move.
    #[test]
    fn large_doubles_round_trip_through_jcs() {
        for x in [
            1.9791e304,
            1.7976931348623157e308,
            2.2250738585072014e-308,
            9007199254740993.0,
            0.1 + 0.2,
        ] {
            assert_eq!(es_number(x).parse::<f64>().unwrap(), x, "{x}");
            let doc = json!({ "metadata": { "d": x } });
            let back: Json = serde_json::from_str(&jcs(&doc)).unwrap();
            assert_eq!(back["metadata"]["d"].as_f64(), Some(x), "{x}");
            assert_eq!(digest(&back), digest(&doc), "{x}");
        }
    }

    #[test]
    fn jcs_sorts_keys_by_utf16_and_escapes_minimally() {
        let v = json!({"b": [1, 2.5, "x\u{1}"], "a": {"\u{e000}": 1, "\u{1f600}": 2}, "é": true});
        assert_eq!(
            jcs(&v),
            "{\"a\":{\"\u{1f600}\":2,\"\u{e000}\":1},\"b\":[1,2.5,\"x\\u0001\"],\"é\":true}"
        );
    }

    #[test]
    fn datetimes_are_canonical() {
        let dt = |s: &str| {
            let d: toml_edit::Datetime = s.parse().unwrap();
            datetime_string(&Value::Datetime(d)).unwrap()
        };
        assert_eq!(dt("1979-05-27 07:32:00.500z"), "1979-05-27T07:32:00.5Z");
        assert_eq!(dt("1979-05-27T07:32:00-00:00"), "1979-05-27T07:32:00+00:00");
        assert_eq!(
            dt("1979-05-27T00:32:00.999999+07:30"),
            "1979-05-27T00:32:00.999999+07:30"
        );
        assert_eq!(dt("1979-05-27"), "1979-05-27");
        assert_eq!(dt("07:32:00"), "07:32:00");
    }

    #[test]
    fn digest_has_the_documented_form() {
        let d = digest(&json!({}));
        // sha256 of "{}"
        assert_eq!(
            d,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
