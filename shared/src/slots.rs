//! A bound on how many clients are served at once, and the connection loop
//! that serves each client in a thread of its own within that bound.
//!
//! Lab 02 introduces both; labs 04 to 06 serve their clients the same way,
//! with their own conversation in each thread.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;

use crate::failure::describe;

/// Serves many clients at once, a thread each, at most `max_clients` at a
/// time; `serve_client` holds one whole conversation with one client.
///
/// It never returns: a failed accept or a thread that cannot start concerns
/// one would-be client, so it is logged and the loop goes on.
pub fn serve_concurrently<F>(listener: &TcpListener, max_clients: usize, serve_client: F)
where
    F: Fn(TcpStream, SocketAddr) + Clone + Send + 'static,
{
    // ANCHOR: thread_per_client
    let slots = ClientSlots::new(max_clients);
    loop {
        // Wait for a free place *before* accepting: while the server is full,
        // new clients queue in the kernel (the listen backlog), not in ours.
        let slot = slots.take();
        let (connection, client) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("could not accept a connection: {}", describe(&err));
                continue;
            }
        };
        let serve_client = serve_client.clone();
        let spawned = thread::Builder::new()
            .name(format!("client {client}"))
            .spawn(move || {
                // The slot moves into the thread and is dropped when the
                // thread ends, however it ends: the place is given back.
                let _slot = slot;
                serve_client(connection, client);
            });
        if let Err(err) = spawned {
            eprintln!("{client}: could not start a thread: {}", describe(&err));
        }
    }
    // ANCHOR_END: thread_per_client
}

/// Counts free places for clients; `take` waits while there are none.
///
/// Why bound threads at all: each thread costs memory (its stack) and a
/// scheduler slot. Without a bound, a flood of connections makes the server
/// spawn threads until the machine runs out. With one, extra clients simply
/// wait in the kernel's accept queue until a place frees up.
#[derive(Clone)]
pub struct ClientSlots {
    free: Arc<(Mutex<usize>, Condvar)>,
}

/// A taken place; dropping it gives the place back, even if the thread that
/// holds it panics.
pub struct Slot {
    free: Arc<(Mutex<usize>, Condvar)>,
}

impl ClientSlots {
    /// Room for `max` clients at once.
    pub fn new(max: usize) -> Self {
        ClientSlots {
            free: Arc::new((Mutex::new(max), Condvar::new())),
        }
    }

    /// Waits for a free place and takes it.
    pub fn take(&self) -> Slot {
        let (count, freed) = &*self.free;
        // A poisoned lock only means another thread panicked while holding
        // it; the count itself is still right, so we carry on.
        let mut free = count.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot {
            free: Arc::clone(&self.free),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (count, freed) = &*self.free;
        *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_third_client_waits_until_one_of_two_places_is_freed() {
        let slots = ClientSlots::new(2);
        let first = slots.take();
        let _second = slots.take();
        let (sender, receiver) = mpsc::channel();
        let waiting = slots.clone();
        std::thread::spawn(move || {
            let _third = waiting.take();
            sender.send(()).unwrap();
        });
        assert!(receiver.recv_timeout(Duration::from_millis(100)).is_err());
        drop(first);
        receiver.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
