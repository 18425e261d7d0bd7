//! Database errors, mapped once. Services match on these variants; the raw sqlx error is kept as a
//! source for logs and never shown to a user.

use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint said no; the string names the constraint or column, for the caller to
    /// turn into a field error.
    #[error("already exists ({0})")]
    Conflict(String),
    #[error("refers to something that does not exist")]
    MissingReference,
    #[error("breaks a database rule ({0})")]
    Constraint(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    #[error("a stored secret could not be opened")]
    Secret(#[from] SecretError),
    #[error("no master key is configured, and this operation needs one")]
    NoKeyring,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    KeyMismatch(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => {
                let what = db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| unique_target(db.message()));
                if db.is_unique_violation() {
                    StoreError::Conflict(what)
                } else if db.is_foreign_key_violation() {
                    StoreError::MissingReference
                } else if db.is_check_violation() {
                    StoreError::Constraint(what)
                } else {
                    StoreError::Database(e)
                }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(describe_connect(&e)),
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// True when the unique constraint hit involves `column`.
    pub fn is_conflict_on(&self, column: &str) -> bool {
        matches!(self, StoreError::Conflict(what) if what.contains(column))
    }
}

/// SQLite reports unique violations as "UNIQUE constraint failed: users.email"; keep the columns.
fn unique_target(message: &str) -> String {
    message.rsplit(": ").next().unwrap_or(message).to_owned()
}

/// A short, password-free description of a connection failure.
pub(crate) fn describe_connect(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(_) => "TLS handshake failed".into(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        sqlx::Error::PoolClosed => "the connection pool is closed".into(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Configuration(_) => "invalid connection settings".into(),
        other => other.to_string(),
    }
}
