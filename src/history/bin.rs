//! The binary form of the caches read at the start of every walk (the history cache and the
//! commit table): a magic line, the header (the JSON of [`Header`], as the JSON caches hold it),
//! the body, and a checksum of everything before it. A file is read only when it is whole: the
//! magic, the header asked for, lengths that fit and the checksum; anything else is ignored like
//! a missing file.
//!
//! Numbers are little-endian; a byte string is its length (`u32`) then its bytes.

use super::cache::Header;
use crate::git::Id;

const MAGIC: &[u8] = b"opl cache\n";

/// A body being written.
#[derive(Default)]
pub(crate) struct Out(pub(crate) Vec<u8>);

impl Out {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn id(&mut self, id: Id) {
        self.0.extend_from_slice(id.as_bytes());
    }
    /// A byte string: its length, then its bytes.
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(len32(b.len()));
        self.0.extend_from_slice(b);
    }
    pub(crate) fn strs(&mut self, list: &[String]) {
        self.u32(len32(list.len()));
        for s in list {
            self.bytes(s.as_bytes());
        }
    }
}

/// A length written as a `u32`; the caches hold nothing near 4 GiB, and a longer one would be
/// read back as a file that does not fit (then ignored).
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A body being read: each read is `None` past its end or where the bytes are not what is asked.
pub(crate) struct In<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> In<'a> {
        In { buf, at: 0 }
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let b = self.buf.get(self.at..end)?;
        self.at = end;
        Some(b)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn id(&mut self) -> Option<Id> {
        Id::from_bytes(self.take(20)?)
    }
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub(crate) fn string(&mut self) -> Option<String> {
        Some(std::str::from_utf8(self.bytes()?).ok()?.to_string())
    }
    pub(crate) fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.u32()? as usize;
        // Each string takes at least its 4-byte length: a count the rest cannot hold is refused
        // before anything is reserved for it.
        if n > self.rest().len() / 4 {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.string()?);
        }
        Some(out)
    }
    /// What is left to read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.at..]
    }
}

/// A whole cache file: the magic, `header`, `body` and the checksum.
pub(crate) fn frame(header: &Header, body: &[u8]) -> Vec<u8> {
    let head = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Out(Vec::with_capacity(
        MAGIC.len() + 4 + head.len() + body.len() + 8,
    ));
    out.0.extend_from_slice(MAGIC);
    out.bytes(&head);
    out.0.extend_from_slice(body);
    let sum = checksum(&out.0);
    out.0.extend_from_slice(&sum.to_le_bytes());
    out.0
}

/// Writes a whole cache file (see [`super::cache::store_bytes`]); a failure is ignored.
pub(crate) fn store(path: &std::path::Path, header: &Header, body: &[u8]) {
    super::cache::store_bytes(path, &frame(header, body));
}

/// The body of a cache file whose header is `want`; `None` when the file is not whole or was
/// made for something else.
pub(crate) fn unframe<'a>(file: &'a [u8], want: &Header) -> Option<&'a [u8]> {
    let (content, sum) = file.split_at_checked(file.len().checked_sub(8)?)?;
    if checksum(content).to_le_bytes() != sum {
        return None;
    }
    let mut r = In::new(content.strip_prefix(MAGIC)?);
    let header: Header = serde_json::from_slice(r.bytes()?).ok()?;
    (header == *want).then(|| r.rest())
}

/// A 64-bit checksum of `bytes`, eight at a time (a file of tens of megabytes is checked in a
/// few milliseconds). It catches a file cut short or changed by accident; it is no defence
/// against a file forged on purpose, which the git directory's permissions are.
pub fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header::new(1, "cfg/", false)
    }

    #[test]
    fn a_framed_body_reads_back_only_whole_and_for_its_header() {
        let mut body = Out::default();
        body.u32(7);
        body.strs(&["a".into(), "bé".into()]);
        let file = frame(&header(), &body.0);
        assert_eq!(unframe(&file, &header()), Some(&body.0[..]));
        let mut r = In::new(unframe(&file, &header()).unwrap());
        assert_eq!(r.u32(), Some(7));
        assert_eq!(r.strs(), Some(vec!["a".to_string(), "bé".to_string()]));
        assert_eq!(r.u8(), None);
        // Another header, a byte changed anywhere, or a file cut short: not read.
        assert_eq!(unframe(&file, &Header::new(1, "", false)), None);
        assert_eq!(unframe(&file, &Header::new(2, "cfg/", false)), None);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            assert_eq!(unframe(&bad, &header()), None, "byte {i}");
            assert_eq!(unframe(&file[..i], &header()), None, "cut at {i}");
        }
    }

    #[test]
    fn counts_and_lengths_past_the_end_are_refused() {
        let mut body = Out::default();
        body.u32(u32::MAX);
        assert_eq!(In::new(&body.0).strs(), None);
        assert_eq!(In::new(&body.0).bytes(), None);
        assert_eq!(In::new(&[1, 2]).u32(), None);
    }
}
