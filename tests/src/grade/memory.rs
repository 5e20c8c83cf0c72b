//! How much memory a server has used at most, as Linux counts it.
//!
//! A server that reads a whole file into memory before sending it works in
//! every test with small files, and falls over on the first big one (or
//! with a few clients at once). No byte on the wire shows it; the server's
//! peak resident memory does. Linux keeps it per process as `VmHWM` ("high
//! water mark") in `/proc/PID/status`; other systems have no `/proc`, and
//! there the check that needs it is skipped.

use std::collections::HashMap;
use std::fs;

/// Whether this machine shows processes' peak memory (Linux's `/proc`).
pub fn can_measure() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| status.contains("VmHWM:"))
}

/// The peak resident memory, in KiB, of process `pid` and every process
/// below it, added up: a server may be a script that starts the real one.
/// `None` if `pid` cannot be read (it has exited, or there is no `/proc`).
pub fn peak_kib_of_tree(pid: u32) -> Option<u64> {
    let own = peak_kib(pid)?;
    let children = children_by_parent();
    let mut total = own;
    let mut waiting = children.get(&pid).cloned().unwrap_or_default();
    while let Some(child) = waiting.pop() {
        total += peak_kib(child).unwrap_or(0);
        waiting.extend(children.get(&child).into_iter().flatten());
    }
    Some(total)
}

/// `VmHWM` of one process, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every process's children, from each `/proc/PID/stat`'s parent field.
fn children_by_parent() -> HashMap<u32, Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        // The command's name, in parentheses, may hold spaces or `)`: the
        // fields that follow are counted from the last `)`.
        let parent = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                let after_name = &stat[stat.rfind(')')? + 1..];
                after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        if let Some(parent) = parent {
            children.entry(parent).or_default().push(pid);
        }
    }
    children
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_child_that_grows_raises_its_parents_tree_peak() {
        if !can_measure() {
            return;
        }
        // sh starts python, which holds 64 MiB for a moment: the peak of
        // sh's tree must include it.
        let mut child = Command::new("sh")
            .args([
                "-c",
                "python3 -c 'import time; b = bytearray(64 << 20); time.sleep(3)'; true",
            ])
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut peak = 0;
        while peak < 60 * 1024 && std::time::Instant::now() < deadline {
            peak = peak_kib_of_tree(pid).unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait().unwrap();
        assert!(peak >= 60 * 1024, "peak {peak} KiB");
    }
}
