//! The SQL that differs between SQLite and PostgreSQL, and nothing else. Every other query in
//! `store` is shared text.

#[derive(Debug)]
pub struct Dialect {
    pub name: &'static str,
    /// `SELECT COUNT(*)` of tables named `$1` in the current schema.
    pub table_exists: &'static str,
    /// Appended to a `SELECT` that claims rows for a worker. PostgreSQL locks the claimed rows and
    /// lets other instances skip them; SQLite has one writer, so the claiming transaction is
    /// already exclusive.
    pub claim_suffix: &'static str,
    /// Appended to a `SELECT` of one row that the same transaction will update (read-modify-write).
    /// SQLite needs nothing: its single writer connection already serialises such transactions.
    pub lock_row_suffix: &'static str,
    /// Run inside a transaction that changed a live credential, so other instances' caches hear of
    /// it at commit (PostgreSQL NOTIFY). Empty where there is no such thing (SQLite is one process).
    pub notify_credentials: &'static str,
    /// Case-insensitive `LIKE` (SQLite's `LIKE` already ignores ASCII case; PostgreSQL's does not).
    pub like_nocase: &'static str,
}

pub static SQLITE: Dialect = Dialect {
    name: "sqlite",
    table_exists: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    claim_suffix: "",
    lock_row_suffix: "",
    notify_credentials: "",
    like_nocase: "LIKE",
};

pub static POSTGRES: Dialect = Dialect {
    name: "postgres",
    table_exists: "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
    claim_suffix: " FOR UPDATE SKIP LOCKED",
    lock_row_suffix: " FOR UPDATE",
    notify_credentials: "SELECT pg_notify('wxhub_credentials', '')",
    like_nocase: "ILIKE",
};
