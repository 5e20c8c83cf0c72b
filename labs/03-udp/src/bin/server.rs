//! `lab03-server`: answers every UDP datagram in capitals.

use std::process::ExitCode;

use clap::Parser;
use lab03_udp::server::{self, Settings};
use lab03_udp::{Endpoint, MAX_DATAGRAM_IPV6};

/// Answers every UDP datagram in CAPITAL letters, to whoever sent it, until
/// stopped with Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Most bytes kept of one datagram; a longer one is cut and the rest lost
    #[arg(long, default_value_t = MAX_DATAGRAM_IPV6 as u16,
          value_parser = clap::value_parser!(u16).range(1..=MAX_DATAGRAM_IPV6 as i64))]
    buffer_size: u16,

    /// Pretend every Nth datagram is lost (0: none), to see the client retry
    #[arg(long, default_value_t = 0)]
    drop_every: u64,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        // ANCHOR: bind
        // A UDP server binds and is ready: there is no `listen`, because
        // there are no connections to queue.
        let socket = shared::net::bind_udp(&args.endpoint)?;
        // ANCHOR_END: bind
        shared::net::announce(socket.local_addr())?;
        let settings = Settings {
            buffer_size: usize::from(args.buffer_size),
            drop_every: args.drop_every,
        };
        server::serve(&socket, &settings);
        Ok(())
    })
}
