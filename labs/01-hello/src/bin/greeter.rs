//! `lab01-greeter`: a server that speaks first, the tutorials' `HELLO,WORLD`
//! server, and what happens when neither side does.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab01_hello::Endpoint;
use shared::Failure;

/// What the server says as soon as a client connects.
const GREETING: &[u8] = b"HELLO, WORLD\n";

/// How long the server waits for the client's words before it gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits for one client, greets it first, then reads its answer and exits.
/// With --listen-first it waits for the client to speak first instead: with a
/// client that waits for a greeting, both sides wait to read.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Wait for the client's first words before saying anything (the mistake)
    #[arg(long)]
    listen_first: bool,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let listener = shared::net::listen(&args.endpoint)?;
        shared::net::announce(listener.local_addr())?;
        let (mut connection, client) = listener
            .accept()
            .map_err(|err| Failure::io("accept a connection", &err))?;
        eprintln!("accepted a connection from {client}");
        // A protocol must say who speaks first. Here it is the server: it
        // writes before it reads, so a client may wait for the greeting.
        if !args.listen_first {
            connection
                .write_all(GREETING)
                .map_err(|err| Failure::io(format_args!("greet {client}"), &err))?;
            eprintln!("sent the greeting; now waiting for the client's answer");
        }
        // Without a timeout, two sides that both wait to read would wait
        // forever: neither has anything to read until the other writes.
        connection
            .set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|err| Failure::io("set a read timeout", &err))?;
        let mut buffer = [0u8; 1024];
        let n = connection.read(&mut buffer).map_err(|err| {
            if shared::failure::is_timeout(&err) {
                Failure::new(format!(
                    "{client} said nothing for {} s",
                    READ_TIMEOUT.as_secs()
                ))
                .hint("both sides were waiting to read; the protocol must say who speaks first")
            } else {
                Failure::io(format_args!("read from {client}"), &err)
            }
        })?;
        eprintln!(
            "received {n} bytes: {:?}",
            String::from_utf8_lossy(&buffer[..n])
        );
        Ok(())
    })
}
