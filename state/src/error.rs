//! Errors of the state layer, each with a stable code for the audit log.

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Callback(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// The call never finished: it panicked, or the runtime was shutting down.
    #[error("database call interrupted: {0}")]
    Task(String),
}

impl StateError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Open { .. } => "state.open",
            Self::Migration(_) => "state.migration",
            Self::Sqlite(_) => "state.sqlite",
            Self::Corrupt(_) => "state.corrupt",
            Self::Callback(_) => "state.callback",
            Self::Conflict(_) => "state.conflict",
            Self::NotFound(_) => "state.not_found",
            Self::Task(_) => "state.task",
        }
    }
}
