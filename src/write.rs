//! The only place opl writes files: atomically (a temporary file in the same directory, then a
//! rename, so a reader sees the old file or the new one, never a part), never through a symbolic
//! link, never over an existing file unless asked. Files are not fsynced: `render --all` writes
//! thousands of them, and they can be rendered again.

use std::io::Write;
use std::path::Path;

/// Whether an existing file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Never,
    Allowed,
}

/// Writes `bytes` to `path` atomically. Refuses a symlink at `path`, and an existing file unless
/// `overwrite` allows it.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{} is a symbolic link; opl does not write through links",
                path.display()
            ));
        }
        Ok(m) if m.is_dir() => return Err(format!("{} is a directory", path.display())),
        Ok(_) if overwrite == Overwrite::Never => {
            return Err(format!(
                "{} already exists; opl does not overwrite it (use --force to replace it)",
                path.display()
            ));
        }
        _ => {}
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.opl-tmp-{}-{seq}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        match overwrite {
            Overwrite::Allowed => std::fs::rename(&tmp, path),
            // A hard link never replaces an existing name, so a file that appeared since the
            // check above is kept; where links are not supported, check again and rename.
            Overwrite::Never => match std::fs::hard_link(&tmp, path) {
                Ok(()) => std::fs::remove_file(&tmp),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
                Err(_) if std::fs::symlink_metadata(path).is_ok() => Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "it appeared while opl was writing",
                )),
                Err(_) => std::fs::rename(&tmp, path),
            },
        }
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Creates a directory (and its parents), refusing a symlink where a directory is expected.
pub fn ensure_dir(dir: &Path) -> Result<(), String> {
    let mut cur = std::path::PathBuf::new();
    for c in dir.components() {
        cur.push(c);
        if let Ok(m) = std::fs::symlink_metadata(&cur)
            && m.file_type().is_symlink()
            && !matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Prefix(_)
            )
            && cur.components().count() == dir.components().count()
        {
            return Err(format!(
                "{} is a symbolic link; opl does not write through links",
                cur.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Writes of disposable files (caches) still running on threads of their own.
static BACKGROUND: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Runs `job`, the write of a disposable file (a cache opl can rebuild), on a thread of its own
/// while the command prints its answer; [`finish_background`] waits for it. When no thread can
/// be started the write is skipped, as any failure to write a cache is.
pub fn in_background(job: impl FnOnce() + Send + 'static) {
    if let Ok(handle) = std::thread::Builder::new()
        .name("opl-write".into())
        .spawn(job)
    {
        BACKGROUND
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }
}

/// Waits for every write [`in_background`] started: called when a command ends.
pub fn finish_background() {
    let handles = std::mem::take(&mut *BACKGROUND.lock().unwrap_or_else(|e| e.into_inner()));
    for h in handles {
        let _ = h.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write started in the background is on disk when `finish_background` returns, however
    /// long it takes.
    #[test]
    fn finish_background_waits_for_every_write() {
        let d = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..3).map(|i| d.path().join(format!("{i}.json"))).collect();
        for (i, p) in paths.iter().enumerate() {
            let p = p.clone();
            in_background(move || {
                std::thread::sleep(std::time::Duration::from_millis(50 * i as u64));
                write_atomic(&p, i.to_string().as_bytes(), Overwrite::Allowed).unwrap();
            });
        }
        finish_background();
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(p).unwrap(), i.to_string());
        }
    }

    #[test]
    fn refuses_to_overwrite_and_to_follow_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        write_atomic(&p, b"one", Overwrite::Never).unwrap();
        assert!(
            write_atomic(&p, b"two", Overwrite::Never)
                .unwrap_err()
                .contains("already exists")
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", Overwrite::Allowed).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            let l = d.path().join("link.txt");
            std::os::unix::fs::symlink(&p, &l).unwrap();
            assert!(
                write_atomic(&l, b"x", Overwrite::Allowed)
                    .unwrap_err()
                    .contains("symbolic link")
            );
            assert_eq!(std::fs::read(&p).unwrap(), b"two");
        }
        // Replacing is a rename: a reader holding the old file still reads all of it.
        let mut old = std::fs::File::open(&p).unwrap();
        write_atomic(&p, b"three", Overwrite::Allowed).unwrap();
        let mut held = String::new();
        std::io::Read::read_to_string(&mut old, &mut held).unwrap();
        assert_eq!(held, "two");
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("opl-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
