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
/// When the user signed in (Unix ms): the session's absolute lifetime counts from here.
pub const SESSION_SIGNED_IN_AT: &str = "signed_in_at";
/// When the session was last saved for activity (Unix ms): its idle expiry slides from here.
pub const SESSION_TOUCHED_AT: &str = "touched_at";
