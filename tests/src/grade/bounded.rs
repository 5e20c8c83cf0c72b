//! Running a student's program to its end, bounded in time whatever it does.
//!
//! A program under grading may exit at once, never exit, never read its
//! stdin, or leave a background process holding its stdout open. None of
//! these may hold the grader: the program runs in a process group of its
//! own, its output is collected by reader threads that are never waited on
//! past the deadline, and when the program ends (or its time is up, or the
//! check it belongs to is cancelled) the whole group is killed.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The most bytes kept of one output stream: a program that floods its
/// output must not flood the grader's memory.
const MAX_OUTPUT: usize = 1 << 20;

/// How often the program is looked at while it runs: often enough that a
/// quick program is not slowed down, rarely enough to cost nothing.
const POLL: Duration = Duration::from_millis(5);

/// How long the output readers get to reach the end of the pipes after the
/// program's group is killed. They normally need milliseconds, but on a busy
/// machine a reader thread may not run for a while, and what it has not read
/// yet would be lost: only a process that left the group (a daemon) can keep
/// a pipe open past this.
const DRAIN: Duration = Duration::from_secs(5);

/// How a bounded run ended.
#[derive(Debug)]
pub enum Ending {
    /// The program exited by itself.
    Exited(ExitStatus),
    /// It was still running when its time was up, and was killed.
    TimedOut,
    /// The check it belongs to was cancelled, and it was killed.
    Cancelled,
}

/// What a bounded run produced.
#[derive(Debug)]
pub struct Run {
    /// How it ended.
    pub ending: Ending,
    /// What it printed on stdout (at most [`MAX_OUTPUT`] bytes).
    pub stdout: Vec<u8>,
    /// What it printed on stderr (at most [`MAX_OUTPUT`] bytes).
    pub stderr: Vec<u8>,
}

/// What a program is given on its stdin, which is then closed.
pub struct Input {
    /// Written at once.
    pub now: Vec<u8>,
    /// Written only once the gate opens (a message on it, or its sender
    /// dropped): a check can make sure something has happened on the
    /// network before the program can read its next line.
    pub later: Option<(mpsc::Receiver<()>, Vec<u8>)>,
}

impl From<&[u8]> for Input {
    fn from(bytes: &[u8]) -> Input {
        Input {
            now: bytes.to_vec(),
            later: None,
        }
    }
}

/// Runs `command` with `stdin` as its input until it exits, `timeout`
/// passes, or `cancelled` becomes true, and kills its process group after.
pub fn run(
    mut command: Command,
    stdin: Input,
    timeout: Duration,
    cancelled: &AtomicBool,
) -> std::io::Result<Run> {
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + timeout;
    // Written from a thread of its own: a program that never reads its stdin
    // must not block the grader once the pipe is full.
    if let Some(mut pipe) = child.stdin.take() {
        thread::spawn(move || {
            if pipe.write_all(&stdin.now).is_err() {
                return;
            }
            if let Some((gate, later)) = stdin.later {
                let _ = gate.recv();
                let _ = pipe.write_all(&later);
            }
        });
    }
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let ending = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Ending::Exited(status);
        }
        if cancelled.load(Ordering::Relaxed) {
            break Ending::Cancelled;
        }
        if Instant::now() >= deadline {
            break Ending::TimedOut;
        }
        thread::sleep(POLL);
    };
    // The group outlives its first process when that one started others in
    // the background; they are part of the run, and end with it. The group
    // still exists here: its leader is not yet reaped, or was reaped just now.
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let drained = Instant::now() + DRAIN;
    while !(stdout.is_done() && stderr.is_done()) && Instant::now() < drained {
        thread::sleep(POLL);
    }
    Ok(Run {
        ending,
        stdout: stdout.bytes(),
        stderr: stderr.bytes(),
    })
}

/// Sends SIGKILL to every process of the group `group`.
pub fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The bytes of one output stream, read by a thread of its own.
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
}

impl Collected {
    /// Whether the stream has ended.
    fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// What has been read so far.
    fn bytes(&self) -> Vec<u8> {
        self.bytes
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default()
    }
}

/// Reads `pipe` to its end in a thread, keeping the first [`MAX_OUTPUT`]
/// bytes and discarding the rest (so the writer is never blocked).
fn collect(pipe: Option<impl Read + Send + 'static>) -> Collected {
    let collected = Collected {
        bytes: Arc::new(Mutex::new(Vec::new())),
        done: Arc::new(AtomicBool::new(pipe.is_none())),
    };
    if let Some(mut pipe) = pipe {
        let (bytes, done) = (Arc::clone(&collected.bytes), Arc::clone(&collected.done));
        thread::spawn(move || {
            let mut buffer = [0; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                if let Ok(mut bytes) = bytes.lock() {
                    let room = MAX_OUTPUT.saturating_sub(bytes.len());
                    bytes.extend_from_slice(&buffer[..n.min(room)]);
                }
            }
            done.store(true, Ordering::Relaxed);
        });
    }
    collected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_quick_program_gives_its_output_and_status() {
        let never = AtomicBool::new(false);
        let run = run(
            sh("cat; echo oops >&2; exit 3"),
            b"typed".as_slice().into(),
            Duration::from_secs(10),
            &never,
        )
        .expect("sh runs");
        assert!(matches!(run.ending, Ending::Exited(status) if status.code() == Some(3)));
        assert_eq!(run.stdout, b"typed");
        assert_eq!(run.stderr, b"oops\n");
    }

    /// What comes after the gate is written only once the gate opens: the
    /// program sees the file made just before, when its second line comes.
    #[test]
    fn the_input_after_the_gate_waits_for_it() {
        let never = AtomicBool::new(false);
        let folder = tempfile::tempdir().expect("a scratch folder");
        let marker = folder.path().join("opened");
        let (open, gate) = mpsc::channel();
        let made = marker.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            std::fs::write(&made, "").expect("the marker is written");
            open.send(()).expect("the run waits for the gate");
        });
        let script = format!(
            "read first; echo \"$first\"; read second; test -f '{}' && echo \"$second\"",
            marker.display()
        );
        let input = Input {
            now: b"one\n".to_vec(),
            later: Some((gate, b"two\n".to_vec())),
        };
        let run = run(sh(&script), input, Duration::from_secs(10), &never).expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&run.stdout), "one\ntwo\n");
    }

    #[test]
    fn a_background_process_holding_stdout_does_not_hold_the_run() {
        let never = AtomicBool::new(false);
        let started = Instant::now();
        let run = run(
            sh("sleep 600 & echo started"),
            b"".as_slice().into(),
            Duration::from_secs(10),
            &never,
        )
        .expect("sh runs");
        assert!(matches!(run.ending, Ending::Exited(_)));
        assert_eq!(run.stdout, b"started\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_program_that_never_ends_is_killed_at_its_deadline() {
        let never = AtomicBool::new(false);
        let started = Instant::now();
        let run = run(
            sh("sleep 600"),
            b"".as_slice().into(),
            Duration::from_millis(300),
            &never,
        )
        .expect("sh runs");
        assert!(matches!(run.ending, Ending::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_cancelled_run_stops_at_once() {
        let cancelled = AtomicBool::new(true);
        let run = run(
            sh("sleep 600"),
            b"".as_slice().into(),
            Duration::from_secs(60),
            &cancelled,
        )
        .expect("sh runs");
        assert!(matches!(run.ending, Ending::Cancelled));
    }
}
