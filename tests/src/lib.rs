//! The suite's own tooling, shared by every lab's tests and by `just`.
//!
//! - [`process`]: start a real server binary on port 0, wait for its
//!   `listening on ADDR` line (never a fixed sleep), collect what it prints,
//!   and kill it when the test is over, whatever happens.
//! - [`labs`]: the list of labs, so `just lab 1`, `just lab 01` and
//!   `just lab hello` all find the same one.
//! - [`demo`]: the scripted run behind `just lab NN`.
//! - [`contract`]: checks of the command-line contract, called by every lab's tests.
//! - [`grade`]: the graded checks, run against any implementation of a lab.
//! - [`peer`]: hostile servers played by the tests: forged text, replies
//!   that trickle in.
//! - [`proxy`]: a TCP proxy that re-cuts the byte stream, so framing bugs show.
//! - [`starter`]: student starter crates, made from markers in the labs' code.
//! - [`class`]: a whole class graded at once, each submission in a sandbox,
//!   into a gradebook; and the Gradescope autograder.
//! - [`book`]: checks that every `{{#include file:anchor}}` in the book points
//!   at a file and anchor that exist, so the text cannot drift from the code.
//! - [`book_listings`]: checks the code blocks as the built book shows them
//!   (no listing indented as a block).
//! - [`book_commands`]: runs every shell command the book shows and checks
//!   that it prints what the book says.
//! - [`wire`]: tcpdump captures of lab runs, the book's packets on the wire.

pub mod book;
pub mod book_commands;
pub mod book_listings;
pub mod class;
pub mod contract;
pub mod demo;
pub mod grade;
pub mod labs;
pub mod peer;
pub mod process;
pub mod proxy;
pub mod starter;
pub mod wire;

pub use process::{Server, client, reset};
