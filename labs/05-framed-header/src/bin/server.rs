//! `lab05-server`: answers framed requests for named reports, never running them.

use std::process::ExitCode;

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

    #[command(flatten)]
    serving: shared::cli::Serving,

    #[command(flatten)]
    deadlines: shared::cli::Deadlines,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let settings = Settings {
            idle_timeout: args.serving.idle_timeout,
            deadlines: args.deadlines.clone(),
            max_clients: usize::from(args.serving.max_clients),
            log_requests: !args.serving.quiet,
        };
        let listener =
            shared::net::listen_with_backlog(&args.endpoint, args.serving.backlog)?;
        shared::net::announce(listener.local_addr())?;
        eprintln!("serving up to {} clients at once", settings.max_clients);
        server::serve_concurrently(&listener, &settings);
        Ok(())
    })
}
