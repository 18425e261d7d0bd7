//! Accounts: password hashing (argon2id, off the async threads), the SQL-backed session store,
//! sign-in with throttling, and API-key minting. `AccountService` implements the UI's
//! `AuthService`.

pub mod api_keys;
pub mod password;
pub mod service;
pub mod session_store;

pub use password::PasswordHasher;
pub use service::AccountService;
pub use session_store::SqlSessionStore;

/// The session key under which the signed-in user's id is kept.
pub const SESSION_USER_ID: &str = "user_id";
