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
//! The kernel never applies the process limit (`RLIMIT_NPROC`) to root, so
//! where we may make a control group (as root, or in a delegated cgroup),
//! each sandbox also gets a `pids` group of its own whose `pids.max` caps its
//! processes and threads together. Memory (`RLIMIT_AS`) and file size
//! (`RLIMIT_FSIZE`) are limits per process and per file: enough to stop a
//! runaway allocation or a 100 GiB write, not a quota on the sum.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

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
    match probe
        .command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "bubblewrap cannot make a sandbox here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(err) => Err(format!("cannot run {BWRAP}: {err}")),
    }
}

/// The hint that goes with [`check_available`]'s error, where `way_out` is
/// how the command at hand grades unsandboxed (`grade-class` has
/// `--no-sandbox`; `grade` is simply run without `--sandbox`).
pub fn install_hint(way_out: &str) -> String {
    format!(
        "install bubblewrap (sudo apt-get install bubblewrap) on a Linux machine with user \
         namespaces, or grade {way_out} on a machine you do not mind exposing"
    )
}

/// A sandboxed command, and the control group that caps its processes (if
/// this machine gave us one), removed when this is dropped: keep it until
/// the command has finished.
pub struct Sandboxed {
    /// The command to run.
    pub command: Command,
    /// Its own `pids` control group, if one could be made.
    pub process_group: Option<ProcessGroup>,
}

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
) -> Result<Sandboxed, String> {
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
        .args([&private_tmp, Path::new("/tmp")]);
    for path in visible {
        bwrap.arg("--ro-bind").args([path, path]);
    }
    // Scratch last: it may lie inside a folder made visible (read-only) above.
    bwrap.arg("--bind").args([scratch, scratch]);
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
    let process_group = ProcessGroup::create();
    let command = match &process_group {
        Some(group) => group.enter_then(&bwrap),
        None => bwrap,
    };
    Ok(Sandboxed {
        command,
        process_group,
    })
}

/// A `pids` control group made for one sandbox, removed when dropped.
pub struct ProcessGroup {
    /// Its folder in the cgroup file system.
    dir: PathBuf,
}

/// Numbers the control groups this program makes, so each is new.
static GROUPS_MADE: AtomicUsize = AtomicUsize::new(0);

impl ProcessGroup {
    /// A new group below ours, capped at [`MAX_PROCESSES`], or `None` where
    /// we may not make one (not root, no `pids` controller, a read-only
    /// cgroup file system).
    pub fn create() -> Option<ProcessGroup> {
        let dir = own_pids_cgroup()?.join(format!(
            "labkit-{}-{}",
            std::process::id(),
            GROUPS_MADE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).ok()?;
        let group = ProcessGroup { dir };
        std::fs::write(group.dir.join("pids.max"), MAX_PROCESSES.to_string())
            .ok()
            .map(|()| group)
    }

    /// `command`, started by a shell that first moves itself into this
    /// group: everything it then runs is born inside, with no moment
    /// outside.
    fn enter_then(&self, command: &Command) -> Command {
        let procs = self.dir.join("cgroup.procs");
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && exec \"$@\"",
                crate::grade::shell_quote(&procs.to_string_lossy())
            ))
            .arg("sh")
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            shell.current_dir(dir);
        }
        shell
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // The sandbox's PID namespace takes every process with it when it
        // ends, but the kernel may take a moment to empty the group; one
        // still in use after a second is left, not broken.
        for _ in 0..20 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// Our own `pids` control group's folder: cgroup v1's `pids` hierarchy, or
/// the v2 group, whichever `/proc/self/cgroup` names and has the controller.
fn own_pids_cgroup() -> Option<PathBuf> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let root = if controllers.split(',').any(|c| c == "pids") {
            PathBuf::from("/sys/fs/cgroup/pids")
        } else if controllers.is_empty() {
            PathBuf::from("/sys/fs/cgroup")
        } else {
            return None;
        };
        let dir = root.join(path.trim_start_matches('/'));
        let has_pids = if controllers.is_empty() {
            std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|enabled| enabled.split_whitespace().any(|c| c == "pids"))
        } else {
            true
        };
        has_pids.then_some(dir)
    })
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
    check_available()
        .map_err(|why| shared::Failure::new(why).hint(install_hint(&format!("without {flag}"))))?;
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
    let visible = under_tmp(&[bin_dir, &here, &crate::labs::suite_dir()]);
    let mut sandboxed =
        command(scratch.path(), &here, &exe, &args, &visible).map_err(shared::Failure::new)?;
    let status = sandboxed
        .command
        .status()
        .map_err(|err| shared::Failure::io(format_args!("run {BWRAP}"), &err))?;
    if status.success() {
        Ok(())
    } else {
        // The inner grade has printed its own report and error line. Exit
        // skips destructors, so the control group is removed first.
        drop(sandboxed);
        drop(scratch);
        std::process::exit(status.code().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs Python `code` in a fresh sandbox and returns what it printed.
    fn run_python(code: &str) -> String {
        run_python_in(tempfile::tempdir().unwrap().path(), code)
    }

    /// Runs Python `code` in a sandbox whose scratch folder is `scratch`
    /// and returns what it printed.
    fn run_python_in(scratch: &Path, code: &str) -> String {
        let mut sandboxed = command(scratch, scratch, "python3", &["-c", code], &[]).unwrap();
        let output = sandboxed.command.output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Outside scratch the system is read-only (the suite's own folder and
    /// `/etc` too); `/tmp` is private, so what is written there never
    /// reaches the host's; `HOME` is a folder of scratch.
    #[test]
    fn only_scratch_and_a_private_tmp_are_writable_and_home_is_in_scratch() {
        let scratch = tempfile::tempdir().unwrap();
        let name = format!("labkit-sandbox-test-{}", std::process::id());
        let outside = [
            std::env::current_dir().unwrap().join(&name),
            Path::new("/etc").join(&name),
            Path::new("/tmp").join(&name),
        ];
        let said = run_python_in(
            scratch.path(),
            &format!(
                "import os\n\
                 def can_write(path):\n\
                 \x20   try:\n\
                 \x20       with open(path, 'w') as out:\n\
                 \x20           out.write('x')\n\
                 \x20       return 'writable'\n\
                 \x20   except OSError:\n\
                 \x20       return 'read-only'\n\
                 for path in {outside:?} + [os.path.join(os.environ['HOME'], 'x')]:\n\
                 \x20   print(can_write(path))\n\
                 print(os.environ['HOME'])\n",
            ),
        );
        // Looked at, and removed, before anything can fail.
        let escaped: Vec<&PathBuf> = outside.iter().filter(|path| path.exists()).collect();
        for path in &escaped {
            let _ = std::fs::remove_file(path);
        }
        let lines: Vec<&str> = said.lines().collect();
        let home = scratch.path().join("home").display().to_string();
        assert_eq!(
            lines,
            ["read-only", "read-only", "writable", "writable", &home],
            "{said}"
        );
        assert!(escaped.is_empty(), "written on the host: {escaped:?}");
    }

    /// A fork loop stops below the process limit, whether the kernel
    /// applies RLIMIT_NPROC (any user but root) or only the control group
    /// does (root).
    #[test]
    fn a_fork_loop_stops_at_the_process_limit() {
        let said = run_python(
            "import os, signal, time\n\
             children = []\n\
             try:\n\
             \x20   for _ in range(2000):\n\
             \x20       pid = os.fork()\n\
             \x20       if pid == 0:\n\
             \x20           time.sleep(30)\n\
             \x20           os._exit(0)\n\
             \x20       children.append(pid)\n\
             except OSError:\n\
             \x20   pass\n\
             for pid in children:\n\
             \x20   os.kill(pid, signal.SIGKILL)\n\
             print(len(children))\n",
        );
        let children: u64 = said.trim().parse().unwrap();
        assert!(children < MAX_PROCESSES, "{children} children were forked");
    }

    /// Files stop growing at the size limit; the sandbox sees only its own
    /// loopback.
    #[test]
    fn files_stop_at_the_size_limit_and_only_loopback_is_up() {
        let said = run_python(
            "import os, socket\n\
             try:\n\
             \x20   with open('big', 'wb') as out:\n\
             \x20       for _ in range(300):\n\
             \x20           out.write(b'x' * (1 << 20))\n\
             except OSError:\n\
             \x20   pass\n\
             print(os.path.getsize('big') >> 20)\n\
             print(sorted(name for _, name in socket.if_nameindex()))\n",
        );
        let lines: Vec<&str> = said.lines().collect();
        assert_eq!(lines, ["256", "['lo']"], "{said}");
    }
}
