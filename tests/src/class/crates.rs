//! Building a student's crate, offline, in release mode, as `just grade
//! --crate` does.
//!
//! A class of crates would compile the same dependencies (clap, socket2, …)
//! once per student, about a minute each on two cores. So before grading,
//! [`warm_up`] builds the lab's own starter once, a crate of the same shape
//! with the same lock file; its target folder is copied into each student's
//! scratch, and cargo then compiles only the student's code.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::grade::Subject;
use crate::labs::Lab;

/// The target folder's name, in the (private) temporary folder.
pub const TARGET: &str = "labkit-crate-target";

/// Builds the crate in `folder` offline, in release mode, into the private
/// temporary folder; returns its programs and the build time, or why it
/// does not build (the end of cargo's errors).
pub fn build(lab: &Lab, folder: &Path) -> Result<(Subject, f64), String> {
    let target = std::env::temp_dir().join(TARGET);
    let started = Instant::now();
    let output = Command::new("cargo")
        .args(["build", "--release", "--offline", "--quiet", "--bins"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(folder)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !output.status.success() {
        let errors = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = errors.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        return Err(format!("the crate does not build; cargo said:\n{tail}"));
    }
    let bin_dir = target.join("release");
    for role in ["server", "client"] {
        if !bin_dir.join(lab.binary(role)).is_file() {
            return Err(format!(
                "the crate builds no binary named {} (the binaries must be named as in the lab)",
                lab.binary(role)
            ));
        }
    }
    Ok((
        Subject::reference(lab, &bin_dir),
        started.elapsed().as_secs_f64(),
    ))
}

/// Builds `lab`'s starter (our code, so outside any sandbox) into a new
/// temporary folder whose `target/` holds the lab's dependencies compiled.
pub fn warm_up(lab: &Lab) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new()
        .prefix("labkit-warm-")
        .tempdir()
        .map_err(|err| format!("cannot make a folder for the warm build: {err}"))?;
    let labs = crate::labs::labs_dir();
    let suite = labs.parent().unwrap_or(&labs);
    let starter = crate::starter::generate(lab, suite)?;
    let folder = crate::starter::write(&starter, &dir.path().join("starter"))?;
    let status = Command::new("cargo")
        .args(["build", "--release", "--offline", "--quiet", "--bins"])
        .arg("--target-dir")
        .arg(dir.path().join("target"))
        .current_dir(folder)
        .stdin(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(dir)
    } else {
        Err(format!(
            "lab {}'s starter does not build offline",
            lab.number
        ))
    }
}
