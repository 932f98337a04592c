//! The one way fastnet writes a file that must never look complete when it
//! is not: write a temporary file beside the target (`.NAME.tmp-PID`), fsync
//! it, rename it into place. On failure the temporary file is removed and the
//! target is untouched. Every crate and the binary use these functions for
//! statistics, graphs, plots, checkpoints, forecasts and score files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name `write_atomic*` writes before renaming to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Fsyncs `tmp` and renames it to `path`.
pub fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)
    })
}

/// Lets `write` produce the file at a temporary path, then commits it to
/// `path`; errors of `write` are returned as they are, I/O errors of the
/// commit converted with `From`.
pub fn write_atomic_with<E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temp_path(path);
    let result = write(&tmp).and_then(|_| commit(&tmp, path).map_err(E::from));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_neither_target_nor_temporary() {
        let dir = std::env::temp_dir().join(format!("fastnet-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("x.bin");
        write_atomic(&target, b"first").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        let r: std::io::Result<()> = write_atomic_with(&target, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert!(!temp_path(&target).exists());
        assert!(write_atomic(&dir.join("missing/g.bin"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
