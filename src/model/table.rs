//! [`Table`]: the keys of one parsed TOML table, sorted, in one allocation.
//!
//! A repository of 10,000 agents holds about 100,000 small tables (most have one to five keys).
//! A `BTreeMap` gives each of them a node sized for eleven entries; a sorted vector holds exactly
//! what was written, which keeps `opl validate`'s memory proportional to the files it reads.

use super::value::Node;

/// A table: key -> node, in key order (as a `BTreeMap<String, Node>` iterates).
#[derive(Clone, Debug, Default)]
pub struct Table {
    entries: Vec<(String, Node)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }
    /// An empty table with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Table {
            entries: Vec::with_capacity(n),
        }
    }
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
    /// The node at `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }
    /// The node at `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }
    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }
    /// Sets `key`, returning the node it replaces. Keys inserted in order are appended.
    pub fn insert(&mut self, key: String, node: Node) -> Option<Node> {
        if self.entries.last().is_none_or(|(k, _)| *k < key) {
            self.entries.push((key, node));
            return None;
        }
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, node)),
            Err(i) => {
                self.entries.insert(i, (key, node));
                None
            }
        }
    }
    /// Removes `key`, returning its node.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }
    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }
    /// The entries in key order, their nodes changeable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Node)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }
    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }
    /// The nodes in key order.
    pub fn values(&self) -> impl Iterator<Item = &Node> {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`Table`] in key order.
pub struct Iter<'a>(std::slice::Iter<'a, (String, Node)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Node);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = (&'a String, &'a Node);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Table {
    type Item = (String, Node);
    type IntoIter = std::vec::IntoIter<(String, Node)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, Node)> for Table {
    /// Collects entries in any order; where a key repeats, the last one wins (as inserting them
    /// one by one would), in `O(n log n)`.
    fn from_iter<I: IntoIterator<Item = (String, Node)>>(iter: I) -> Self {
        let mut entries: Vec<(String, Node)> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0)); // stable: equal keys keep their order
        let mut out: Vec<(String, Node)> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        Table { entries: out }
    }
}

impl std::ops::Index<&str> for Table {
    type Output = Node;
    /// The node at `key`; panics when it is not set, as a map's index does.
    fn index(&self, key: &str) -> &Node {
        self.get(key).expect("key set in table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::source::{FileId, Span};
    use crate::model::value::Value;
    use std::collections::BTreeMap;

    fn node(i: i64) -> Node {
        Node::new(Value::Integer(i), Span::new(FileId(0), 0..0))
    }
    fn ints(t: &Table) -> Vec<(String, i64)> {
        t.iter()
            .map(|(k, v)| match v.value {
                Value::Integer(i) => (k.clone(), i),
                _ => unreachable!(),
            })
            .collect()
    }

    proptest::proptest! {
        /// Any sequence of inserts and removes leaves the table a `BTreeMap` would hold, and
        /// collecting the same inserts gives the same table.
        #[test]
        fn behaves_as_a_btreemap(ops in proptest::collection::vec((0u8..12, 0i64..100, proptest::bool::ANY), 0..60)) {
            let (mut t, mut m) = (Table::new(), BTreeMap::new());
            let mut inserted = Vec::new();
            for (k, v, remove) in ops {
                let key = format!("k{k}");
                if remove {
                    proptest::prop_assert_eq!(t.remove(&key).is_some(), m.remove(&key).is_some());
                } else {
                    let old = t.insert(key.clone(), node(v)).map(|n| n.value.as_f64());
                    proptest::prop_assert_eq!(old, m.insert(key.clone(), v).map(|x| Some(x as f64)));
                    inserted.push((key, v));
                }
                let want: Vec<(String, i64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
                proptest::prop_assert_eq!(ints(&t), want);
                proptest::prop_assert_eq!(t.len(), m.len());
            }
            let collected: Table = inserted.iter().map(|(k, v)| (k.clone(), node(*v))).collect();
            let want: BTreeMap<String, i64> = inserted.into_iter().collect();
            proptest::prop_assert_eq!(ints(&collected), want.into_iter().collect::<Vec<_>>());
        }
    }
}
