//! Operations: one function per business write, whichever edge asks for it. The console's server
//! functions, the tenant API and the CLI decode their own input into the operation's typed input,
//! call it, and map its one error type ([`OpError`]) to their own answer; the rules (what is
//! valid, who may, what is audited) live here, once, so the edges cannot drift apart.
//!
//! Each operation validates, checks the actor's tenant, writes and audits in one transaction (the
//! store's), and returns what it made. Its audit event has the same kind and detail whoever called
//! it; only the actor differs.

pub mod alerting;
pub mod api_keys;
pub mod components;
pub mod imports;
pub mod links;
pub mod menu_snapshots;
pub mod menus;
pub mod tenants;
pub mod users;
pub mod webhooks;

use crate::domain::{Actor, TenantId};
use crate::store::StoreError;

/// Who is acting, for which tenant, from where.
#[derive(Debug, Clone)]
pub struct TenantActor {
    pub actor: Actor,
    pub tenant: TenantId,
    pub ip: Option<std::net::IpAddr>,
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A field breaks a rule; the message in English and Chinese.
    #[error("{field}: {en}")]
    Invalid {
        field: &'static str,
        en: String,
        zh: String,
    },
    /// The value is taken (a slug, an email); which field, in English and Chinese.
    #[error("{field}: {en}")]
    Conflict {
        field: &'static str,
        en: String,
        zh: String,
    },
    #[error("not found")]
    NotFound,
    #[error("not allowed")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else of ours failed (password hashing); logged, never shown.
    #[error("internal failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// How an audit summary names the actor: a user by email, a key as `API key "name"`.
pub(crate) fn named(actor: &Actor) -> String {
    match actor {
        Actor::ApiKey { name, .. } => format!("API key {name:?}"),
        other => other.label(),
    }
}

/// A boxed error as an error of its own (for reports that take `impl Error`).
#[derive(Debug)]
pub struct Boxed(pub Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Boxed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Boxed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl OpError {
    pub fn invalid(field: &'static str, en: impl Into<String>, zh: impl Into<String>) -> Self {
        OpError::Invalid {
            field,
            en: en.into(),
            zh: zh.into(),
        }
    }
}
