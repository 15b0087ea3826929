//! The binary's side of the state: which backend `[database]` names, opened. Everything else
//! is `quire-state`'s, re-exported here so callers name one path.

pub use quire_state::*;

use crate::config::{DatabaseConfig, LoadedConfig};

/// Opens (creating and migrating as needed) the configured database.
pub fn open(config: &LoadedConfig) -> Result<Db, StateError> {
    match &config.config.database {
        DatabaseConfig::Sqlite { .. } => {
            let path = config
                .database_path()
                .expect("a SQLite database has a path");
            open_sqlite(&path)
        }
        DatabaseConfig::Postgres { pool_size, .. } => {
            let url = config
                .database_url()
                .map_err(StateError::Config)?
                .ok_or_else(|| StateError::Config("[database] url: missing".into()))?;
            open_postgres(url.expose(), *pool_size)
        }
    }
}
