//! Deadlines for a whole message, not for one read.
//!
//! A socket's read timeout (`set_read_timeout`) bounds ONE read: it notices a
//! peer that goes silent, not one that is merely slow. A server that sends one
//! byte every second never trips a 2-second read timeout, and holds its client
//! for as long as it likes; a client that sends a header one byte every 100 ms
//! holds a server's thread the same way. The tutorials have no timeouts at all,
//! and a per-read timeout is only half of the fix.
//!
//! [`Paced`] is the other half. It wraps a stream and, before every read, sets
//! the socket's read timeout to the time still left for the whole message, so
//! the message as a whole has a deadline. For large bodies a fixed deadline
//! would punish size, not slowness, so a [`Pace`] may also have a minimum
//! rate: each `min_rate` bytes that arrive buy one more second, the rule of
//! Apache's `mod_reqtimeout` (`MinRate`). A slow but honest link keeps going;
//! a trickle is cut.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The lowest average rate, in bytes per second, a large body may arrive at
/// once its first seconds of grace are over: 16 KiB/s.
///
/// Slow enough for any link a person still uses (a poor mobile connection
/// moves more than that), fast enough that a peer cannot hold a thread for
/// hours by sending a few bytes at a time.
pub const DEFAULT_MIN_RATE: u64 = 16 * 1024;

/// How long a message may take: `within` for all of it, extended by one
/// second for every `min_rate` bytes received, if a rate is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The time allowed for the whole message (or, with a rate, the grace
    /// period before the rate counts).
    pub within: Duration,
    /// With a rate, bytes that arrive extend the deadline: each `min_rate`
    /// bytes buy one more second. `None`: the deadline is fixed.
    pub min_rate: Option<u64>,
}

impl Pace {
    /// A fixed deadline: all of the message within `within`.
    pub fn within(within: Duration) -> Pace {
        Pace {
            within,
            min_rate: None,
        }
    }

    /// `grace` to get going, then at least `min_rate` bytes per second on
    /// average (counted from the start).
    pub fn min_rate_after(grace: Duration, min_rate: u64) -> Pace {
        Pace {
            within: grace,
            min_rate: Some(min_rate.max(1)),
        }
    }

    // ANCHOR: allowed
    /// How long a message may have taken once `received` bytes of it came.
    fn allowed(&self, received: u64) -> Duration {
        match self.min_rate {
            None => self.within,
            // Each `rate` bytes received buy one more second.
            Some(rate) => {
                self.within + Duration::from_secs_f64(received as f64 / rate as f64)
            }
        }
    }
    // ANCHOR_END: allowed
}

/// The error a [`Paced`] read returns when its deadline has passed: an
/// `io::Error` of kind `TimedOut` that carries this, so a log or a hint can
/// say which rule the peer broke (see [`too_slow`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSlow {
    /// The rule that was broken.
    pub pace: Pace,
    /// How many bytes had arrived.
    pub received: u64,
}

impl fmt::Display for TooSlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let within = self.pace.within.as_secs_f64();
        let received = self.received;
        match self.pace.min_rate {
            _ if received == 0 => write!(f, "nothing of it came within {within} s"),
            None => write!(
                f,
                "it did not arrive whole within {within} s ({received} bytes came)"
            ),
            Some(rate) => write!(
                f,
                "it came slower than {rate} bytes/s once its first {within} s were over \
                 ({received} bytes came)"
            ),
        }
    }
}

impl std::error::Error for TooSlow {}

/// The [`TooSlow`] inside `err`, if a [`Paced`] deadline is what ended it.
pub fn too_slow(err: &io::Error) -> Option<&TooSlow> {
    err.get_ref()?.downcast_ref::<TooSlow>()
}

/// A stream whose socket read timeout can be set; [`Paced`] sets it before
/// every read.
pub trait ReadTimeout {
    /// Sets the longest a read may wait (`TcpStream::set_read_timeout`).
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl ReadTimeout for &TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// When the clock of a [`Paced`] stream starts.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Running since this instant.
    Since(Instant),
    /// Not yet: it starts with the first byte, and until then each read may
    /// wait this long (a server waiting for a client's next request).
    AtFirstByte(Duration),
}

/// A stream whose reads, together, must keep to a [`Pace`].
///
/// Writes go straight through: it is the reading side that a slow peer holds.
pub struct Paced<S> {
    stream: S,
    pace: Pace,
    clock: Clock,
    received: u64,
    /// The longest one read may wait when the deadline is further away: a
    /// peer that sends nothing at all is noticed this soon.
    idle: Option<Duration>,
}

impl<S: Read + ReadTimeout> Paced<S> {
    /// The clock starts now: a client that has just sent its request and
    /// waits for the whole reply.
    pub fn from_now(stream: S, pace: Pace) -> Paced<S> {
        Paced {
            stream,
            pace,
            clock: Clock::Since(Instant::now()),
            received: 0,
            idle: None,
        }
    }

    /// The clock starts at the first byte; before it, a read may wait up to
    /// `idle`, and after it no read waits longer than `idle` either: a server
    /// waiting for a client's next request, which must then arrive whole.
    pub fn from_first_byte(stream: S, pace: Pace, idle: Duration) -> Paced<S> {
        Paced {
            stream,
            pace,
            clock: Clock::AtFirstByte(idle),
            received: 0,
            idle: Some(idle),
        }
    }

    /// No read waits longer than `idle` either: a peer that goes silent is
    /// noticed this soon, whatever time its message has left.
    pub fn with_idle(mut self, idle: Duration) -> Paced<S> {
        self.idle = Some(idle);
        self
    }

    /// The error for a deadline that has passed.
    fn too_slow(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            TooSlow {
                pace: self.pace,
                received: self.received,
            },
        )
    }
}

impl<S: Read + ReadTimeout> Read for Paced<S> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // ANCHOR: paced_read
        // How long this read may wait: what is left of the whole message's
        // time (or, before its first byte, the idle time), and never more
        // than the idle time.
        let (wait, deadline_bound) = match self.clock {
            Clock::AtFirstByte(idle) => (idle, false),
            Clock::Since(start) => {
                let left = self
                    .pace
                    .allowed(self.received)
                    .saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(self.too_slow());
                }
                match self.idle {
                    Some(idle) if idle < left => (idle, false),
                    _ => (left, true),
                }
            }
        };
        self.stream.set_read_timeout(Some(wait))?;
        let n = match self.stream.read(buffer) {
            Ok(n) => n,
            // The socket timed out because the message's time ran out, not
            // because the peer was silent for the idle time: say so.
            Err(err) if deadline_bound && crate::failure::is_timeout(&err) => {
                return Err(self.too_slow());
            }
            Err(err) => return Err(err),
        };
        // ANCHOR_END: paced_read
        if n > 0 && matches!(self.clock, Clock::AtFirstByte(_)) {
            self.clock = Clock::Since(Instant::now());
        }
        self.received += n as u64;
        Ok(n)
    }
}

impl<S: Write> Write for Paced<S> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.stream.write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A connected pair of real sockets: (ours, the peer's).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (theirs, _) = listener.accept().unwrap();
        (ours, theirs)
    }

    /// A peer that sends `bytes` one at a time, `gap` apart, then closes.
    fn dribble(
        mut peer: TcpStream,
        bytes: &'static [u8],
        gap: Duration,
    ) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            for byte in bytes {
                if peer.write_all(&[*byte]).is_err() {
                    return;
                }
                thread::sleep(gap);
            }
        })
    }

    #[test]
    fn a_trickle_that_never_trips_a_read_timeout_is_cut_at_the_deadline() {
        let (ours, theirs) = pair();
        // 40 bytes, 0.1 s apart: 4 s in all, each byte quickly.
        let _peer = dribble(theirs, &[b'x'; 40], Duration::from_millis(100));
        let started = Instant::now();
        let mut paced = Paced::from_now(&ours, Pace::within(Duration::from_millis(450)));
        let mut all = Vec::new();
        let err = paced.read_to_end(&mut all).unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(2500), "{took:?}");
        let slow = too_slow(&err).expect("a TooSlow error");
        assert!((1..40).contains(&slow.received), "{slow:?}");
        assert!(
            slow.to_string().contains("within 0.45 s"),
            "{}",
            slow.to_string()
        );
    }

    #[test]
    fn a_message_that_keeps_to_its_pace_arrives_whole() {
        let (ours, theirs) = pair();
        let _peer = dribble(theirs, b"hello", Duration::from_millis(10));
        let mut paced = Paced::from_now(&ours, Pace::within(Duration::from_secs(5)));
        let mut all = Vec::new();
        paced.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"hello");
    }

    #[test]
    fn each_byte_buys_time_at_the_minimum_rate() {
        let pace = Pace::min_rate_after(Duration::from_secs(10), 1000);
        assert_eq!(pace.allowed(0), Duration::from_secs(10));
        assert_eq!(pace.allowed(5000), Duration::from_secs(15));
        assert_eq!(
            Pace::within(Duration::from_secs(2)).allowed(1 << 30),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn the_clock_can_wait_for_the_first_byte() {
        let (ours, theirs) = pair();
        let peer = thread::spawn(move || {
            // Quiet for longer than the whole message may take, then quick.
            thread::sleep(Duration::from_millis(300));
            (&theirs).write_all(b"late but quick").unwrap();
            theirs
        });
        let mut paced = Paced::from_first_byte(
            &ours,
            Pace::within(Duration::from_millis(200)),
            Duration::from_secs(5),
        );
        let mut message = [0u8; 14];
        paced.read_exact(&mut message).unwrap();
        assert_eq!(&message, b"late but quick");
        drop(peer.join());
    }

    #[test]
    fn silence_before_the_first_byte_is_the_idle_timeout_not_too_slow() {
        let (ours, _theirs) = pair();
        let mut paced = Paced::from_first_byte(
            &ours,
            Pace::within(Duration::from_secs(5)),
            Duration::from_millis(50),
        );
        let err = paced.read(&mut [0u8; 4]).unwrap_err();
        assert!(crate::failure::is_timeout(&err), "{err:?}");
        assert!(too_slow(&err).is_none());
    }
}
