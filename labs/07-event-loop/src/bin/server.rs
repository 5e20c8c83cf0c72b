//! `lab07-server`: answers every line of every client in capitals, from one thread.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use lab07_event_loop::server::Settings;
use lab07_event_loop::{Endpoint, event_loop, open_files, tasks};

/// The accept queue of a server built for thousands of clients arriving
/// together: one thread accepts them all, and while it answers others, a
/// burst of new clients waits in this queue. With the suite's usual 128, a
/// burst of 1,000 overflows it, and the clients left out see their connect
/// stall for a second while their SYN is sent again (lab 02 shows this).
const BACKLOG: i32 = 4096;

/// Answers every line of every client in CAPITAL letters, until stopped with
/// Ctrl-C. Serves all clients from one thread, with a readiness loop.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Which readiness loop serves the clients: our own, written with mio,
    /// or tokio's, with a task per client (both on one thread)
    #[arg(long, value_enum, default_value_t = Engine::Mio)]
    engine: Engine,

    /// Seconds a client may make no progress (send nothing, read nothing)
    /// before the server closes its connection
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = shared::cli::seconds)]
    idle_timeout: Duration,

    /// Length of the queue of connections not yet accepted (listen's
    /// argument; the kernel caps it at net.core.somaxconn)
    #[arg(long, default_value_t = BACKLOG)]
    backlog: i32,

    /// Do not log every connection (for benchmarks)
    #[arg(long)]
    quiet: bool,
}

/// The two ways this lab serves clients.
#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// Our readiness loop, written by hand with mio (the lesson)
    Mio,
    /// The same server as tokio tasks on a current-thread runtime
    Tokio,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let settings = Settings {
            idle_timeout: args.idle_timeout,
            log_connections: !args.quiet,
        };
        let listener = shared::net::listen_with_backlog(&args.endpoint, args.backlog)?;
        shared::net::announce(listener.local_addr())?;
        let limit = open_files::raise_to_hold(u64::MAX)?;
        // Not with --quiet: the numbers differ from machine to machine, and
        // the demo's output is compared with the book's.
        if limit.raised() && !args.quiet {
            eprintln!(
                "raised the open-file limit from {} to {}, so more clients fit",
                limit.before, limit.now
            );
        }
        match args.engine {
            Engine::Mio => {
                eprintln!(
                    "serving every client from one thread: a readiness loop with mio"
                );
                event_loop::serve(listener, &settings)
            }
            Engine::Tokio => {
                eprintln!("serving every client from one thread: tokio tasks");
                tasks::serve(listener, &settings)
            }
        }
    })
}
