//! `lab02-server`: answers every message of every client in capitals.

use std::process::ExitCode;

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

    #[command(flatten)]
    serving: shared::cli::Serving,

    /// Serve one client at a time (no threads): the next client waits until
    /// the current one leaves
    #[arg(long)]
    sequential: bool,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let settings = Settings {
            idle_timeout: args.serving.idle_timeout,
            max_clients: usize::from(args.serving.max_clients),
            log_messages: !args.serving.quiet,
        };
        let listener =
            shared::net::listen_with_backlog(&args.endpoint, args.serving.backlog)?;
        shared::net::announce(listener.local_addr())?;
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
