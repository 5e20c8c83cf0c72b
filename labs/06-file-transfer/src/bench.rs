//! `lab06-bench`: how fast are `get` and `put`, and how much memory do they
//! take, next to the fastest plain copy this machine can do?
//!
//! The baseline is what a socket file copy costs with nothing added: the
//! file is copied with `std::io::copy` into a loopback `TcpStream`, and on
//! the other side with `std::io::copy` from the stream into a file. Our
//! transfers add framing, SHA-256 on both sides, a temporary file, a sync to
//! disk and a rename; the ratio says what all of that costs.
//!
//! Memory is the peak resident set size (VmHWM in `/proc/PID/status`) of
//! the real server and client processes. A last run shows the tutorials'
//! way, the whole file read into memory before it is sent.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use shared::Failure;

use crate::size::format_size;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The test file's size.
    pub size: u64,
    /// How many times each transfer runs (after one warm-up round); the
    /// median and the best are reported.
    pub runs: usize,
    /// How long the machine rests before each measured transfer.
    pub settle: Duration,
    /// Where the temporary work folder goes.
    pub work_parent: PathBuf,
    /// Where `lab06-server` and `lab06-client` (and this program) are.
    pub bin_dir: PathBuf,
}

/// One kind of transfer, measured.
struct Measured {
    /// Seconds of each run.
    seconds: Vec<f64>,
    /// The highest peak RSS seen in any run, in KiB, if it could be read.
    peak_kib: Option<u64>,
}

impl Measured {
    /// Keeps one run's figures; round 0 (the warm-up) only counts for memory.
    fn record(&mut self, round: usize, seconds: f64, peak_kib: Option<u64>) {
        if round > 0 {
            self.seconds.push(seconds);
        }
        self.peak_kib = self.peak_kib.max(peak_kib);
    }

    /// The best rate in MB/s: the run least disturbed by anything else.
    fn best_mb_per_s(&self, size: u64) -> f64 {
        self.seconds
            .iter()
            .map(|seconds| size as f64 / seconds / 1e6)
            .fold(0.0, f64::max)
    }

    /// The median rate in MB/s (10^6 bytes per second, as network speeds go).
    fn median_mb_per_s(&self, size: u64) -> f64 {
        let mut rates: Vec<f64> = self
            .seconds
            .iter()
            .map(|seconds| size as f64 / seconds / 1e6)
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    }

    fn all_runs(&self, size: u64) -> String {
        self.seconds
            .iter()
            .map(|seconds| format!("{:.0}", size as f64 / seconds / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A folder deleted when dropped, whatever happens: a benchmark must not
/// leave a 1 GiB file behind.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server process killed when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the whole benchmark and prints the report.
pub fn run(plan: &Plan) -> Result<(), Failure> {
    let server_bin = plan.bin_dir.join("lab06-server");
    let client_bin = plan.bin_dir.join("lab06-client");
    for program in [&server_bin, &client_bin] {
        if !program.is_file() {
            return Err(
                Failure::new(format!("{} is missing", program.display())).hint(
                    "build first: cargo build --release -p lab06-file-transfer --bins",
                ),
            );
        }
    }
    let work = WorkDir(
        plan.work_parent
            .join(format!("lab06-bench-{}", std::process::id())),
    );
    let [served, upload, download, baseline] =
        ["served", "upload", "download", "baseline"].map(|name| work.0.join(name));
    for dir in [&served, &upload, &download, &baseline] {
        fs::create_dir_all(dir)
            .map_err(|err| Failure::io(format_args!("create {}", dir.display()), &err))?;
    }
    let source = upload.join("big.bin");

    say(&format!(
        "lab06-bench: a {} file ({} bytes), {} run(s) of each transfer after a warm-up",
        format_size(plan.size),
        plan.size,
        plan.runs
    ))?;
    say(&format!("machine: {}", machine()))?;
    say(&format!(
        "writing the test file in {} ...",
        work.0.display()
    ))?;
    write_test_file(&source, plan.size)
        .map_err(|err| Failure::io(format_args!("write {}", source.display()), &err))?;

    let (server, server_addr) = start_server(&server_bin, &served, plan.size)?;
    let port = server_addr.port().to_string();

    let mut copy = Measured {
        seconds: Vec::new(),
        peak_kib: None,
    };
    let mut copy_and_sync = Measured {
        seconds: Vec::new(),
        peak_kib: None,
    };
    let mut put = Measured {
        seconds: Vec::new(),
        peak_kib: None,
    };
    let mut get = Measured {
        seconds: Vec::new(),
        peak_kib: None,
    };
    // Round 0 warms up: the first use of fresh memory for the page cache is
    // slow on some virtual machines, and it would count against whichever
    // transfer happens to run first.
    for round in 0..=plan.runs {
        if round == 0 {
            say("warm-up round (not counted): copy, put, get")?;
        } else {
            say(&format!("run {round} of {}: copy, put, get", plan.runs))?;
        }
        make_room(&baseline.join("big.bin"), plan.settle)?;
        let seconds = baseline_copy(&source, &baseline.join("big.bin"))?;
        copy.record(round, seconds, None);
        // Our transfers sync their file before the rename; the plain copy
        // does not. Its sync is timed apart, for the table's second row,
        // and keeps its unwritten data from landing in the next timing.
        let started = Instant::now();
        sync_path(&baseline.join("big.bin"))?;
        copy_and_sync.record(round, seconds + started.elapsed().as_secs_f64(), None);

        make_room(&served.join("big.bin"), plan.settle)?;
        let (seconds, peak) =
            run_client(&client_bin, &port, &upload, &["put", "big.bin"])?;
        put.record(round, seconds, peak);
        make_room(&download.join("big.bin"), plan.settle)?;
        let (seconds, peak) =
            run_client(&client_bin, &port, &download, &["get", "big.bin"])?;
        get.record(round, seconds, peak);
        if fs::metadata(download.join("big.bin")).map(|m| m.len()).ok() != Some(plan.size)
        {
            return Err(Failure::new("the downloaded file has the wrong size"));
        }
    }
    let server_peak = peak_rss_kib(server.0.id());
    drop(server);

    let hashing = hash_rate(&source)?;

    say("one more: the tutorials' way, the whole file read into memory, then sent")?;
    let naive_peak = naive_send(&plan.bin_dir.join("lab06-bench"), &source)?;

    report(
        plan.size,
        [&copy, &copy_and_sync, &put, &get],
        server_peak,
        naive_peak,
    )?;
    say(&format!(
        "for scale: reading and hashing the file alone (SHA-256, one core): {hashing:.0} MB/s"
    ))
}

/// How fast one core reads the file (from the page cache, by now) and
/// computes its SHA-256, in MB/s: the part of a transfer's cost that the
/// baseline does not pay.
fn hash_rate(source: &Path) -> Result<f64, Failure> {
    let started = Instant::now();
    let mut file =
        File::open(source).map_err(|err| Failure::io("open the test file", &err))?;
    let mut checksum = crate::checksum::Checksum::new();
    let mut buffer = vec![0u8; crate::protocol::CHUNK_SIZE];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|err| Failure::io("read the test file", &err))?;
        if n == 0 {
            break;
        }
        checksum.update(&buffer[..n]);
        total += n as u64;
    }
    checksum.finish();
    Ok(total as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Prints the results table.
fn report(
    size: u64,
    [copy, copy_and_sync, put, get]: [&Measured; 4],
    server_peak: Option<u64>,
    naive_peak: Option<u64>,
) -> Result<(), Failure> {
    let base = copy.median_mb_per_s(size);
    let mib = |kib: Option<u64>| match kib {
        Some(kib) => format!("{:.1} MiB", kib as f64 / 1024.0),
        None => "n/a".to_string(),
    };
    say("")?;
    let best_base = copy.best_mb_per_s(size);
    let row = |cells: [&str; 7]| {
        format!(
            "{:<34}{:>11}  {:>5}  {:>9}  {:>5}  {:>15}  {:>15}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    say(&row([
        "transfer",
        "median MB/s",
        "ratio",
        "best MB/s",
        "ratio",
        "peak RSS client",
        "peak RSS server",
    ]))?;
    say(&row([
        "baseline: io::copy over loopback",
        &format!("{base:.0}"),
        "1.00",
        &format!("{best_base:.0}"),
        "1.00",
        "-",
        "-",
    ]))?;
    let with_sync = copy_and_sync.median_mb_per_s(size);
    say(&row([
        "baseline + sync_all at the end",
        &format!("{with_sync:.0}"),
        &format!("{:.2}", with_sync / base),
        &format!("{:.0}", copy_and_sync.best_mb_per_s(size)),
        &format!("{:.2}", copy_and_sync.best_mb_per_s(size) / best_base),
        "-",
        "-",
    ]))?;
    for (name, measured) in [("put", put), ("get", get)] {
        let rate = measured.median_mb_per_s(size);
        let best = measured.best_mb_per_s(size);
        say(&row([
            &format!("lab06-client {name}"),
            &format!("{rate:.0}"),
            &format!("{:.2}", rate / base),
            &format!("{best:.0}"),
            &format!("{:.2}", best / best_base),
            &mib(measured.peak_kib),
            &mib(server_peak),
        ]))?;
    }
    say(&row([
        "naive: fs::read + write_all",
        "",
        "",
        "",
        "",
        &mib(naive_peak),
        "-",
    ]))?;
    say("")?;
    for (name, measured) in [
        ("baseline", copy),
        ("baseline + sync", copy_and_sync),
        ("put", put),
        ("get", get),
    ] {
        say(&format!("{name} runs (MB/s): {}", measured.all_runs(size)))?;
    }
    let worst_ratio = put.median_mb_per_s(size).min(get.median_mb_per_s(size)) / base;
    let worst_peak = put.peak_kib.max(get.peak_kib).max(server_peak);
    say(&format!(
        "target: ratio >= 0.90 ({}), peak RSS < 16 MiB ({})",
        if worst_ratio >= 0.9 { "met" } else { "NOT met" },
        match worst_peak {
            Some(kib) if kib < 16 * 1024 => "met",
            Some(_) => "NOT met",
            None => "not measurable here",
        }
    ))
}

/// Prints one line of the report on stdout.
fn say(line: &str) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|err| Failure::io("print the report", &err))
}

/// "2 cores, AMD EPYC": what the numbers were measured on.
fn machine() -> String {
    let cores = thread::available_parallelism().map_or(0, usize::from);
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores, {model}")
}

/// Writes `size` bytes of pseudo-random data, 1 MiB at a time.
///
/// Random-looking bytes, so that nothing on the way (a compressing file
/// system, say) can make the test easier than a real file.
fn write_test_file(path: &Path, size: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            // xorshift64: three shifts, a decent spread of bits, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Deletes the file a transfer is about to write, just before it runs, and
/// has the file system finish the deletion (freeing, and on some disks
/// discarding, a gigabyte of blocks) off the clock. Just before, not at the
/// start of the round: on a virtual machine, memory freed a few seconds
/// earlier may have been handed back to the host, and touching it again is
/// slow; memory freed a moment ago is not, so each transfer starts alike.
fn make_room(path: &Path, settle: Duration) -> Result<(), Failure> {
    // A pause first: the disk under a virtual machine may still be writing
    // the previous gigabyte for a while after the sync returned, and the
    // next transfer would pay for it.
    thread::sleep(settle);
    remove_if_there(path)?;
    match path.parent() {
        Some(folder) => sync_path(folder),
        None => Ok(()),
    }
}

/// Asks the operating system to put everything written to `path` (a file,
/// or a folder's entries) on the disk now.
fn sync_path(path: &Path) -> Result<(), Failure> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|err| Failure::io(format_args!("sync {}", path.display()), &err))
}

fn remove_if_there(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(Failure::io(format_args!("remove {}", path.display()), &err))
        }
        _ => Ok(()),
    }
}

/// The baseline: `io::copy` from the file into a loopback connection, and
/// `io::copy` from the connection into a new file, in two threads. Returns
/// the seconds from connect to the last byte written.
// ANCHOR: baseline
fn baseline_copy(source: &Path, destination: &Path) -> Result<f64, Failure> {
    let fail = |doing: &str, err: io::Error| Failure::io(doing, &err);
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|err| fail("listen for the baseline", err))?;
    let addr = listener
        .local_addr()
        .map_err(|err| fail("read the baseline's address", err))?;
    let destination = destination.to_path_buf();
    let receiver = thread::spawn(move || -> io::Result<u64> {
        let (mut connection, _) = listener.accept()?;
        let mut file = File::create(&destination)?;
        io::copy(&mut connection, &mut file)
    });
    let started = Instant::now();
    let mut file = File::open(source).map_err(|err| fail("open the test file", err))?;
    let mut stream =
        TcpStream::connect(addr).map_err(|err| fail("connect for the baseline", err))?;
    io::copy(&mut file, &mut stream).map_err(|err| fail("send the baseline", err))?;
    // Closing our side is how the receiver's copy learns it has everything.
    drop(stream);
    receiver
        .join()
        .map_err(|_| Failure::new("the baseline's receiver panicked"))?
        .map_err(|err| fail("receive the baseline", err))?;
    Ok(started.elapsed().as_secs_f64())
}
// ANCHOR_END: baseline

/// Starts `lab06-server --port 0` on `served`; returns it with its address.
fn start_server(
    program: &Path,
    served: &Path,
    size: u64,
) -> Result<(ServerProcess, SocketAddr), Failure> {
    let mut child = Command::new(program)
        .args(["--port", "0", "--quiet", "--max-size", &size.to_string()])
        .arg("--root")
        .arg(served)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| Failure::io(format_args!("start {}", program.display()), &err))?;
    let stdout = child.stdout.take();
    let server = ServerProcess(child);
    let mut line = String::new();
    if let Some(stdout) = stdout {
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|err| Failure::io("read the server's listening line", &err))?;
    }
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .ok_or_else(|| {
            Failure::new(format!("the server printed {line:?}, not its address"))
        })?;
    Ok((server, addr))
}

/// Runs `lab06-client ARGS` to the end, watching its memory; returns the
/// seconds it took and its peak RSS in KiB.
fn run_client(
    program: &Path,
    port: &str,
    dir: &Path,
    args: &[&str],
) -> Result<(f64, Option<u64>), Failure> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(["--port", port, "--quiet", "--dir"])
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| Failure::io(format_args!("start {}", program.display()), &err))?;
    let (status, peak) = watch(&mut child)?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        return Err(Failure::new(format!(
            "lab06-client {} failed: {}",
            args.join(" "),
            stderr.trim()
        )));
    }
    Ok((seconds, peak))
}

/// Waits for `child` to exit, reading its peak RSS every 2 ms meanwhile.
///
/// The kernel keeps the peak (VmHWM) up to date, but forgets it when the
/// process ends, so the last reading before the exit is the answer.
fn watch(child: &mut Child) -> Result<(std::process::ExitStatus, Option<u64>), Failure> {
    let mut peak = None;
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|err| Failure::io("wait for a child process", &err))?
        {
            return Ok((status, peak));
        }
        peak = peak.max(peak_rss_kib(child.id()));
        thread::sleep(Duration::from_millis(2));
    }
}

/// A process's peak resident set size in KiB, from `/proc/PID/status`
/// (Linux only; elsewhere `None`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs this program as `--naive-send ADDR FILE` against a receiver that
/// discards everything, and returns that child's peak RSS.
fn naive_send(this_program: &Path, source: &Path) -> Result<Option<u64>, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|err| Failure::io("listen for the naive sender", &err))?;
    let addr = listener
        .local_addr()
        .map_err(|err| Failure::io("read the naive sender's address", &err))?;
    let receiver = thread::spawn(move || -> io::Result<u64> {
        let (mut connection, _) = listener.accept()?;
        io::copy(&mut connection, &mut io::sink())
    });
    let mut child = Command::new(this_program)
        .arg("--naive-send")
        .arg(addr.to_string())
        .arg(source)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|err| Failure::io("start the naive sender", &err))?;
    let (status, peak) = watch(&mut child)?;
    receiver
        .join()
        .map_err(|_| Failure::new("the naive receiver panicked"))?
        .map_err(|err| Failure::io("receive from the naive sender", &err))?;
    if !status.success() {
        return Err(Failure::new("the naive sender failed"));
    }
    Ok(peak)
}

/// The tutorials' sender: the whole file in memory, then one big send.
///
/// Shown only to be measured: memory grows with the file, so a 1 GiB file
/// costs 1 GiB of RAM, and a file larger than the RAM cannot be sent at all.
// ANCHOR: naive
pub fn naive_sender(addr: &str, file: &Path) -> Result<(), Failure> {
    let whole = fs::read(file).map_err(|err| Failure::io("read the whole file", &err))?;
    let mut stream = TcpStream::connect(addr)
        .map_err(|err| Failure::io(format_args!("connect to {addr}"), &err))?;
    stream
        .write_all(&whole)
        .map_err(|err| Failure::io("send the whole file", &err))
}
// ANCHOR_END: naive
