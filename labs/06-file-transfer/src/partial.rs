//! A file that is still arriving: written under a temporary name, renamed
//! into place only once it is complete and its SHA-256 checks out.
//!
//! The tutorials open the final file and write into it as bytes come in. If
//! the connection breaks halfway, what is left under that name is half a
//! file that looks like a whole one, and if a file of that name existed, it
//! is already destroyed. Here nothing touches the final name until the very
//! end, and then a single `rename` swaps the complete file in: anyone who
//! opens the name sees either the old file or the new one, never a mix.
//!
//! ```text
//!   .report.pdf.partial-3f9a1c2b7d5e6f01   <- bytes arrive here, hashed as written
//!           |  complete, digest matches: sync to disk, then rename
//!           v
//!   report.pdf                              <- appears (or is replaced) at once
//! ```
//!
//! The sync to disk is what makes the rename safe even across a power cut,
//! and for a big file it is slow; so while the file arrives, a helper thread
//! keeps flushing what has been written so far, and the final sync has
//! almost nothing left to do.

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use crate::checksum::Checksum;

/// What marks a temporary: `.NAME.partial-` and 16 hex digits.
const MARKER: &str = ".partial-";

/// How much of the final name a temporary's name keeps, so that a long name
/// plus the marker still fits in the 255 bytes a file system allows.
const KEPT_NAME_BYTES: usize = 200;

/// Why a received file was not put in place.
#[derive(Debug)]
pub enum CommitError {
    /// The bytes that arrived do not have the digest the sender announced:
    /// they were damaged, or they are not what the sender meant to send.
    Mismatch {
        /// The digest the sender announced.
        expected: String,
        /// The digest of the bytes that arrived.
        actual: String,
    },
    /// Syncing or renaming the file failed (disk full, permissions, ...).
    Io(io::Error),
}

/// A file being received. Dropping it without [`PartialFile::commit`]
/// deletes the temporary, so every early return and every error path cleans
/// up by itself.
#[derive(Debug)]
pub struct PartialFile {
    /// `None` once the file has been closed for the rename.
    file: Option<File>,
    temporary: PathBuf,
    destination: PathBuf,
    checksum: Checksum,
    written: u64,
    /// How much had been written when the last background flush started.
    flushed_at: u64,
    /// [`FLUSH_EVERY`], except in tests that want to see flushes on tiny files.
    flush_every: u64,
    /// The background flush under way, if any (see [`FLUSH_EVERY`]).
    flushing: Option<JoinHandle<io::Result<()>>>,
    committed: bool,
}

/// While a file arrives, every this many bytes a helper thread asks the disk
/// to store what was written so far.
///
/// Why: `commit` must sync the file to disk before the rename, and syncing a
/// whole 1 GiB at the end made a transfer wait about half a second with the
/// network idle. Flushing in the background while the rest arrives leaves
/// the final sync almost nothing to do.
pub const FLUSH_EVERY: u64 = 64 * 1024 * 1024;

impl PartialFile {
    /// Starts receiving `folder/name`: creates a new, empty temporary next to
    /// it (in the same folder, hence on the same file system, which is what
    /// makes the final rename atomic).
    pub fn create(folder: &Path, name: &str) -> io::Result<PartialFile> {
        // ANCHOR: create_temporary
        loop {
            let temporary = folder.join(temporary_name(name));
            // `create_new` fails if the name exists: we never truncate or
            // share a file someone else is writing, even if two random
            // suffixes ever collided (then we simply draw another one).
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temporary)
            {
                Ok(file) => {
                    return Ok(PartialFile {
                        file: Some(file),
                        temporary,
                        destination: folder.join(name),
                        checksum: Checksum::new(),
                        written: 0,
                        flushed_at: 0,
                        flush_every: FLUSH_EVERY,
                        flushing: None,
                        committed: false,
                    });
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
        }
        // ANCHOR_END: create_temporary
    }

    /// Appends a chunk and adds it to the running digest.
    pub fn write_all(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file was already closed"))?;
        file.write_all(chunk)?;
        self.checksum.update(chunk);
        self.written += chunk.len() as u64;
        // ANCHOR: flush_in_background
        let idle = self.flushing.as_ref().is_none_or(JoinHandle::is_finished);
        if self.written - self.flushed_at >= self.flush_every && idle {
            // A second handle on the same open file, for the helper thread.
            let handle = file.try_clone()?;
            // The last flush is finished; this collects its result.
            self.finish_flush()?;
            self.flushing = Some(thread::spawn(move || handle.sync_data()));
            self.flushed_at = self.written;
        }
        // ANCHOR_END: flush_in_background
        Ok(())
    }

    /// Waits for the background flush, if one is running, and reports its
    /// error: a disk that fails in the helper thread fails the transfer.
    fn finish_flush(&mut self) -> io::Result<()> {
        match self.flushing.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(err))) => Err(err),
            Some(Err(_)) => Err(io::Error::other("the flushing thread panicked")),
        }
    }

    /// The temporary's path, for tests and for messages.
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// Puts the file in place if its digest is `expected`; otherwise deletes
    /// it. Returns the digest on success.
    pub fn commit(mut self, expected: &str) -> Result<String, CommitError> {
        // STARTER: compare the digest; on a mismatch return the error (dropping self deletes the temporary); else flush, sync_all, rename into place
        // ANCHOR: commit
        let actual = std::mem::take(&mut self.checksum).finish();
        if actual != expected {
            // Returning drops `self`, which deletes the temporary: bad data
            // is never kept, not even under the temporary name.
            return Err(CommitError::Mismatch {
                expected: expected.to_string(),
                actual,
            });
        }
        self.finish_flush().map_err(CommitError::Io)?;
        if let Some(file) = self.file.take() {
            // Ask the disk to really hold the bytes BEFORE the rename makes
            // them visible; otherwise a power cut just after the rename could
            // leave the final name pointing at a file with missing data.
            file.sync_all().map_err(CommitError::Io)?;
        }
        // One system call: the name now leads to the complete new file. An
        // older file of the same name is replaced in the same step.
        fs::rename(&self.temporary, &self.destination).map_err(CommitError::Io)?;
        self.committed = true;
        // ANCHOR_END: commit
        Ok(actual)
        // STARTER_END
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            // Close before deleting (Windows cannot delete an open file).
            self.file.take();
            // Nothing more we can do if this fails; the next start of the
            // server (or the client's clean-up) removes stale temporaries.
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

/// A fresh temporary name for `name`: `.NAME.partial-<16 random hex digits>`.
///
/// The leading dot hides it (and `check_name` refuses names with one, so no
/// peer can ask for a temporary or overwrite one); the random part lets many
/// transfers of the same name run at once without meeting.
pub fn temporary_name(name: &str) -> String {
    let mut kept = name.len().min(KEPT_NAME_BYTES);
    while !name.is_char_boundary(kept) {
        kept -= 1;
    }
    format!(".{}{MARKER}{:016x}", &name[..kept], random_u64())
}

/// Whether a file name is one of our temporaries.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(MARKER).is_some_and(|(_, suffix)| {
            suffix.len() == 16 && suffix.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
}

/// A random number without a dependency: the standard library seeds every
/// `RandomState` from the operating system's randomness (it exists to keep
/// hash maps safe from attackers); a counter makes each call differ.
fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    RandomState::new()
        .hash_one((CALLS.fetch_add(1, Ordering::Relaxed), std::process::id()))
}

/// Deletes the temporaries in `folder` that nobody has written to for at
/// least `older_than`, and returns how many it deleted.
///
/// A process that is killed (power cut, `kill -9`) cannot clean up after
/// itself, so a later process does it. The server owns its folder and calls
/// this with zero at start; a client, which may share its folder with other
/// clients still downloading, only removes temporaries idle for long.
pub fn remove_stale(folder: &Path, older_than: Duration) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(folder)? {
        // One unreadable entry is not a reason to stop cleaning the others.
        let Ok(entry) = entry else { continue };
        let is_ours = entry.file_name().to_str().is_some_and(is_temporary);
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let idle = metadata
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .unwrap_or(Duration::ZERO);
        if is_ours
            && metadata.is_file()
            && idle >= older_than
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> String {
        let mut checksum = Checksum::new();
        checksum.update(bytes);
        checksum.finish()
    }

    fn names_in(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_verified_file_appears_under_its_name_only_at_commit() {
        let folder = tempfile::tempdir().unwrap();
        let mut partial = PartialFile::create(folder.path(), "report.pdf").unwrap();
        partial.write_all(b"first half, ").unwrap();
        partial.write_all(b"second half").unwrap();
        let temporary = names_in(folder.path());
        assert_eq!(temporary.len(), 1);
        assert!(is_temporary(&temporary[0]), "{temporary:?}");
        assert!(temporary[0].starts_with(".report.pdf.partial-"));

        let digest = partial.commit(&sha256(b"first half, second half")).unwrap();
        assert_eq!(digest, sha256(b"first half, second half"));
        assert_eq!(names_in(folder.path()), ["report.pdf"]);
        assert_eq!(
            fs::read(folder.path().join("report.pdf")).unwrap(),
            b"first half, second half"
        );
    }

    #[test]
    fn background_flushes_along_the_way_do_not_change_the_result() {
        let folder = tempfile::tempdir().unwrap();
        let mut partial = PartialFile::create(folder.path(), "flushed.bin").unwrap();
        partial.flush_every = 1000;
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(777) {
            partial.write_all(chunk).unwrap();
        }
        assert!(partial.flushed_at > 0, "at least one flush was started");
        partial.commit(&sha256(&data)).unwrap();
        assert_eq!(fs::read(folder.path().join("flushed.bin")).unwrap(), data);
    }

    #[test]
    fn a_wrong_digest_keeps_nothing_and_the_old_file_survives() {
        let folder = tempfile::tempdir().unwrap();
        fs::write(folder.path().join("notes.txt"), "old notes").unwrap();
        let mut partial = PartialFile::create(folder.path(), "notes.txt").unwrap();
        partial.write_all(b"new notes").unwrap();
        match partial.commit(&sha256(b"something else")) {
            Err(CommitError::Mismatch { expected, actual }) => {
                assert_eq!(expected, sha256(b"something else"));
                assert_eq!(actual, sha256(b"new notes"));
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
        assert_eq!(names_in(folder.path()), ["notes.txt"]);
        assert_eq!(
            fs::read_to_string(folder.path().join("notes.txt")).unwrap(),
            "old notes"
        );
    }

    #[test]
    fn an_abandoned_transfer_leaves_no_trace() {
        let folder = tempfile::tempdir().unwrap();
        fs::write(folder.path().join("data.bin"), "intact").unwrap();
        let mut partial = PartialFile::create(folder.path(), "data.bin").unwrap();
        partial.write_all(&[0; 1000]).unwrap();
        drop(partial);
        assert_eq!(names_in(folder.path()), ["data.bin"]);
        assert_eq!(
            fs::read_to_string(folder.path().join("data.bin")).unwrap(),
            "intact"
        );
    }

    #[test]
    fn two_transfers_of_one_name_use_two_temporaries() {
        let folder = tempfile::tempdir().unwrap();
        let first = PartialFile::create(folder.path(), "same.txt").unwrap();
        let second = PartialFile::create(folder.path(), "same.txt").unwrap();
        assert_ne!(first.temporary(), second.temporary());
    }

    #[test]
    fn temporary_names_fit_and_are_recognised() {
        let long = "é".repeat(127);
        let name = temporary_name(&long);
        assert!(name.len() <= 255, "{}", name.len());
        assert!(is_temporary(&name));
        assert!(!is_temporary("report.partial-0123456789abcdef"));
        assert!(!is_temporary(".report.partial-0123"));
        assert!(!is_temporary(".bashrc"));
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let folder = tempfile::tempdir().unwrap();
        let keep = [".bashrc", "report.pdf", ".x.partial-short"];
        for name in keep {
            fs::write(folder.path().join(name), "keep").unwrap();
        }
        let stale = temporary_name("old.bin");
        let fresh = temporary_name("new.bin");
        fs::write(folder.path().join(&stale), "stale").unwrap();
        fs::write(folder.path().join(&fresh), "fresh").unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(folder.path().join(&stale))
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();

        assert_eq!(
            remove_stale(folder.path(), Duration::from_secs(600)).unwrap(),
            1
        );
        assert!(!folder.path().join(&stale).exists());
        assert!(folder.path().join(&fresh).exists());

        assert_eq!(remove_stale(folder.path(), Duration::ZERO).unwrap(), 1);
        let mut expected: Vec<String> =
            keep.iter().map(|name| name.to_string()).collect();
        expected.sort();
        assert_eq!(names_in(folder.path()), expected);
    }
}
