//! `lab02-server`: answers every message of every client in capitals.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab02_loops::Endpoint;
use lab02_loops::server::{self, Settings};

/// Answers every message of every client in CAPITAL letters, until stopped
/// with Ctrl-C. Serves many clients at once, a thread each.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Serve one client at a time (no threads): the next client waits until
    /// the current one leaves
    #[arg(long)]
    sequential: bool,

    /// Most clients served at once; more wait in the accept queue
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    max_clients: u16,

    /// Seconds a client may stay silent before the server closes its connection
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = shared::cli::seconds)]
    idle_timeout: Duration,

    /// Length of the queue of connections not yet accepted (listen's argument);
    /// it is NOT a limit on clients
    #[arg(long, default_value_t = shared::net::DEFAULT_BACKLOG)]
    backlog: i32,

    /// Do not log every message (for benchmarks)
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    shared::run(|| {
        let settings = Settings {
            idle_timeout: args.idle_timeout,
            max_clients: usize::from(args.max_clients),
            log_messages: !args.quiet,
        };
        let listener = shared::net::listen_with_backlog(&args.endpoint, args.backlog)?;
        let local = listener
            .local_addr()
            .map_err(|err| shared::Failure::io("read the bound address", &err))?;
        shared::net::announce(local)?;
        if args.sequential {
            eprintln!("serving one client at a time");
            server::serve_one_by_one(&listener, &settings);
        } else {
            eprintln!("serving up to {} clients at once", settings.max_clients);
            server::serve_concurrently(&listener, &settings);
        }
        Ok(())
    })
}
