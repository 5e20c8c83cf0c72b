//! A crowd of clients arriving at once: for the listen backlog, and for speed.
//!
//! Each client connects, then does a number of round trips (send a message,
//! read the whole reply). All clients wait at a barrier before connecting, so
//! they really do arrive together. The report says how long the connects
//! took and, if there were round trips, how many per second and how long each
//! took: that is how lab 02's chapter shows what `listen(backlog)` means, and
//! how `just bench` compares our threaded server with the tutorials' Python one.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// What the crowd does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where the server is.
    pub server: SocketAddr,
    /// How many clients arrive together.
    pub clients: usize,
    /// Round trips per client (0: only connect, then hang up together).
    pub round_trips: usize,
    /// Bytes per message.
    pub message_size: usize,
    /// How long one connect may take before that client gives up.
    pub connect_timeout: Duration,
}

/// The moments every client waits for (see [`run`]).
struct Moments {
    start: Barrier,
    all_connected: Barrier,
    all_done: Barrier,
}

/// What one client saw.
struct ClientResult {
    connect_time: Result<Duration, io::Error>,
    round_trip_times: Vec<Duration>,
    error: Option<io::Error>,
}

/// What the whole crowd saw.
#[derive(Debug)]
pub struct Report {
    /// Connect times of the clients that connected, sorted.
    pub connect_times: Vec<Duration>,
    /// How many clients could not connect (in time).
    pub failed_connects: usize,
    /// Round-trip times of every message, sorted.
    pub round_trip_times: Vec<Duration>,
    /// Clients that connected but failed during their round trips.
    pub failed_clients: usize,
    /// The round-trip phase: from the moment every client had connected (or
    /// given up) to the last client's last reply.
    pub elapsed: Duration,
}

/// Runs the crowd and gathers what every client saw.
pub fn run(plan: &Plan) -> Report {
    // Three moments every client waits for: the start (so that they arrive
    // together), everyone connected (so the round trips are timed apart from
    // the connects), and everyone done (so that nobody hangs up early and
    // frees a place while others are still arriving).
    let moments = Arc::new(Moments {
        start: Barrier::new(plan.clients),
        all_connected: Barrier::new(plan.clients + 1),
        all_done: Barrier::new(plan.clients),
    });
    let handles: Vec<_> = (0..plan.clients)
        .map(|index| {
            let plan = plan.clone();
            let moments = Arc::clone(&moments);
            thread::spawn(move || {
                moments.start.wait();
                one_client(&plan, index, &moments)
            })
        })
        .collect();
    moments.all_connected.wait();
    let round_trips_began = Instant::now();
    let mut report = Report {
        connect_times: Vec::new(),
        failed_connects: 0,
        round_trip_times: Vec::new(),
        failed_clients: 0,
        elapsed: Duration::ZERO,
    };
    for handle in handles {
        let Ok(result) = handle.join() else {
            report.failed_clients += 1;
            continue;
        };
        match result.connect_time {
            Ok(time) => report.connect_times.push(time),
            Err(_) => report.failed_connects += 1,
        }
        if result.error.is_some() {
            report.failed_clients += 1;
        }
        report.round_trip_times.extend(result.round_trip_times);
    }
    report.elapsed = round_trips_began.elapsed();
    report.connect_times.sort();
    report.round_trip_times.sort();
    report
}

/// One client: connect, then the round trips, timing each; the connection
/// stays open until every client is done.
fn one_client(plan: &Plan, index: usize, moments: &Moments) -> ClientResult {
    let started = Instant::now();
    let connected = TcpStream::connect_timeout(&plan.server, plan.connect_timeout);
    let connect_time = started.elapsed();
    moments.all_connected.wait();
    let mut result = ClientResult {
        connect_time: Ok(connect_time),
        round_trip_times: Vec::with_capacity(plan.round_trips),
        error: None,
    };
    match connected {
        Ok(mut stream) => {
            if let Err(err) =
                round_trips(&mut stream, plan, index, &mut result.round_trip_times)
            {
                result.error = Some(err);
            }
            moments.all_done.wait();
        }
        Err(err) => {
            result.connect_time = Err(err);
            moments.all_done.wait();
        }
    }
    result
}

/// Sends lower-case messages and checks each reply is the same in capitals.
fn round_trips(
    stream: &mut TcpStream,
    plan: &Plan,
    index: usize,
    times: &mut Vec<Duration>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Small messages are written whole and at once: without this, Nagle's
    // algorithm could hold a message back waiting for the previous ACK.
    stream.set_nodelay(true)?;
    let letter = b'a' + (index % 26) as u8;
    let message = vec![letter; plan.message_size];
    let expected = message.to_ascii_uppercase();
    let mut reply = vec![0; plan.message_size];
    for _ in 0..plan.round_trips {
        let sent = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut reply)?;
        times.push(sent.elapsed());
        if reply != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a reply was not the message in capitals",
            ));
        }
    }
    Ok(())
}

/// The value below which `fraction` of the sorted `times` fall.
pub fn percentile(times: &[Duration], fraction: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((times.len() - 1) as f64 * fraction).round() as usize;
    times[rank.min(times.len() - 1)]
}

impl Report {
    /// Completed round trips per second, over the whole run.
    pub fn round_trips_per_second(&self) -> f64 {
        self.round_trip_times.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_the_sorted_times() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&times, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&times, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&times, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
