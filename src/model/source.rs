//! The files opl has read, and spans into them.
//!
//! Every value opl reports carries a [`Span`]: a file id and a byte range. Line and column are
//! computed on demand from the file's text (1-based; the column counts Unicode scalar values).

use std::sync::{Arc, OnceLock};

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span covering `range` in `file`.
    pub fn new(file: FileId, range: std::ops::Range<usize>) -> Self {
        Span {
            file,
            start: range.start as u32,
            end: range.end as u32,
        }
    }
    /// The start of a file (for findings about a whole file).
    pub fn file_start(file: FileId) -> Self {
        Span {
            file,
            start: 0,
            end: 0,
        }
    }
}

/// Where a file sits in the layer stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerKind {
    /// `opl.toml`.
    Root,
    Global,
    Client(String),
    Agent(String),
    /// A fragment or other file referenced by a layer file.
    Fragment,
    /// A `*.toml` outside any layer.
    Stray,
    /// A policy test file (`tests/**/*.toml`).
    Test,
    /// A file outside the config read for a check (`CODEOWNERS`); its path is relative to the
    /// top of the git work tree, not to the config root.
    External,
}

impl LayerKind {
    /// `global`, `client:acme`, `agent:support-bot`.
    pub fn label(&self) -> String {
        match self {
            LayerKind::Root => "root".into(),
            LayerKind::Global => "global".into(),
            LayerKind::Client(c) => format!("client:{c}"),
            LayerKind::Agent(a) => format!("agent:{a}"),
            LayerKind::Fragment => "fragment".into(),
            LayerKind::Stray => "stray".into(),
            LayerKind::Test => "test".into(),
            LayerKind::External => "external".into(),
        }
    }
}

/// One file's text and where it belongs.
#[derive(Debug)]
pub struct SourceFile {
    /// Root-relative path with `/` separators.
    pub path: String,
    /// Shared with the parse memo of a walk ([`crate::repo::layer`]), which hands the same text
    /// to every state that holds the file.
    pub text: Arc<str>,
    pub layer: LayerKind,
    /// The id of its content (a git blob id) when it was read from git (not from the work
    /// tree): two files with the same id hold the same bytes.
    pub content: Option<[u8; 20]>,
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    /// A file with its text.
    pub fn new(path: String, text: impl Into<Arc<str>>, layer: LayerKind) -> Self {
        SourceFile {
            path,
            text: text.into(),
            layer,
            content: None,
            line_starts: OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut v = vec![0u32];
            v.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i as u32 + 1),
            );
            v
        })
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let starts = self.line_starts();
        let line = match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map(|s| s.chars().count())
            .unwrap_or(end - start);
        (line as u32 + 1, col as u32 + 1)
    }
}

/// All files read for one snapshot of a config repository.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }
    /// The file with this id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }
    /// Every file, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
    /// The file at a root-relative path.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.iter().find(|(_, f)| f.path == path).map(|(id, _)| id)
    }
    /// The empty span at a 1-based line and column of a file (the file's start when out of range).
    pub fn span_at(&self, id: FileId, line: u32, column: u32) -> Span {
        let f = self.get(id);
        let starts = f.line_starts();
        let Some(&start) = starts.get(line.saturating_sub(1) as usize) else {
            return Span::file_start(id);
        };
        let offset = f.text[start as usize..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(f.text.len(), |(i, _)| start as usize + i);
        Span::new(id, offset..offset)
    }
    /// Path, line and column of the start of a span.
    pub fn locate(&self, span: Span) -> Location {
        let f = self.get(span.file);
        let (line, column) = f.line_col(span.start);
        Location {
            file: f.path.clone(),
            line,
            column,
        }
    }
}

/// A resolved place: root-relative file, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Escapes control characters so text from config files never reaches a terminal raw.
pub fn safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || c == '\u{2028}'
            || c == '\u{2029}'
            || c == '\u{202e}'
            || c == '\u{202d}'
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A copy of `text` with every control character other than tab and newline replaced by `?` byte
/// for byte, so that byte offsets stay valid for source excerpts.
pub fn display_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = c == '\t' || c == '\n' || (c == '\r' && chars.peek() == Some(&'\n'));
        if (c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c))
            && !keep
        {
            for _ in 0..c.len_utf8() {
                out.push('?');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let f = SourceFile::new("a.toml".into(), "a = 1\nbé = 2\n", LayerKind::Global);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        // byte 9 is after "bé" (3 bytes): column 3
        assert_eq!(f.line_col(9), (2, 3));
    }

    #[test]
    fn safe_escapes_controls() {
        assert_eq!(safe("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        let d = display_text("x\u{1b}y\r\nz\u{85}");
        assert_eq!(d, "x?y\r\nz??");
        assert_eq!(d.len(), "x\u{1b}y\r\nz\u{85}".len());
    }
}
