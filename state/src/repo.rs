//! The one way async code reaches the database.
//!
//! The backends are synchronous (a SQLite connection behind a mutex; later a pool), so every
//! call from async code runs on tokio's blocking pool, and at most one call per core runs at
//! once. Without that limit, 200 concurrent page loads each took a blocking-pool thread, and
//! those threads queued on the connection's mutex, every hand-over a futex wake and a context
//! switch (a profile under 200 connections: a third of the daemon's CPU in futex calls, a
//! fifth in task switches). Waiting for a slot here is a cheap async wait instead.
//!
//! Synchronous code (the CLI, the intake worker threads) holds the [`Db`] and calls it
//! directly; it must never do so from an async task.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{Database, Db, StateError};

/// The database handle every part of Quire holds: cheap to clone.
#[derive(Clone)]
pub struct Repo {
    db: Db,
    slots: Arc<Semaphore>,
}

impl Repo {
    /// At most one database call per core at a time.
    pub fn new(db: Db) -> Repo {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Repo {
            db,
            slots: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Runs `f` on the blocking pool within the limit, and returns what it returned. A panic
    /// inside `f` is a [`StateError::Task`], not a crash of the caller.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Database) -> Result<T, StateError> + Send + 'static,
    {
        self.run(f).await
    }

    /// [`Repo::call`] for functions with errors of their own, such as a service operation
    /// that can also refuse its input: the database's errors reach the caller inside `E`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StateError> + Send + 'static,
        F: FnOnce(&dyn Database) -> Result<T, E> + Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| StateError::Task(e.to_string()))?;
        let db = Arc::clone(&self.db);
        // The slot is held by the call itself, so a client hanging up does not free it early.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            f(&*db)
        })
        .await
        .map_err(|e| StateError::Task(e.to_string()))?
    }
}
