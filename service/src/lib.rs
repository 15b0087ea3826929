//! What staff, the daemon and other systems can do, each operation once: the CLI, the console,
//! the HTTP API (and later ISO 18626) call these functions and never change the database
//! themselves, so an operation makes the same change and writes its audit event in exactly one
//! place whoever asks for it.
//!
//! The functions in [`requests`], [`jobs`], [`deliveries`], [`links`], [`nodes`] and [`users`] are synchronous and take the
//! [`Database`](quire_state::Database): async callers run them through
//! [`Repo::call`](quire_state::Repo::call), the one path from async code to the database.
//! Operations that also move files to a store or a mailer (delivering, purging, sending
//! notices) are async and live in [`deliver`].
//!
//! [`webhooks`] sends audit events to the configured `[[webhooks]]` endpoints, signed.
//!
//! [`preserve`] writes and checks preservation masters (BagIt bags) of jobs.
//!
//! [`job_files`] is where a job's files are on this node: the local spool on one box, or
//! fetched from the object store and verified when custody is there (several nodes).
//!
//! Not here: reading the configuration (`quire-config`), storage and mail transports
//! (`quire-delivery`), the page pipeline, and anything about HTTP or the command line.

pub mod deliver;
pub mod deliveries;
pub mod iso18626;
pub mod job_files;
pub mod jobs;
pub mod links;
pub mod nodes;
pub mod preserve;
pub mod requests;
pub mod review;
pub mod users;
pub mod webhooks;
