//! A bound on how many clients are served at once.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

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
