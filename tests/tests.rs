//! End-to-end tests of the `quire` binary: one test binary, one module per command family.

mod util;

mod api;
mod audit;
mod cli;
mod compliance;
mod config;
mod console;
mod custody;
mod delivery;
mod intake;
mod iso18626;
mod mail;
mod nodes;
mod package;
mod pdfa;
mod preservation;
mod process;
mod scan;
mod stamp;
mod webhooks;
