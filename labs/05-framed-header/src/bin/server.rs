//! `lab05-server`: answers framed requests for named reports, never running them.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab05_framed_header::Endpoint;
use lab05_framed_header::server::{self, Settings};

/// Answers each request frame with one reply frame: a named report from a
/// fixed list (hello, empty, time, numbers N, echo), until stopped with
/// Ctrl-C. Serves many clients at once, a thread each.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Most clients served at once; more wait in the accept queue
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    max_clients: u16,

    /// Seconds a client may make no progress (send nothing, read nothing)
    /// before the server closes its connection
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = shared::cli::seconds)]
    idle_timeout: Duration,

    /// Length of the queue of connections not yet accepted (listen's argument);
    /// it is NOT a limit on clients
    #[arg(long, default_value_t = shared::net::DEFAULT_BACKLOG)]
    backlog: i32,

    /// Do not log every request (for benchmarks)
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    shared::run(|| {
        let settings = Settings {
            idle_timeout: args.idle_timeout,
            max_clients: usize::from(args.max_clients),
            log_requests: !args.quiet,
        };
        let listener = shared::net::listen_with_backlog(&args.endpoint, args.backlog)?;
        let local = listener
            .local_addr()
            .map_err(|err| shared::Failure::io("read the bound address", &err))?;
        shared::net::announce(local)?;
        eprintln!("serving up to {} clients at once", settings.max_clients);
        server::serve_concurrently(&listener, &settings);
        Ok(())
    })
}
