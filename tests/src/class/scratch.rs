//! The scratch side of a grade: copying a submission (or a warm build) into
//! the folder where it runs, and running the grade with a deadline.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a copy keeps the files' modification times, which cargo
/// compares to tell what to rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Keep them: a warm target folder must look as built as it was.
    Keep,
    /// Make them now: a student's sources must look newer than anything
    /// built before, or cargo would keep the warm start's programs.
    Fresh,
}

/// Copies the files and folders under `from` into the new folder `to`.
/// Symbolic links are left out: one could point anywhere on the machine.
pub fn copy_folder(from: &Path, to: &Path, times: Times) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|err| format!("cannot list {}: {err}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| format!("cannot list {}: {err}", from.display()))?;
        let (source, target): (PathBuf, PathBuf) = (entry.path(), to.join(entry.file_name()));
        let kind = entry
            .file_type()
            .map_err(|err| format!("cannot read {}: {err}", source.display()))?;
        if kind.is_dir() {
            copy_folder(&source, &target, times)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)
                .map_err(|err| format!("cannot copy {}: {err}", source.display()))?;
            if times == Times::Keep {
                keep_modified_time(&source, &target)?;
            }
        }
    }
    Ok(())
}

/// Gives `target` the modification time of `source`.
fn keep_modified_time(source: &Path, target: &Path) -> Result<(), String> {
    let failed = |err: std::io::Error| format!("cannot copy {}: {err}", source.display());
    let modified = std::fs::metadata(source)
        .and_then(|meta| meta.modified())
        .map_err(failed)?;
    std::fs::File::options()
        .write(true)
        .open(target)
        .and_then(|file| file.set_modified(modified))
        .map_err(failed)
}

/// Runs `command` to the end, or kills it at `deadline`.
pub(super) fn run_with_deadline(
    command: &mut Command,
    deadline: Duration,
) -> Result<std::process::Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start the grade: {err}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(None) | Err(_) => {
                // Killing bubblewrap ends the whole sandbox: its processes
                // are in its PID namespace and die with it.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the grade did not finish within {} s and was stopped",
                    deadline.as_secs()
                ));
            }
        }
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
