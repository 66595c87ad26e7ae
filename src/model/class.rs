//! The merge classes (spec section 3), each defined once: how a later layer combines with what
//! it inherits, when a value widens what an agent may do, and how `opl explain` says it.
//!
//! Merging ([`crate::merge`]) asks [`Class::widening`] whether a layer loosens what it inherits
//! (a `widening` finding); `opl diff`, `opl check`, `opl log` and `opl audit` ask the same question
//! of two revisions of one effective value ([`crate::diff::widening`]). Every match over classes
//! here is exhaustive: a new class does not compile until each of its rules is written.

use serde_json::Value as Json;

use crate::model::value::Value;

/// How a later layer combines with what it inherits (spec section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Table,
    Override,
    Append,
    Union,
    Subset,
    Min,
    Max,
    Or,
    AgentOnly,
}

/// A value as the widening tests see it: TOML while merging, JSON when comparing revisions.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand<'a> {
    Number(f64),
    Bool(bool),
    Strings(Vec<&'a str>),
    Other,
}

impl<'a> Operand<'a> {
    /// The operand of a TOML value.
    pub fn of_value(v: &'a Value) -> Self {
        match v {
            Value::Integer(_) | Value::Float(_) => Operand::Number(v.as_f64().unwrap_or(0.0)),
            Value::Boolean(b) => Operand::Bool(*b),
            Value::Array(a) => {
                Operand::Strings(a.iter().filter_map(|e| e.value.as_str()).collect())
            }
            _ => Operand::Other,
        }
    }
    /// The operand of a JSON value.
    pub fn of_json(v: &'a Json) -> Self {
        match v {
            Json::Number(n) => Operand::Number(n.as_f64().unwrap_or(0.0)),
            Json::Bool(b) => Operand::Bool(*b),
            Json::Array(a) => Operand::Strings(a.iter().filter_map(Json::as_str).collect()),
            _ => Operand::Other,
        }
    }
    fn number(&self) -> Option<f64> {
        match self {
            Operand::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn strings(&self) -> &[&'a str] {
        match self {
            Operand::Strings(s) => s,
            _ => &[],
        }
    }
}

/// How a value loosens what the agent may do.
#[derive(Clone, Debug, PartialEq)]
pub enum Widening {
    /// `min`: the ceiling went up.
    HigherCeiling(f64, f64),
    /// `min`: the ceiling is gone.
    CeilingRemoved(f64),
    /// `max`: the floor went down.
    LowerFloor(f64, f64),
    /// `max`: the floor is gone.
    FloorRemoved(f64),
    /// `or`: a requirement that was true no longer is.
    TurnedOff,
    /// `subset`: elements the inherited list does not cover.
    NotCovered(Vec<String>),
    /// `subset`: the list (and so the restriction) is gone.
    ListRemoved,
    /// `union`: inherited elements that are gone (a deny or approval list that lost entries).
    Dropped(Vec<String>),
}

impl Class {
    /// The spec's name of the class.
    pub fn name(self) -> &'static str {
        match self {
            Class::Table => "table",
            Class::Override => "override",
            Class::Append => "append",
            Class::Union => "union",
            Class::Subset => "subset",
            Class::Min => "min",
            Class::Max => "max",
            Class::Or => "or",
            Class::AgentOnly => "agent-only",
        }
    }

    /// What a later layer may do with a key of this class, in one line (`opl explain`).
    pub fn explanation(self) -> &'static str {
        match self {
            Class::Min => "a ceiling: later layers may only lower it",
            Class::Max => "a floor: later layers may only raise it",
            Class::Subset => "later layers may only narrow the list",
            Class::Or => "once true, later layers cannot set it false",
            Class::Union => "later layers add elements; inherited ones stay",
            Class::Append => "later layers append elements with new ids",
            Class::AgentOnly => "only the agent's own layer may set it",
            Class::Override => "the last layer that sets it wins",
            Class::Table => "tables merge key by key; the last layer that sets a key wins",
        }
    }

    /// True for the classes that constrain (policy) rather than choose (settings).
    pub fn is_policy(self) -> bool {
        match self {
            Class::Subset | Class::Min | Class::Max | Class::Or => true,
            Class::Table | Class::Override | Class::Append | Class::Union | Class::AgentOnly => {
                false
            }
        }
    }

    /// How `new` loosens `old` under this class, or `None`. `None` on either side is an unset
    /// value. While merging both sides are set (a layer cannot unset a key); between revisions a
    /// policy value may disappear.
    pub fn widening(self, old: Option<&Operand>, new: Option<&Operand>) -> Option<Widening> {
        let number = |o: Option<&Operand>| o.and_then(Operand::number);
        match self {
            Class::Table | Class::Override | Class::Append | Class::AgentOnly => None,
            Class::Min => match (number(old), number(new)) {
                (Some(a), Some(b)) if b > a => Some(Widening::HigherCeiling(a, b)),
                (Some(a), None) if new.is_none() => Some(Widening::CeilingRemoved(a)),
                _ => None,
            },
            Class::Max => match (number(old), number(new)) {
                (Some(a), Some(b)) if b < a => Some(Widening::LowerFloor(a, b)),
                (Some(a), None) if new.is_none() => Some(Widening::FloorRemoved(a)),
                _ => None,
            },
            Class::Or => (old == Some(&Operand::Bool(true)) && new != Some(&Operand::Bool(true)))
                .then_some(Widening::TurnedOff),
            Class::Subset => {
                let old = old?;
                let Some(new) = new else {
                    return Some(Widening::ListRemoved);
                };
                let inherited = old.strings();
                let added: Vec<String> = new
                    .strings()
                    .iter()
                    .filter(|n| !inherited.iter().any(|p| crate::model::glob::covers(p, n)))
                    .map(|s| s.to_string())
                    .collect();
                (!added.is_empty()).then_some(Widening::NotCovered(added))
            }
            Class::Union => {
                let kept = new.map(Operand::strings).unwrap_or_default();
                let dropped: Vec<String> = old
                    .map(Operand::strings)
                    .unwrap_or_default()
                    .iter()
                    .filter(|x| !kept.contains(x))
                    .map(|s| s.to_string())
                    .collect();
                (!dropped.is_empty()).then_some(Widening::Dropped(dropped))
            }
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Class; 9] = [
        Class::Table,
        Class::Override,
        Class::Append,
        Class::Union,
        Class::Subset,
        Class::Min,
        Class::Max,
        Class::Or,
        Class::AgentOnly,
    ];

    #[test]
    fn only_policy_classes_and_union_widen() {
        let n = |x: f64| Operand::Number(x);
        for c in ALL {
            let w = c.widening(Some(&n(1.0)), Some(&n(2.0)));
            assert_eq!(w.is_some(), c == Class::Min, "{c}");
            let w = c.widening(Some(&n(2.0)), Some(&n(1.0)));
            assert_eq!(w.is_some(), c == Class::Max, "{c}");
            assert!(!c.explanation().is_empty());
        }
    }

    #[test]
    fn subset_covers_by_glob_and_union_keeps_what_it_inherits() {
        let s = |v: &[&'static str]| Operand::Strings(v.to_vec());
        assert_eq!(
            Class::Subset.widening(Some(&s(&["acme.*"])), Some(&s(&["acme.x", "*"]))),
            Some(Widening::NotCovered(vec!["*".into()]))
        );
        assert_eq!(
            Class::Subset.widening(Some(&s(&["*"])), Some(&s(&["acme.*"]))),
            None
        );
        assert_eq!(
            Class::Subset.widening(Some(&s(&["*"])), None),
            Some(Widening::ListRemoved)
        );
        assert_eq!(Class::Subset.widening(None, Some(&s(&["*"]))), None);
        assert_eq!(
            Class::Union.widening(Some(&s(&["a", "b"])), Some(&s(&["a"]))),
            Some(Widening::Dropped(vec!["b".into()]))
        );
        assert_eq!(
            Class::Or.widening(Some(&Operand::Bool(true)), Some(&Operand::Bool(false))),
            Some(Widening::TurnedOff)
        );
        assert_eq!(
            Class::Or.widening(Some(&Operand::Bool(false)), Some(&Operand::Bool(true))),
            None
        );
    }
}
