//! The files of one state of a config repository.
//!
//! A [`Snapshot`] lists entries (root-relative paths with their kind) and reads file bytes. The
//! work tree is one implementation; a git commit or the index is another. Nothing above this
//! module touches the file system or git directly, so every command works on any state.

use std::io;
use std::path::{Path, PathBuf};

/// Largest layer or fragment file opl reads, in bytes (4 MiB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest number of files in one snapshot.
pub const MAX_FILES: usize = 1_000_000;

/// What a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Symlink,
    Dir,
    /// A FIFO, socket, device or git submodule.
    Other,
}

/// One path in a snapshot.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Root-relative, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
    /// Size in bytes when known without reading (0 otherwise); [`Snapshot::read`] enforces limits.
    pub size: u64,
}

/// One state of a config repository: list paths, read files.
pub trait Snapshot: Sync {
    /// Every entry under the root, except the `.git` directory.
    fn entries(&self) -> io::Result<Vec<Entry>>;
    /// The bytes of a file; an error of kind `FileTooLarge` (naming the size) when it holds more
    /// than `limit` bytes, found before reading it.
    fn read(&self, path: &str, limit: u64) -> io::Result<Vec<u8>>;
    /// How to name this state in messages (`work tree`, `HEAD`, `index`).
    fn describe(&self) -> String;
    /// The kind of a path that [`Snapshot::entries`] may not list (a fragment outside the
    /// layers); `None` when absent.
    fn stat(&self, _path: &str) -> Option<EntryKind> {
        None
    }
    /// An id that names the file's content (a git blob id), when the snapshot has one: two files
    /// with the same id hold the same bytes.
    fn content_id(&self, _path: &str) -> Option<[u8; 20]> {
        None
    }
}

/// The error for a file over the size limit.
pub fn check_limit(size: u64, limit: u64) -> io::Result<()> {
    if size > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{size} bytes, more than the limit of {limit} bytes"),
        ));
    }
    Ok(())
}

/// The files on disk under a root directory.
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    /// The work tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree { root: root.into() }
    }
    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Snapshot for WorkTree {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        list_dir(&self.root, "", &mut out)?;
        Ok(out)
    }

    fn read(&self, path: &str, limit: u64) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let f = std::fs::File::open(self.root.join(path))?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        check_limit(meta.len(), limit)?;
        let mut buf = Vec::with_capacity(meta.len() as usize);
        // Read at most one byte past the limit, in case the file grew since fstat.
        f.take(limit + 1).read_to_end(&mut buf)?;
        check_limit(buf.len() as u64, limit)?;
        Ok(buf)
    }

    fn describe(&self) -> String {
        "work tree".into()
    }

    fn stat(&self, path: &str) -> Option<EntryKind> {
        let m = std::fs::symlink_metadata(self.root.join(path)).ok()?;
        Some(kind_of(m.file_type()))
    }
}

/// What a file system entry is, its links not followed.
fn kind_of(ft: std::fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Lists the folder `dir` (at `rel`, root-relative with `/` separators, empty for the root) into
/// `out`, depth first, each folder's entries sorted by name and each folder followed by what it
/// holds; `.git` is left out at every depth, and links are listed, not followed. Stops once more
/// than [`MAX_FILES`] paths are listed (enough to report `too-many-files`).
fn list_dir(dir: &Path, rel: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    let at = |e: io::Error| {
        let shown = if rel.is_empty() { "." } else { rel };
        io::Error::new(e.kind(), format!("cannot list `{shown}`: {e}"))
    };
    let mut names: Vec<(std::ffi::OsString, std::fs::FileType)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(at)? {
        let e = e.map_err(at)?;
        names.push((e.file_name(), e.file_type().map_err(at)?));
    }
    names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, ft) in names {
        if name == ".git" {
            continue;
        }
        let Some(name) = name.to_str() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "path is not valid UTF-8: {}",
                    Path::new(rel).join(&name).to_string_lossy()
                ),
            ));
        };
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let kind = kind_of(ft);
        out.push(Entry {
            path,
            kind,
            size: 0,
        });
        if out.len() > MAX_FILES {
            return Ok(());
        }
        if kind == EntryKind::Dir {
            let path = out.last().expect("just pushed").path.clone();
            list_dir(&dir.join(name), &path, out)?;
            if out.len() > MAX_FILES {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// An in-memory snapshot (for tests, fuzzing and generated states).
#[derive(Clone, Debug, Default)]
pub struct Memory {
    files: std::collections::BTreeMap<String, Vec<u8>>,
    /// Files have content ids (the first 20 bytes of their SHA-256), as a git state's have.
    identified: bool,
}

impl Memory {
    /// A snapshot holding these files (root-relative paths).
    pub fn new<P: Into<String>, B: Into<Vec<u8>>>(files: impl IntoIterator<Item = (P, B)>) -> Self {
        Memory {
            files: files
                .into_iter()
                .map(|(p, b)| (p.into(), b.into()))
                .collect(),
            identified: false,
        }
    }

    /// The same files, each with a content id, as a git state's files have.
    pub fn identified(self) -> Self {
        Memory {
            identified: true,
            ..self
        }
    }
}

impl Snapshot for Memory {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut dirs = std::collections::BTreeSet::new();
        for p in self.files.keys() {
            let mut cur = p.as_str();
            while let Some((d, _)) = cur.rsplit_once('/') {
                dirs.insert(d.to_string());
                cur = d;
            }
        }
        let mut out: Vec<Entry> = dirs
            .into_iter()
            .map(|path| Entry {
                path,
                kind: EntryKind::Dir,
                size: 0,
            })
            .collect();
        out.extend(self.files.iter().map(|(p, b)| Entry {
            path: p.clone(),
            kind: EntryKind::File,
            size: b.len() as u64,
        }));
        Ok(out)
    }

    fn read(&self, path: &str, limit: u64) -> io::Result<Vec<u8>> {
        let b = self
            .files
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.to_string()))?;
        check_limit(b.len() as u64, limit)?;
        Ok(b.clone())
    }

    fn describe(&self) -> String {
        "memory".into()
    }

    fn content_id(&self, path: &str) -> Option<[u8; 20]> {
        use sha2::{Digest, Sha256};
        let b = self.files.get(path).filter(|_| self.identified)?;
        Sha256::digest(b)[..20].try_into().ok()
    }
}

/// Finds the config root: `dir` itself when given, otherwise the first ancestor of the current
/// directory holding `opl.toml`.
pub fn find_root(dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(d) = dir {
        if !d.is_dir() {
            return Err(format!("{} is not a directory", d.display()));
        }
        if !d.join("opl.toml").is_file() {
            return Err(format!(
                "{} has no opl.toml: it is not an opl config repository (run `opl init` to make one)",
                d.display()
            ));
        }
        return Ok(d.to_path_buf());
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    for a in cwd.ancestors() {
        if a.join("opl.toml").is_file() {
            return Ok(a.to_path_buf());
        }
    }
    Err(format!(
        "no opl.toml in {} or any parent directory: run opl inside a config repository, pass -C DIR, or run `opl init`",
        cwd.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work tree is listed depth first, each folder's names sorted and followed by what it
    /// holds (`a`, `a/x.toml`, then `a.toml`), without `.git` at any depth, with links listed as
    /// links and not followed.
    #[test]
    fn a_work_tree_is_listed_depth_first_in_name_order_without_git_folders() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for dir in [".git/objects", "a/.git", "a/b", "z"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            ".git/HEAD",
            "a/.git/x",
            "a/x.toml",
            "a/b/y.toml",
            "a.toml",
            "z/.git",
            "b",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        let listed: Vec<(String, EntryKind)> = WorkTree::new(root)
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.path, e.kind))
            .collect();
        let want = |p: &str, k| (p.to_string(), k);
        assert_eq!(
            listed,
            [
                want("a", EntryKind::Dir),
                want("a/b", EntryKind::Dir),
                want("a/b/y.toml", EntryKind::File),
                want("a/x.toml", EntryKind::File),
                want("a.toml", EntryKind::File),
                want("b", EntryKind::File),
                want("link", EntryKind::Symlink),
                want("z", EntryKind::Dir),
            ]
        );
    }

    /// A folder that cannot be listed is an error that names it.
    #[test]
    fn a_folder_that_cannot_be_listed_is_named_in_the_error() {
        let d = tempfile::tempdir().unwrap();
        let e = WorkTree::new(d.path().join("missing"))
            .entries()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with("cannot list `.`: "), "{e}");
    }
}
