//! Lab 06's exercise 2: a received file that survives a power cut.

use std::fs::{self, File};
use std::io;
use std::path::Path;

// ANCHOR: durable_rename
/// Exercise 2: gives the verified `temporary` its final `name`, durably. The
/// file's bytes reach the disk before the name points at them; then the
/// folder, whose entry the rename changed, is synced too.
pub fn commit_durably(temporary: &Path, name: &Path) -> io::Result<()> {
    File::open(temporary)?.sync_all()?;
    fs::rename(temporary, name)?;
    // A folder is opened like a file on Unix, and its sync stores its
    // entries; Windows cannot open a folder this way.
    #[cfg(unix)]
    {
        let folder = name.parent().unwrap_or(Path::new("."));
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}
// ANCHOR_END: durable_rename

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_gets_its_name_and_the_temporary_is_gone() {
        let folder = tempfile::tempdir().unwrap();
        let temporary = folder.path().join(".notes.txt.partial-1");
        let name = folder.path().join("notes.txt");
        fs::write(&temporary, b"my notes\n").unwrap();
        commit_durably(&temporary, &name).unwrap();
        assert_eq!(fs::read(&name).unwrap(), b"my notes\n");
        assert!(!temporary.exists());
    }
}
