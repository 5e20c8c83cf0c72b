//! A light sandbox for untrusted code: bubblewrap plus resource limits.
//!
//! A student's programs are run, not read, so they can do anything their
//! user can. Inside [`command`]'s sandbox a whole grade (the grader and every
//! program it starts) sees:
//! - its own network namespace whose only interface is a loopback that is up:
//!   nothing listening on the host (not even on the host's 127.0.0.1) can be
//!   reached, no other machine either, and parallel grades never collide on
//!   a port;
//! - the system read-only; only its scratch folder and a private `/tmp`
//!   (a folder inside scratch, on disk, not in memory) are writable, and
//!   `HOME` is the scratch folder's `home/`;
//! - limits on processes, memory and file size, set with `prlimit` *inside*
//!   the sandbox's own user namespace, where the process count starts at zero
//!   (outside, the limit would count every process the instructor runs).
//!
//! The limits are per process (`RLIMIT_AS`) and per file (`RLIMIT_FSIZE`):
//! enough to stop a runaway allocation, a fork loop or a 100 GiB write, not a
//! quota on the sum. A cgroup would cap the sum, but needs root or systemd.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The bubblewrap program (`apt-get install bubblewrap`).
const BWRAP: &str = "bwrap";

/// Most processes *and threads* the sandbox may hold at once: the grader
/// runs each check in a thread and some checks hold twenty connections, so
/// a few hundred are needed; a fork loop hits the ceiling in a moment.
pub const MAX_PROCESSES: u64 = 512;

/// Most address space one process may map. Threads reserve their stacks
/// in it, so the grader needs about 1 GiB; 2 GiB leaves room for a compiler
/// building a student's crate and stops an allocation of 4 GiB or more.
pub const MAX_MEMORY: u64 = 2 << 30;

/// Largest file a process may write: lab 06's biggest transfer is a few
/// MiB, a release build's largest output tens of MiB.
pub const MAX_FILE: u64 = 256 << 20;

/// Whether this machine can run [`command`]'s sandbox, tried for real with
/// every option it uses, or why not.
pub fn check_available() -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("labkit-sandbox-probe-")
        .tempdir()
        .map_err(|err| format!("cannot make a scratch folder: {err}"))?;
    let mut probe = command(scratch.path(), scratch.path(), "true", &[] as &[&str], &[])?;
    match probe.stdout(Stdio::null()).stderr(Stdio::piped()).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "bubblewrap cannot make a sandbox here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(err) => Err(format!("cannot run {BWRAP}: {err}")),
    }
}

/// The hint that goes with [`check_available`]'s error.
pub const INSTALL_HINT: &str = "install bubblewrap (sudo apt-get install bubblewrap) on a Linux machine \
     with user namespaces, or grade with --no-sandbox on a machine you do not mind exposing";

/// A command that runs `program args` in a fresh sandbox whose writable
/// `scratch` folder (which must exist) holds everything it may write, with
/// `workdir` (inside scratch, or read-only elsewhere) as working directory.
///
/// `visible` lists host folders under `/tmp` that the sandbox must still see
/// (read-only), such as the grader's own binaries when they were built there:
/// the sandbox's `/tmp` is private, so the host's is hidden.
pub fn command<S: AsRef<OsStr>>(
    scratch: &Path,
    workdir: &Path,
    program: impl AsRef<OsStr>,
    args: &[S],
    visible: &[PathBuf],
) -> Result<Command, String> {
    let private_tmp = scratch.join("tmp");
    let home = scratch.join("home");
    for dir in [&private_tmp, &home] {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    let mut bwrap = Command::new(BWRAP);
    bwrap
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        // /tmp first: scratch itself may live under the host's /tmp, and is
        // mounted again on top of the private one below.
        .arg("--bind")
        .args([&private_tmp, Path::new("/tmp")])
        .arg("--bind")
        .args([scratch, scratch]);
    for path in visible {
        bwrap.arg("--ro-bind").args([path, path]);
    }
    bwrap
        // A user namespace of its own: the process limit below counts only
        // this sandbox's processes. The network namespace has only `lo`.
        .args(["--unshare-user", "--unshare-net", "--unshare-pid"])
        .args(["--unshare-ipc", "--unshare-uts"])
        // If the grader dies, so does everything it started.
        .arg("--die-with-parent")
        // No access to the instructor's terminal (TIOCSTI keystroke injection).
        .arg("--new-session")
        .arg("--setenv")
        .args([OsStr::new("HOME"), home.as_os_str()])
        .args(["--setenv", "TMPDIR", "/tmp"])
        // Fewer malloc arenas: each reserves 64 MiB of address space, which
        // counts against the memory limit.
        .args(["--setenv", "MALLOC_ARENA_MAX", "2"]);
    // HOME moves, so cargo and rustup must be told where they really live.
    for (variable, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        if let Some(path) = tool_home(variable, default) {
            bwrap.arg("--setenv").arg(variable).arg(path);
        }
    }
    bwrap
        .arg("--chdir")
        .arg(workdir)
        .args(["--", "prlimit"])
        .arg(format!("--nproc={MAX_PROCESSES}"))
        .arg(format!("--as={MAX_MEMORY}"))
        .arg(format!("--fsize={MAX_FILE}"))
        .arg("--core=0")
        .arg("--")
        .arg(program)
        .args(args);
    Ok(bwrap)
}

/// Where `variable` (CARGO_HOME, RUSTUP_HOME) points, or its default under
/// the real home, if that exists.
fn tool_home(variable: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(variable).map(PathBuf::from).or_else(|| {
        let path = PathBuf::from(std::env::var_os("HOME")?).join(default);
        path.is_dir().then_some(path)
    })
}

/// Host folders under `/tmp` among `paths`: the ones [`command`] must be
/// told about, since the sandbox's `/tmp` hides the host's.
pub fn under_tmp(paths: &[&Path]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|path| path.starts_with("/tmp"))
        .map(|path| path.to_path_buf())
        .collect()
}

/// Runs this very program again, with the same arguments less `flag`,
/// inside a sandbox whose scratch folder is a fresh temporary one, in the
/// current folder (read-only inside); fails as the inner run did.
pub fn run_this_inside(bin_dir: &Path, flag: &str) -> Result<(), shared::Failure> {
    check_available().map_err(|why| shared::Failure::new(why).hint(INSTALL_HINT))?;
    let exe =
        std::env::current_exe().map_err(|err| shared::Failure::io("find this program", &err))?;
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .filter(|arg| arg != flag)
        .collect();
    let here = std::env::current_dir()
        .map_err(|err| shared::Failure::io("find the current folder", &err))?;
    let scratch = tempfile::Builder::new()
        .prefix("labkit-sandbox-")
        .tempdir()
        .map_err(|err| shared::Failure::io("make a scratch folder", &err))?;
    let visible = under_tmp(&[bin_dir, &here, &crate::labs::labs_dir()]);
    let status = command(scratch.path(), &here, &exe, &args, &visible)
        .map_err(shared::Failure::new)?
        .status()
        .map_err(|err| shared::Failure::io(format_args!("run {BWRAP}"), &err))?;
    if status.success() {
        Ok(())
    } else {
        // The inner grade has printed its own report and error line.
        std::process::exit(status.code().unwrap_or(1))
    }
}
