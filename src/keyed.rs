//! Maps keyed by content ids (git blob ids, SHA-256 hashes): hashed by their first bytes, which
//! are spread uniformly already. The agents store, the own errors a walk carries and the parse
//! memo hold tens of thousands of such keys; SipHash over each whole key was a third of a diff
//! that learns 10,000 agents.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// Mixes the first eight bytes of each part of a key (a content id, an integer, a path).
#[derive(Default)]
pub struct ByPrefix(u64);

impl std::hash::Hasher for ByPrefix {
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map whose keys hold a content id.
pub type HashKeyed<K, V> = HashMap<K, V, BuildHasherDefault<ByPrefix>>;
/// A set of keys that hold a content id.
pub type HashSetKeyed<K> = HashSet<K, BuildHasherDefault<ByPrefix>>;
