//! Reference paths: the one syntax opl uses to name a place in the effective config.
//!
//! Dotted keys, quoted where needed (`connections."acme.zendesk".url`), and elements of id-keyed
//! arrays as `[id=VALUE]` (`instructions.fragments[id=org.safety].file`).

use std::fmt;

/// One step of a reference path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Id(String),
}

/// A reference path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<Segment>);

/// A place being walked to, as a key path whose steps are held by the callers down to it: a walk
/// over every key of 10,000 files (checking them, merging them) writes a path out only for a
/// finding, instead of building one for every key.
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Id(&'a At<'a>, &'a str),
}

impl At<'_> {
    /// The key path.
    pub fn path(&self) -> KeyPath {
        match self {
            At::Root => KeyPath::root(),
            At::Key(up, k) => up.path().key(k),
            At::Id(up, id) => up.path().id(id),
        }
    }
    /// True when the path is exactly these keys.
    pub fn is(&self, keys: &[&str]) -> bool {
        match (self, keys.split_last()) {
            (At::Root, None) => true,
            (At::Key(up, k), Some((last, rest))) => k == last && up.is(rest),
            _ => false,
        }
    }
    /// As [`KeyPath::starts_with`].
    pub fn starts_with(&self, other: &KeyPath) -> bool {
        let mut depth = 0;
        let mut at = self;
        while let At::Key(up, _) | At::Id(up, _) = at {
            depth += 1;
            at = up;
        }
        if other.0.len() > depth {
            return false;
        }
        let mut at = self;
        for _ in other.0.len()..depth {
            if let At::Key(up, _) | At::Id(up, _) = at {
                at = up;
            }
        }
        for seg in other.0.iter().rev() {
            match (at, seg) {
                (At::Key(up, k), Segment::Key(s)) | (At::Id(up, k), Segment::Id(s)) if k == s => {
                    at = up
                }
                _ => return false,
            }
        }
        true
    }
}

/// Written as its key path is.
impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path().fmt(f)
    }
}

impl KeyPath {
    /// The empty path (the whole document).
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }
    /// This path with a key appended.
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Key(k.to_string()));
        KeyPath(v)
    }
    /// This path with an id selector appended.
    pub fn id(&self, id: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Id(id.to_string()));
        KeyPath(v)
    }
    /// True when `self` equals `other` or lies under it.
    pub fn starts_with(&self, other: &KeyPath) -> bool {
        self.0.len() >= other.0.len() && self.0[..other.0.len()] == other.0[..]
    }
    /// The plain key names, with id selectors left out (for schema look-up).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Id(_) => None,
        })
    }

    /// Parses a reference path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segs = Vec::new();
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err("empty key path".into());
        }
        let mut expect_key = true;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("[id=") {
                let (id, r) = if let Some(r) = r.strip_prefix('"') {
                    let (s, r) = quoted(r)?;
                    (s, r)
                } else {
                    let end = r.find(']').ok_or("unclosed `[id=`")?;
                    (r[..end].to_string(), &r[end..])
                };
                rest = r.strip_prefix(']').ok_or("expected `]` after the id")?;
                segs.push(Segment::Id(id));
                expect_key = false;
                continue;
            }
            if !expect_key {
                rest = rest.strip_prefix('.').ok_or_else(|| {
                    format!(
                        "expected `.` or `[id=` at `{}`",
                        crate::model::source::safe(rest)
                    )
                })?;
            }
            if let Some(r) = rest.strip_prefix('"') {
                let (s, r) = quoted(r)?;
                segs.push(Segment::Key(s));
                rest = r;
            } else {
                let end = rest.find(|c: char| !is_bare(c)).unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!(
                        "expected a key at `{}`",
                        crate::model::source::safe(rest)
                    ));
                }
                segs.push(Segment::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
            expect_key = false;
        }
        Ok(KeyPath(segs))
    }
}

fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn quoted(r: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = r.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &r[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'u')) => {
                    let rest = &r[i + 2..];
                    let body = rest
                        .strip_prefix('{')
                        .and_then(|b| b.split_once('}'))
                        .ok_or("bad \\u{...} escape")?;
                    let c = u32::from_str_radix(body.0, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("bad \\u{...} escape")?;
                    out.push(c);
                    for _ in 0..body.0.len() + 2 {
                        chars.next();
                    }
                }
                _ => return Err("bad escape in quoted key".into()),
            },
            c => out.push(c),
        }
    }
    Err("unclosed quote".into())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if !k.is_empty() && k.chars().all(is_bare) {
                        f.write_str(k)?;
                    } else {
                        write_quoted(f, k)?;
                    }
                }
                Segment::Id(id) => {
                    f.write_str("[id=")?;
                    if !id.is_empty() && id.chars().all(|c| is_bare(c) || c == '.' || c == ':') {
                        f.write_str(id)?;
                    } else {
                        write_quoted(f, id)?;
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Calls `f` with the [`At`] of `path`, built step by step as a walk holds it.
    fn with_at<R>(path: &[Segment], up: &At, f: &mut dyn FnMut(&At) -> R) -> R {
        match path.split_first() {
            None => f(up),
            Some((Segment::Key(k), rest)) => with_at(rest, &At::Key(up, k), f),
            Some((Segment::Id(i), rest)) => with_at(rest, &At::Id(up, i), f),
        }
    }

    /// An `At` is its key path: written the same, under the same paths, equal to the same keys.
    #[test]
    fn at_is_its_key_path() {
        let paths: Vec<KeyPath> = [
            "model",
            "model.name",
            "connections.\"acme.zendesk\".url",
            "instructions.fragments[id=org.safety]",
            "instructions.fragments[id=org.safety].file",
            "instructions.fragments[id=other].file",
            "instructions.fragments.file",
        ]
        .iter()
        .map(|p| KeyPath::parse(p).unwrap())
        .chain([KeyPath::root()])
        .collect();
        for p in &paths {
            with_at(&p.0, &At::Root, &mut |at| {
                assert_eq!(at.path(), *p);
                assert_eq!(at.to_string(), p.to_string());
                for q in &paths {
                    assert_eq!(at.starts_with(q), p.starts_with(q), "{p} under {q}");
                    let keys: Option<Vec<&str>> =
                        q.0.iter()
                            .map(|s| match s {
                                Segment::Key(k) => Some(k.as_str()),
                                Segment::Id(_) => None,
                            })
                            .collect();
                    if let Some(keys) = keys {
                        assert_eq!(at.is(&keys), p == q, "{p} is {q}");
                    }
                }
            });
        }
    }

    #[test]
    fn parses_spec_examples() {
        let p = KeyPath::parse("connections.\"acme.zendesk\".url").unwrap();
        assert_eq!(
            p.0,
            vec![
                Segment::Key("connections".into()),
                Segment::Key("acme.zendesk".into()),
                Segment::Key("url".into())
            ]
        );
        assert_eq!(p.to_string(), "connections.\"acme.zendesk\".url");
        let p = KeyPath::parse("instructions.fragments[id=org.safety].file").unwrap();
        assert_eq!(p.0[2], Segment::Id("org.safety".into()));
        assert_eq!(p.to_string(), "instructions.fragments[id=org.safety].file");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "a..b", "a.", "\"open", "a[id=x", "a b"] {
            assert!(KeyPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(segs in proptest::collection::vec(
            prop_oneof![".{0,8}".prop_map(Segment::Key), "[^\\]\"\\\\]{0,8}".prop_map(Segment::Id)], 1..5)) {
            let mut segs = segs;
            if let Segment::Id(_) = segs[0] { segs.insert(0, Segment::Key("k".into())); }
            let p = KeyPath(segs);
            let text = p.to_string();
            prop_assert_eq!(KeyPath::parse(&text).unwrap(), p);
        }
    }
}
