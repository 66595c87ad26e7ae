//! The commit table: what a walk read of each commit (its parents, committer time, author,
//! committer and summary), so that the next walk lists a long history without reading every
//! commit from the object database (listing 100,000 commits was a third of a walk the history
//! cache answers).
//!
//! Like git's commit-graph file and the history cache ([`super::cache`]), it is derived and
//! disposable: kept in `<git dir>/opl/commits-v1.bin`, rebuilt when missing, ignored when it is
//! not whole, written atomically (in the background, while the walk's answer prints) after a
//! walk that read commits it lacked; a failure to write it is ignored. A commit never changes,
//! so an entry never goes stale. It is the repository's, whatever the config root.
//!
//! Its body (see [`super::bin`] for the frame): the number of commits `n`, their ids in
//! ascending order (20 bytes each), the end of each one's record (`u32`, from the start of the
//! records), then the records: committer time, author time, author offset in minutes, the
//! parents (a count, then 20 bytes each), author name, author email, committer name, committer
//! email, summary.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::bin::{In, Out, len32, store, unframe};
use super::cache::Header;
use crate::git::{CommitMeta, Git, GitError, Id, KnownCommits};

const VERSION: u32 = 1;
const FILE: &str = "commits-v1.bin";

/// The commit table, loaded.
pub struct Commits {
    path: PathBuf,
    table: Option<Table>,
    /// Commits read by this walk that the file lacks: their encoded records.
    added: BTreeMap<Id, Vec<u8>>,
}

/// The file's body, checked whole when read: each lookup decodes only the commit asked for.
struct Table {
    file: Vec<u8>,
    n: usize,
    ids: usize,
    ends: usize,
    records: usize,
}

impl Table {
    fn read(file: Vec<u8>) -> Option<Table> {
        let body = unframe(&file, &header())?;
        let start = body.as_ptr() as usize - file.as_ptr() as usize;
        let mut r = In::new(body);
        let n = r.u32()? as usize;
        let ids = start + 4;
        let ends = ids.checked_add(n.checked_mul(20)?)?;
        let records = ends.checked_add(n.checked_mul(4)?)?;
        let body_end = start + body.len();
        if records > body_end {
            return None;
        }
        let t = Table {
            file,
            n,
            ids,
            ends,
            records,
        };
        // Ids strictly ascending, records back to back up to the end of the body.
        let mut last = 0;
        for i in 0..n {
            if i > 0 && t.id_at(i - 1) >= t.id_at(i) {
                return None;
            }
            let end = t.end_at(i);
            if end < last {
                return None;
            }
            last = end;
        }
        (t.records + last == body_end).then_some(t)
    }

    fn id_at(&self, i: usize) -> &[u8] {
        &self.file[self.ids + 20 * i..self.ids + 20 * (i + 1)]
    }

    fn end_at(&self, i: usize) -> usize {
        let at = self.ends + 4 * i;
        u32::from_le_bytes(self.file[at..at + 4].try_into().expect("four bytes")) as usize
    }

    fn record(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.end_at(i - 1) };
        &self.file[self.records + start..self.records + self.end_at(i)]
    }

    fn find(&self, id: Id) -> Option<usize> {
        let want = id.as_bytes();
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.id_at(mid).cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

fn header() -> Header {
    Header::new(VERSION, "", false)
}

fn encode(meta: &CommitMeta, time: i64) -> Vec<u8> {
    let mut o = Out::default();
    o.i64(time);
    o.i64(meta.time);
    o.u32(meta.offset as u32);
    o.u32(len32(meta.parents.len()));
    for p in &meta.parents {
        o.id(*p);
    }
    for s in [
        &meta.author,
        &meta.email,
        &meta.committer,
        &meta.committer_email,
        &meta.summary,
    ] {
        o.bytes(s.as_bytes());
    }
    o.0
}

fn decode(id: Id, record: &[u8]) -> Option<(CommitMeta, i64)> {
    let mut r = In::new(record);
    let time = r.i64()?;
    let atime = r.i64()?;
    let offset = r.u32()? as i32;
    let n = r.u32()? as usize;
    if n > r.rest().len() / 20 {
        return None;
    }
    let parents = (0..n).map(|_| r.id()).collect::<Option<Vec<Id>>>()?;
    let meta = CommitMeta {
        id,
        parents,
        author: r.string()?,
        email: r.string()?,
        time: atime,
        offset,
        committer: r.string()?,
        committer_email: r.string()?,
        summary: r.string()?,
    };
    r.rest().is_empty().then_some((meta, time))
}

impl Commits {
    /// The commit table of `git`'s repository; empty when missing or unusable.
    pub fn open(git: &Git) -> Commits {
        let path = git.cache_dir().join(FILE);
        let table = std::fs::read(&path).ok().and_then(Table::read);
        Commits {
            path,
            table,
            added: BTreeMap::new(),
        }
    }

    /// Writes the table back, with the commits this walk read, when it read any; in the
    /// background (see [`crate::write::in_background`]). A failure is ignored.
    pub fn save(self) {
        if self.added.is_empty() {
            return;
        }
        crate::write::in_background(move || {
            let Commits { path, table, added } = self;
            let mut all: Vec<(&[u8], &[u8])> = Vec::with_capacity(added.len());
            if let Some(t) = &table {
                all.extend((0..t.n).map(|i| (t.id_at(i), t.record(i))));
            }
            all.extend(added.iter().map(|(id, r)| (id.as_bytes(), &r[..])));
            store(&path, &header(), &body(all));
        });
    }
}

/// The body of a table of `(id, record)` entries.
fn body(mut all: Vec<(&[u8], &[u8])>) -> Vec<u8> {
    all.sort_unstable_by(|a, b| a.0.cmp(b.0));
    all.dedup_by(|a, b| a.0 == b.0);
    let mut body = Out::default();
    body.u32(len32(all.len()));
    for (id, _) in &all {
        body.0.extend_from_slice(id);
    }
    let mut end = 0usize;
    for (_, r) in &all {
        end += r.len();
        body.u32(len32(end));
    }
    for (_, r) in &all {
        body.0.extend_from_slice(r);
    }
    body.0
}

impl KnownCommits for Commits {
    fn get(&self, id: Id) -> Option<(CommitMeta, i64)> {
        let t = self.table.as_ref()?;
        decode(id, t.record(t.find(id)?))
    }

    fn learn(&mut self, meta: &CommitMeta, time: i64) {
        self.added.insert(meta.id, encode(meta, time));
    }

    fn count(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.n)
    }
}

/// [`Git::log`] through the commit table, which it writes back when it learned commits.
pub fn log(
    git: &Git,
    spec: &str,
    first_parent: bool,
    since: Option<i64>,
) -> Result<Vec<CommitMeta>, GitError> {
    let mut table = Commits::open(git);
    let out = git.log_known(spec, first_parent, since, &mut table);
    table.save();
    out
}

#[cfg(test)]
mod tests {
    use super::super::bin::frame;
    use super::*;

    fn meta(id: u8, parents: &[u8], summary: &str) -> CommitMeta {
        let of = |b: u8| Id::from_bytes(&[b; 20]).unwrap();
        CommitMeta {
            id: of(id),
            parents: parents.iter().map(|&p| of(p)).collect(),
            author: "Ann Ö".into(),
            email: "ann@example.com".into(),
            time: -5,
            offset: -90,
            committer: "Bob".into(),
            committer_email: "".into(),
            summary: summary.into(),
        }
    }

    #[test]
    fn records_read_back_as_written_and_a_table_is_read_only_whole() {
        let commits = [
            meta(9, &[3, 4], "merge"),
            meta(3, &[], "root <&>\"'"),
            meta(4, &[3], ""),
        ];
        let records: Vec<Vec<u8>> = commits
            .iter()
            .enumerate()
            .map(|(i, m)| encode(m, 1_000 + i as i64))
            .collect();
        let body = body(
            commits
                .iter()
                .zip(&records)
                .map(|(m, r)| (m.id.as_bytes(), &r[..]))
                .collect(),
        );
        let file = frame(&header(), &body);
        let t = Table::read(file.clone()).expect("a whole table");
        for (i, m) in commits.iter().enumerate() {
            let at = t.find(m.id).expect("listed");
            assert_eq!(
                decode(m.id, t.record(at)),
                Some((m.clone(), 1_000 + i as i64))
            );
        }
        assert_eq!(t.find(Id::from_bytes(&[5; 20]).unwrap()), None);
        // Ids out of order, or records that do not end where the body does: not read.
        let mut swapped = body.clone();
        swapped[4..24].copy_from_slice(&[200; 20]);
        assert!(Table::read(frame(&header(), &swapped)).is_none());
        let mut longer = body.clone();
        longer.push(0);
        assert!(Table::read(frame(&header(), &longer)).is_none());
        assert!(Table::read(file[..file.len() - 1].to_vec()).is_none());
    }
}
