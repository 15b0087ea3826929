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
    /// A PostgreSQL error other than a broken uniqueness rule (which is a `Conflict`).
    #[error("database: {0}")]
    Postgres(postgres::Error),
    /// The database's settings cannot be used (a malformed URL, an unreadable URL file).
    #[error("database configuration: {0}")]
    Config(String),
    /// No connection could be had from the PostgreSQL pool in time.
    #[error("database pool: {0}")]
    Pool(String),
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
            Self::Postgres(_) => "state.postgres",
            Self::Pool(_) => "state.pool",
            Self::Config(_) => "state.config",
        }
    }
}

impl From<postgres::Error> for StateError {
    /// A unique or exclusion violation is a `Conflict`, as the SQLite backend reports the same
    /// duplicates (it checks before inserting; here two nodes can race past that check).
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        match e.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::EXCLUSION_VIOLATION => {
                Self::Conflict(e.to_string())
            }
            _ => Self::Postgres(e),
        }
    }
}

impl From<r2d2_postgres::r2d2::Error> for StateError {
    fn from(e: r2d2_postgres::r2d2::Error) -> Self {
        Self::Pool(e.to_string())
    }
}
