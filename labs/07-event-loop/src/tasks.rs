//! The same server with tokio (`--engine tokio`): the loop is written for us.
//!
//! Each client gets a *task*, code that reads like lab 02's thread per
//! client: read, answer, write, again. But a task is not a thread. Where a
//! thread would block, `.await` hands control back to tokio's own readiness
//! loop (mio, underneath), which runs another task whose socket is ready.
//! The buffers, the interest sets and the `WouldBlock`s of
//! [`event_loop`](crate::event_loop) are all still there, inside tokio.
//!
//! The runtime is the *current-thread* kind: every task runs on this one
//! thread, as in the mio version, so the two compare fairly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::Failure;
use shared::failure::describe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

use crate::lines::{self, LineTooLong};
use crate::server::{Ending, GENTLE_CLOSE_TIME, Milestones, READ_CHUNK, Settings};

/// Serves every client on this one thread, until the process is stopped.
pub fn serve(
    listener: std::net::TcpListener,
    settings: &Settings,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|err| Failure::io("start the tokio runtime", &err))?;
    runtime.block_on(accept_loop(listener, Arc::new(settings.clone())))
}

/// Accepts clients and starts a task for each.
async fn accept_loop(
    listener: std::net::TcpListener,
    settings: Arc<Settings>,
) -> Result<(), Failure> {
    listener
        .set_nonblocking(true)
        .map_err(|err| Failure::io("make the listener non-blocking", &err))?;
    let listener = TcpListener::from_std(listener)
        .map_err(|err| Failure::io("hand the listener to tokio", &err))?;
    let mut milestones = Milestones::default();
    // Tasks end on their own; the runtime counts them for us.
    let metrics = tokio::runtime::Handle::current().metrics();
    // ANCHOR: accept_loop
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Most often "too many open files": wait a little for
                // clients to leave rather than fail again at once.
                eprintln!("could not accept a connection: {}", describe(&err));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if settings.log_connections {
            eprintln!("{peer}: connected");
        }
        tokio::spawn(serve_client(stream, peer, Arc::clone(&settings)));
        milestones.connected(metrics.num_alive_tasks());
    }
    // ANCHOR_END: accept_loop
}

/// Answers one client's lines until it leaves, then logs how it left.
///
/// This is the task: its future (every local that lives across an
/// `.await`) is held once per client, for as long as the client stays, so
/// it is kept small (a test measures it): the settings come as an `Arc`,
/// 8 bytes, not a copy each.
async fn serve_client(mut stream: TcpStream, peer: SocketAddr, settings: Arc<Settings>) {
    // STARTER: loop: read (at most READ_CHUNK, within the idle timeout), answer_lines, write_all the replies; 0 bytes, too long or silent ends it; log the ending
    // ANCHOR: serve_client
    let mut incoming = Vec::new();
    let mut outgoing = Vec::new();
    let mut answered = 0;
    let ending = loop {
        // `read_buf` appends to `incoming`, at most READ_CHUNK bytes (the
        // task is not preempted while it answers them); the timeout turns a
        // silent client into an ending instead of a task that waits forever.
        let mut limited = (&mut stream).take(READ_CHUNK as u64);
        let n =
            match timeout(settings.idle_timeout, limited.read_buf(&mut incoming)).await {
                Err(_elapsed) => break Ending::Silent,
                Ok(Err(err)) => break Ending::Failed(err),
                Ok(Ok(n)) => n,
            };
        if n == 0 {
            break Ending::Closed {
                answered,
                unfinished: incoming.len(),
            };
        }
        let too_long = match lines::answer_lines(&mut incoming, &mut outgoing) {
            Ok(count) => {
                answered += count as u64;
                false
            }
            Err(LineTooLong) => {
                outgoing.extend_from_slice(lines::TOO_LONG);
                true
            }
        };
        // While this write waits for a client that is not reading, this
        // task reads nothing more from it: backpressure, for free.
        match timeout(settings.idle_timeout, stream.write_all(&outgoing)).await {
            Err(_elapsed) => break Ending::Silent,
            Ok(Err(err)) => break Ending::Failed(err),
            Ok(Ok(())) => outgoing.clear(),
        }
        if too_long {
            // Boxed: a future is as big as its biggest state, and this
            // rare one would otherwise make every client's task bigger.
            Box::pin(close_gently(&mut stream)).await;
            break Ending::TooLong;
        }
    };
    ending.log(peer, &settings);
    // ANCHOR_END: serve_client
    // STARTER_END
}

/// Ends our side after the error line, then reads and discards until the
/// client closes or [`GENTLE_CLOSE_TIME`] is up, so that closing does not
/// reset the connection and destroy the error line (see
/// [`GENTLE_CLOSE_TIME`]).
async fn close_gently(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + GENTLE_CLOSE_TIME;
    // On the heap, and only now: an array here would be part of every
    // client's task from its start (an async fn's locals live in its
    // future), 4 KiB times 10,000 clients.
    let mut discard = vec![0; 4096];
    while let Ok(Ok(n)) =
        tokio::time::timeout_at(deadline, stream.read(&mut discard)).await
    {
        if n == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most bytes a client's task may hold, its future, for tokio's
    /// task to fit in 512 bytes: tokio adds 96 bytes of its own and rounds
    /// each task up to a multiple of 128 (it aligns tasks to cache lines).
    const MOST_BYTES_PER_TASK: usize = 512 - 96;

    #[test]
    fn a_client_task_fits_in_512_bytes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (stream, peer) = listener.accept().await.unwrap();
            let settings = Arc::new(Settings {
                idle_timeout: Duration::from_secs(1),
                log_connections: false,
            });
            let task = serve_client(stream, peer, settings);
            let size = std::mem::size_of_val(&task);
            println!("a client's task holds {size} bytes");
            assert!(
                size <= MOST_BYTES_PER_TASK,
                "{size} bytes: more than {MOST_BYTES_PER_TASK} makes every client's task 128 bytes bigger"
            );
        });
    }
}
