//! The one folder a side shares: the server's `--root`, the client's `--dir`.
//!
//! Every name a peer sends goes through here, and this module's job is that
//! no name can reach a file outside the folder: [`check_name`] refuses
//! anything that is a path, and a symbolic link that leads outside is
//! treated as if it were not there.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::names::{BadName, check_name};

/// A folder whose plain files are offered or received.
#[derive(Debug, Clone)]
pub struct Folder {
    /// The canonical path: absolute, with every symbolic link resolved.
    /// "Is this file inside the folder?" is only answerable between
    /// canonical paths.
    path: PathBuf,
}

/// One file of a listing, as `dir` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The file's name (always a plain name).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a name cannot be read or written in this folder.
#[derive(Debug)]
pub enum Refusal {
    /// Not a plain file name (a path, `..`, a hidden name, ...).
    BadName(BadName),
    /// Nothing has that name.
    NotFound(String),
    /// The name is a symbolic link that leads outside the folder.
    LeavesFolder(String),
    /// The name belongs to a folder, a link or a device, not a plain file.
    NotAFile(String),
    /// The file system failed (permissions, I/O error, ...).
    Io(String, io::Error),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BadName(bad) => write!(f, "{bad}"),
            Refusal::NotFound(name) => write!(f, "there is no file {name:?}"),
            Refusal::LeavesFolder(name) => write!(
                f,
                "{name:?} is a link to somewhere outside the shared folder, which is not shared"
            ),
            Refusal::NotAFile(name) => {
                write!(
                    f,
                    "{name:?} is not a plain file (a folder, a link or a device)"
                )
            }
            Refusal::Io(name, err) => write!(
                f,
                "{name:?} could not be opened: {}",
                shared::failure::describe(err)
            ),
        }
    }
}

impl Refusal {
    /// What the user can do about it, shown after the message.
    pub fn hint(&self) -> &'static str {
        match self {
            Refusal::BadName(_) => "give just a file's name, as `dir` lists it",
            Refusal::NotFound(_) | Refusal::LeavesFolder(_) => {
                "`dir` lists the files you can get"
            }
            Refusal::NotAFile(_) => "only plain files are transferred; pick another name",
            Refusal::Io(..) => "look at the log of the side that failed",
        }
    }
}

impl Folder {
    /// Opens an existing folder.
    pub fn open(path: &Path) -> io::Result<Folder> {
        let path = fs::canonicalize(path)?;
        if !path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "that is not a folder",
            ));
        }
        Ok(Folder { path })
    }

    /// Opens a folder, creating it (and its parents) first if it is missing.
    pub fn create(path: &Path) -> io::Result<Folder> {
        fs::create_dir_all(path)?;
        Folder::open(path)
    }

    /// The folder's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file `name` for sending; returns it with its size.
    pub fn open_to_send(&self, name: &str) -> Result<(File, u64), Refusal> {
        // STARTER: resolve the name safely (self.resolve), open the file, and check the OPEN file is a plain file
        let (real, _) = self.resolve(name)?;
        let file = File::open(&real).map_err(|err| Refusal::Io(name.to_string(), err))?;
        // Ask the OPEN file again: between our check and the open, someone
        // could have swapped the file for a folder.
        let metadata = file
            .metadata()
            .map_err(|err| Refusal::Io(name.to_string(), err))?;
        if !metadata.is_file() {
            return Err(Refusal::NotAFile(name.to_string()));
        }
        Ok((file, metadata.len()))
        // STARTER_END
    }

    /// Finds the real path of the shared plain file `name` and its size, or
    /// says why there is none.
    // ANCHOR: resolve
    fn resolve(&self, name: &str) -> Result<(PathBuf, u64), Refusal> {
        check_name(name).map_err(Refusal::BadName)?;
        // The name is plain, but it may still be a symbolic link, and a link
        // can point anywhere (`notes -> /etc/passwd`). Resolve it, then check
        // that the real path is still inside our (canonical) folder.
        let real =
            fs::canonicalize(self.path.join(name)).map_err(|err| match err.kind() {
                io::ErrorKind::NotFound => Refusal::NotFound(name.to_string()),
                _ => Refusal::Io(name.to_string(), err),
            })?;
        if !real.starts_with(&self.path) {
            return Err(Refusal::LeavesFolder(name.to_string()));
        }
        // Only plain files: opening a folder would fail later, and opening a
        // named pipe would block until someone writes into it.
        let metadata =
            fs::metadata(&real).map_err(|err| Refusal::Io(name.to_string(), err))?;
        if !metadata.is_file() {
            return Err(Refusal::NotAFile(name.to_string()));
        }
        Ok((real, metadata.len()))
    }
    // ANCHOR_END: resolve

    /// Checks that a file called `name` may be written here (created, or
    /// replaced if a plain file already has that name).
    ///
    /// A folder or a link of that name is refused: renaming over a link would
    /// replace the link, not what it points to, which would surprise whoever
    /// made it; renaming over a folder fails.
    pub fn check_writable(&self, name: &str) -> Result<(), Refusal> {
        // STARTER: check_name the name, then allow a new name or an existing plain file; refuse a folder or link (symlink_metadata)
        check_name(name).map_err(Refusal::BadName)?;
        match fs::symlink_metadata(self.path.join(name)) {
            Ok(metadata) if metadata.is_file() => Ok(()),
            Ok(_) => Err(Refusal::NotAFile(name.to_string())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Refusal::Io(name.to_string(), err)),
        }
        // STARTER_END
    }

    /// The files this folder shares, sorted by name.
    ///
    /// Only what [`Folder::open_to_send`] would send is listed: plain files
    /// with plain names, and links to plain files inside the folder. Not
    /// listed: sub-folders, hidden files, temporaries, links that lead out.
    pub fn list(&self) -> io::Result<Vec<Entry>> {
        // STARTER: read_dir the folder, keep each UTF-8 name that self.resolve accepts (with its size), and sort by name
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            // An entry that vanished or cannot be read is simply not listed.
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: no peer could ask for it by name
            };
            if let Ok((_, size)) = self.resolve(&name) {
                entries.push(Entry { name, size });
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
        // STARTER_END
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_folder() -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
        fs::write(dir.path().join("café.txt"), "").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub").join("inner.txt"), "inner").unwrap();
        fs::write(dir.path().join(".hidden"), "secret").unwrap();
        fs::write(
            dir.path().join(crate::partial::temporary_name("big.iso")),
            "half",
        )
        .unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        (dir, folder)
    }

    #[test]
    fn a_plain_file_is_opened_with_its_size() {
        let (_dir, folder) = shared_folder();
        let (_, size) = folder.open_to_send("hello.txt").unwrap();
        assert_eq!(size, 6);
    }

    #[test]
    fn paths_missing_files_and_folders_are_refused() {
        let (_dir, folder) = shared_folder();
        assert!(matches!(
            folder.open_to_send("../../etc/passwd"),
            Err(Refusal::BadName(_))
        ));
        assert!(matches!(
            folder.open_to_send("sub/inner.txt"),
            Err(Refusal::BadName(_))
        ));
        assert!(matches!(
            folder.open_to_send("missing.txt"),
            Err(Refusal::NotFound(_))
        ));
        assert!(matches!(
            folder.open_to_send("sub"),
            Err(Refusal::NotAFile(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_is_followed_and_a_link_outside_is_refused_and_unlisted() {
        let (dir, folder) = shared_folder();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "not yours").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("leak"),
        )
        .unwrap();
        std::os::unix::fs::symlink("hello.txt", dir.path().join("greeting")).unwrap();
        std::os::unix::fs::symlink("/nowhere/at/all", dir.path().join("dangling"))
            .unwrap();

        assert!(matches!(
            folder.open_to_send("leak"),
            Err(Refusal::LeavesFolder(_))
        ));
        assert_eq!(folder.open_to_send("greeting").unwrap().1, 6);
        assert!(matches!(
            folder.open_to_send("dangling"),
            Err(Refusal::NotFound(_))
        ));
        let names: Vec<String> =
            folder.list().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["café.txt", "greeting", "hello.txt"]);
        assert!(matches!(
            folder.check_writable("greeting"),
            Err(Refusal::NotAFile(_))
        ));
    }

    #[test]
    fn the_listing_shows_only_plain_shared_files_with_sizes() {
        let (_dir, folder) = shared_folder();
        assert_eq!(
            folder.list().unwrap(),
            [
                Entry {
                    name: "café.txt".into(),
                    size: 0
                },
                Entry {
                    name: "hello.txt".into(),
                    size: 6
                },
            ]
        );
    }

    #[test]
    fn new_names_and_existing_files_are_writable_folders_are_not() {
        let (_dir, folder) = shared_folder();
        assert!(folder.check_writable("new.bin").is_ok());
        assert!(folder.check_writable("hello.txt").is_ok());
        assert!(matches!(
            folder.check_writable("sub"),
            Err(Refusal::NotAFile(_))
        ));
        assert!(matches!(
            folder.check_writable("../escape"),
            Err(Refusal::BadName(_))
        ));
    }

    #[test]
    fn create_makes_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::create(&dir.path().join("served")).unwrap();
        assert!(folder.path().is_dir());
        assert!(Folder::open(&dir.path().join("absent")).is_err());
    }
}
