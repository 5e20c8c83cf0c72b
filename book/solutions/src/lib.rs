//! Worked solutions to the book's exercises, for instructors.
//!
//! The book's page *Worked solutions* includes these regions (`// ANCHOR:`)
//! instead of pasting code, so every answer it shows compiles, and the tests
//! below each one run it over real sockets and files. Each answer is written
//! as a student would add it to the lab's own code; the lab itself stays as
//! the chapter shows it.
//!
//! - [`lab01`]: a greeting, the client's port, three clients, reversing.
//! - [`lab02`]: a reset on purpose.
//! - [`lab03`]: numbered datagrams, a connected UDP socket, backing off.
//! - [`lab04`]: framing with a delimiter.
//! - [`lab06`]: a rename that survives a power cut.

pub mod lab01;
pub mod lab02;
pub mod lab03;
pub mod lab04;
pub mod lab06;
