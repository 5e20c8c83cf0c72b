//! `lab06-bench`: get and put of a big file against a plain copy, with the
//! peak memory of both sides. Build in release mode first.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab06_file_transfer::bench::{self, Plan};
use lab06_file_transfer::size::parse_size;
use shared::Failure;

/// Measures lab06-client get and put of one big file over loopback, next to
/// a plain std::io::copy of the same file (this machine's limit), and the
/// peak memory of the client and the server. Run it from a release build:
/// cargo build --release -p lab06-file-transfer --bins && target/release/lab06-bench
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The test file's size, such as 1GiB or 64MiB (a quick run)
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    size: u64,

    /// How many times to run each transfer (the median is reported)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,

    /// Seconds to rest before each measured transfer, so that the disk has
    /// finished writing the previous one
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = shared::cli::seconds)]
    settle: Duration,

    /// Where to put the temporary test folder (deleted at the end)
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    work_dir: PathBuf,

    /// Internal: act as the naive sender (whole file in memory) the
    /// benchmark measures; ADDR then FILE
    #[arg(long, hide = true, num_args = 2, value_names = ["ADDR", "FILE"])]
    naive_send: Option<Vec<String>>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        if let Some([addr, file]) = args.naive_send.as_deref() {
            return bench::naive_sender(addr, file.as_ref());
        }
        let exe = std::env::current_exe()
            .map_err(|err| Failure::io("find this program's folder", &err))?;
        let bin_dir = exe.parent().unwrap_or(&exe).to_path_buf();
        bench::run(&Plan {
            size: args.size,
            runs: usize::from(args.runs),
            settle: args.settle,
            work_parent: args.work_dir,
            bin_dir,
        })
    })
}
