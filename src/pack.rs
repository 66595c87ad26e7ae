//! Objects read straight from a repository's pack files, for the one read a history walk repeats
//! for every commit: a large tree (the `agents/` folder of 10,000 entries) stored as a delta of
//! another version of itself.
//!
//! libgit2 reads such a tree correctly but slowly: its cache of delta bases holds 16 MB and is
//! emptied whole when full, so every few dozen trees a chain of up to 50 deltas is applied again
//! from its full base. Here the last objects read are kept (least recently used goes first, up to
//! [`CACHE_BYTES`]), so a walk from newer commits to older ones applies about one delta per tree.
//! Commits are read here too (a walk lists 100,000 of them), but only trees are kept.
//!
//! Only what this module is sure of is answered: an object in a pack whose index is version 2
//! with SHA-1 ids, stored whole or as a delta of an object in the same pack. Anything else (a
//! loose object, an alternate object store, a base in another pack, a size that does not add up,
//! a read error) is `None`, and the caller reads the object through libgit2 as before.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// How many bytes of decoded objects a reader keeps.
pub const CACHE_BYTES: usize = 48 << 20;
/// Objects larger than this are not kept (they are not the trees a walk reads again).
const CACHE_ONE: usize = 8 << 20;
/// A pack index version 2: magic, version, 256 fan-out counts.
const IDX_HEADER: usize = 8 + 256 * 4;
const ID: usize = 20;

/// The pack files of one object store, opened when first asked.
pub struct Packs {
    packs: Vec<Pack>,
    cache: Lru,
    /// One inflater and read buffer for every entry read (a walk reads 100,000 commits).
    z: Reader,
}

struct Pack {
    file: File,
    len: u64,
    /// The whole `.idx` file.
    idx: Vec<u8>,
    count: usize,
}

/// A pack entry's kind, as its header gives it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Commit,
    Tree,
    Blob,
    Tag,
}

enum Header {
    Whole(Kind),
    /// A delta of the object at this offset of the same pack.
    Delta(u64),
}

impl Packs {
    /// The packs under `objects/pack` of a git directory (none when it cannot be read).
    pub fn open(objects: &Path) -> Packs {
        let mut packs = Vec::new();
        let dir = objects.join("pack");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        names.sort();
        for idx_path in names {
            if let Some(p) = Pack::open(&idx_path) {
                packs.push(p);
            }
        }
        Packs {
            packs,
            cache: Lru::default(),
            z: Reader {
                z: flate2::Decompress::new(true),
                win: Window {
                    buf: Vec::new(),
                    at: (usize::MAX, 0),
                },
            },
        }
    }

    /// The object `id` (20 bytes) and its kind, when a pack holds it and it decodes cleanly.
    pub fn read(&mut self, id: &[u8]) -> Option<(Kind, Arc<Vec<u8>>)> {
        let (p, offset) = self
            .packs
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.offset_of(id).map(|o| (i, o)))?;
        self.at(p, offset)
    }

    /// The object at `offset` of pack `p`: down its delta chain to a kept or whole object, then
    /// each delta applied on the way back up.
    fn at(&mut self, p: usize, offset: u64) -> Option<(Kind, Arc<Vec<u8>>)> {
        let pack = &self.packs[p];
        // (offset of the delta, where its data starts, its size)
        let mut chain: Vec<(u64, u64, usize)> = Vec::new();
        let mut at = offset;
        let (kind, mut data) = loop {
            if let Some(hit) = self.cache.get(&(p, at)) {
                break hit;
            }
            if chain.len() > 10_000 {
                return None;
            }
            let (header, start, size) = pack.header(self.z.win.bytes(pack, p, at, 32 + ID)?, at)?;
            match header {
                Header::Whole(kind) => {
                    let data = Arc::new(self.z.inflate(pack, p, start, size)?);
                    self.cache.put((p, at), kind, data.clone());
                    break (kind, data);
                }
                Header::Delta(base) => {
                    chain.push((at, start, size));
                    at = base;
                }
            }
        };
        while let Some((at, start, size)) = chain.pop() {
            let delta = self.z.inflate(pack, p, start, size)?;
            data = Arc::new(apply(&data, &delta)?);
            self.cache.put((p, at), kind, data.clone());
        }
        Some((kind, data))
    }
}

impl Pack {
    fn open(idx_path: &Path) -> Option<Pack> {
        let idx = std::fs::read(idx_path).ok()?;
        if idx.len() < IDX_HEADER || idx[..8] != [0xff, b't', b'O', b'c', 0, 0, 0, 2] {
            return None;
        }
        let count = be32(&idx, IDX_HEADER - 4) as usize;
        // ids, CRCs and 32-bit offsets, then the large offsets and two checksums.
        let fixed = IDX_HEADER + count * (ID + 8) + 2 * ID;
        if idx.len() < fixed || (idx.len() - fixed) % 8 != 0 {
            return None;
        }
        let file = File::open(idx_path.with_extension("pack")).ok()?;
        let len = file.metadata().ok()?.len();
        let mut head = [0u8; 12];
        read_exact_at(&file, &mut head, 0).ok()?;
        if &head[..4] != b"PACK" || be32(&head, 8) as usize != count {
            return None;
        }
        Some(Pack {
            file,
            len,
            idx,
            count,
        })
    }

    /// Where the pack holds `id`.
    fn offset_of(&self, id: &[u8]) -> Option<u64> {
        let first = *id.first()? as usize;
        let lo = if first == 0 {
            0
        } else {
            be32(&self.idx, 8 + (first - 1) * 4) as usize
        };
        let hi = be32(&self.idx, 8 + first * 4) as usize;
        if lo > hi || hi > self.count {
            return None;
        }
        let name = |i: usize| &self.idx[IDX_HEADER + i * ID..IDX_HEADER + (i + 1) * ID];
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match name(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset(mid),
            }
        }
        None
    }

    /// The offset of the `i`th object in id order.
    fn offset(&self, i: usize) -> Option<u64> {
        let small = IDX_HEADER + self.count * (ID + 4);
        let o = be32(&self.idx, small + i * 4);
        if o & 0x8000_0000 == 0 {
            return Some(o as u64);
        }
        let large = small + self.count * 4 + (o & 0x7fff_ffff) as usize * 8;
        let bytes = self.idx.get(large..large + 8)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The entry header at `offset`, whose bytes start `buf`: what it is, where its compressed
    /// data starts, and the size of that data once inflated.
    fn header(&self, buf: &[u8], offset: u64) -> Option<(Header, u64, usize)> {
        let mut i = 0;
        let mut c = *buf.first()?;
        let kind = (c >> 4) & 7;
        let mut size = (c & 15) as usize;
        let mut shift = 4;
        while c & 0x80 != 0 {
            i += 1;
            c = *buf.get(i)?;
            if shift > 56 {
                return None;
            }
            size |= ((c & 0x7f) as usize) << shift;
            shift += 7;
        }
        i += 1;
        let header = match kind {
            1 => Header::Whole(Kind::Commit),
            2 => Header::Whole(Kind::Tree),
            3 => Header::Whole(Kind::Blob),
            4 => Header::Whole(Kind::Tag),
            6 => {
                let mut c = *buf.get(i)?;
                let mut back = (c & 0x7f) as u64;
                while c & 0x80 != 0 {
                    i += 1;
                    c = *buf.get(i)?;
                    back = back.checked_add(1)?.checked_mul(128)? | (c & 0x7f) as u64;
                }
                i += 1;
                Header::Delta(offset.checked_sub(back).filter(|b| back > 0 && *b >= 12)?)
            }
            7 => {
                let base = buf.get(i..i + ID)?;
                i += ID;
                Header::Delta(self.offset_of(base)?)
            }
            _ => return None,
        };
        Some((header, offset + i as u64, size))
    }
}

/// Reads entries: a buffer of the bytes that follow the last place read (entries read in a row,
/// such as the commits of a walk, are mostly in it already) and one zlib inflater.
struct Reader {
    z: flate2::Decompress,
    win: Window,
}

/// Bytes of one pack read ahead.
struct Window {
    buf: Vec<u8>,
    /// (pack, offset) of `buf[0]`.
    at: (usize, u64),
}

/// How much a read past the buffer reads at least.
const READ: usize = 8 << 10;

impl Window {
    /// The bytes of pack `p` from `at`: at least `want` of them, fewer only at the end of the
    /// file. `None` on a read error.
    fn bytes(&mut self, pack: &Pack, p: usize, at: u64, want: usize) -> Option<&[u8]> {
        let (bp, bs) = self.at;
        if bp != p || at < bs || at + want as u64 > bs + self.buf.len() as u64 {
            // Reads walk a pack forwards or backwards (git writes the newest commits first,
            // other writers last): read ahead in the direction the reads are going, and going
            // backwards keep what follows `at` (an entry's data follows its header).
            let span = want.max(READ) as u64;
            let start = if bp == p && at < bs {
                (at + want.max(READ / 8) as u64).saturating_sub(span)
            } else {
                at
            };
            let n = span.min(pack.len.saturating_sub(start)) as usize;
            self.buf.resize(n, 0);
            read_exact_at(&pack.file, &mut self.buf, start).ok()?;
            self.at = (p, start);
        }
        let from = (at - self.at.1) as usize;
        Some(&self.buf[from..])
    }
}

impl Reader {
    /// The zlib stream at `start` of pack `p`, which inflates to exactly `size` bytes.
    fn inflate(&mut self, pack: &Pack, p: usize, start: u64, size: usize) -> Option<Vec<u8>> {
        self.z.reset(true);
        let mut out = Vec::with_capacity(size);
        let mut at = start;
        loop {
            if at >= pack.len {
                return None;
            }
            let want = (size + 64).clamp(256, 1 << 20);
            let input = self
                .win
                .bytes(pack, p, at, want.min((pack.len - at) as usize))?;
            let before = self.z.total_in();
            // One byte of room past the size: a stream longer than its header says is an error.
            out.reserve(size + 1 - out.len());
            let status = self
                .z
                .decompress_vec(input, &mut out, flate2::FlushDecompress::None);
            let used = self.z.total_in() - before;
            at += used;
            match status.ok()? {
                flate2::Status::StreamEnd => break,
                _ if out.len() > size || used == 0 => return None,
                _ => {}
            }
        }
        (out.len() == size).then_some(out)
    }
}

/// Applies a git delta to its base; `None` when the delta does not fit the base.
fn apply(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    let mut varint = || -> Option<usize> {
        let mut v = 0usize;
        let mut shift = 0;
        loop {
            let c = *delta.get(i)?;
            i += 1;
            if shift > 56 {
                return None;
            }
            v |= ((c & 0x7f) as usize) << shift;
            shift += 7;
            if c & 0x80 == 0 {
                return Some(v);
            }
        }
    };
    let (from, to) = (varint()?, varint()?);
    if from != base.len() {
        return None;
    }
    let mut out = Vec::with_capacity(to);
    while i < delta.len() {
        let op = delta[i];
        i += 1;
        if op & 0x80 != 0 {
            let mut arg = |bits: u8, count: usize| -> Option<usize> {
                let mut v = 0usize;
                for b in 0..count {
                    if bits & (1 << b) != 0 {
                        v |= (*delta.get(i)? as usize) << (8 * b);
                        i += 1;
                    }
                }
                Some(v)
            };
            let offset = arg(op & 15, 4)?;
            let size = match arg((op >> 4) & 7, 3)? {
                0 => 0x10000,
                s => s,
            };
            out.extend_from_slice(base.get(offset..offset.checked_add(size)?)?);
        } else if op != 0 {
            let n = op as usize;
            out.extend_from_slice(delta.get(i..i + n)?);
            i += n;
        } else {
            return None;
        }
        if out.len() > to {
            return None;
        }
    }
    (out.len() == to).then_some(out)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let n = read_at(file, buf, offset)?;
    if n == buf.len() {
        Ok(())
    } else {
        Err(std::io::ErrorKind::UnexpectedEof.into())
    }
}

type Key = (usize, u64);

/// Decoded objects by where they are, the least recently used dropped first.
#[derive(Default)]
struct Lru {
    entries: HashMap<Key, (u64, Kind, Arc<Vec<u8>>)>,
    by_use: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
}

impl Lru {
    fn get(&mut self, key: &Key) -> Option<(Kind, Arc<Vec<u8>>)> {
        let (used, kind, data) = self.entries.get_mut(key)?;
        self.by_use.remove(used);
        self.tick += 1;
        *used = self.tick;
        self.by_use.insert(self.tick, *key);
        Some((*kind, data.clone()))
    }

    /// Keeps a tree (what a walk reads again, or a delta of; a commit is read once).
    fn put(&mut self, key: Key, kind: Kind, data: Arc<Vec<u8>>) {
        if kind != Kind::Tree || data.len() > CACHE_ONE || self.entries.contains_key(&key) {
            return;
        }
        while self.bytes + data.len() > CACHE_BYTES {
            let Some((_, old)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((_, _, d)) = self.entries.remove(&old) {
                self.bytes -= d.len();
            }
        }
        self.tick += 1;
        self.bytes += data.len();
        self.by_use.insert(self.tick, key);
        self.entries.insert(key, (self.tick, kind, data));
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    /// A delta: base size, target size, then instructions.
    fn delta(from: usize, to: usize, ops: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        for mut v in [from, to] {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    d.push(b);
                    break;
                }
                d.push(b | 0x80);
            }
        }
        d.extend_from_slice(ops);
        d
    }

    #[test]
    fn copies_and_inserts_build_the_target() {
        let base = b"hello, world".to_vec();
        // copy 5 bytes from offset 0, insert "!!", copy 5 bytes from offset 7.
        let d = delta(12, 12, &[0x90, 5, 2, b'!', b'!', 0x91, 7, 5]);
        assert_eq!(apply(&base, &d).unwrap(), b"hello!!world");
        // A copy of size 0 means 0x10000 bytes.
        let big = vec![7u8; 0x10000];
        assert_eq!(apply(&big, &delta(0x10000, 0x10000, &[0x80])).unwrap(), big);
    }

    #[test]
    fn a_delta_that_does_not_fit_its_base_is_refused() {
        let base = b"hello, world".to_vec();
        // Wrong base size, copy past the end, reserved op 0, target longer or shorter than said,
        // an insert cut short, a size varint that never ends.
        for d in [
            delta(11, 5, &[0x90, 5]),
            delta(12, 5, &[0x91, 10, 5]),
            delta(12, 1, &[0]),
            delta(12, 4, &[0x90, 5]),
            delta(12, 6, &[0x90, 5]),
            delta(12, 3, &[3, b'a']),
            vec![0x80; 12],
        ] {
            assert!(apply(&base, &d).is_none(), "{d:?}");
        }
    }
}
