//! Sign-in, sign-out and "who is this", behind the UI's `AuthService` trait.
//!
//! Every failure answers the same `InvalidCredentials`, whether the account is unknown, the
//! password wrong, the user disabled or the tenant suspended; the real reason goes to the audit
//! log. Repeated failures lock the submitted account name and the client address for a while
//! (`ThrottlePolicy`); the lock is keyed on what was typed, so it says nothing about which accounts
//! exist. Each attempt is reserved against the throttle before its password is hashed, so guesses
//! sent in parallel are held to the threshold too; attempts refused by a lock are audited through
//! the bounded `RefusalLog`.
//!
//! Sessions end after `WXHUB_SESSION_IDLE_MINUTES` without a request, and in any case
//! `WXHUB_SESSION_MAX_HOURS` after sign-in. The session is written only when it changes; to slide
//! the idle expiry, an active session is marked changed at most every few minutes.

use std::net::IpAddr;

use app::error::AppError;
use app::model::{SessionUser, TenantSummary};
use app::services::{AuthService, RequestCtx};
use async_trait::async_trait;
use secrecy::SecretString;

use super::{PasswordHasher, SESSION_SIGNED_IN_AT, SESSION_TOUCHED_AT, SESSION_USER_ID};
use crate::domain::{
    Actor, AuditKind, NewAuditEvent, Outcome, TenantStatus, User, UserId, UserStatus,
};
use crate::refusals::RefusalLog;
use crate::store::{Store, StoreError, ThrottlePolicy};

/// How long a session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Idle expiry (what the session layer's `OnInactivity` is set to), in ms.
    pub idle_ms: i64,
    /// Absolute lifetime from sign-in, in ms.
    pub max_ms: i64,
}

impl SessionPolicy {
    /// How often an active session is re-saved so its idle expiry slides: a tenth of the idle
    /// time, at least a minute (never more writes than that per session).
    fn touch_every_ms(&self) -> i64 {
        (self.idle_ms / 10).max(60_000)
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 12 * 3_600_000,
            max_ms: 7 * 24 * 3_600_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub account: ThrottlePolicy,
    pub ip: ThrottlePolicy,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            // 5 failures within 15 minutes lock the account name for 30 s, doubling up to 15 min.
            account: ThrottlePolicy {
                threshold: 5,
                window_ms: 15 * 60_000,
                base_lock_ms: 30_000,
                max_lock_ms: 15 * 60_000,
            },
            // An address gets more room (offices share one), then the same treatment.
            ip: ThrottlePolicy {
                threshold: 20,
                window_ms: 15 * 60_000,
                base_lock_ms: 60_000,
                max_lock_ms: 60 * 60_000,
            },
        }
    }
}

#[derive(Clone)]
pub struct AccountService {
    store: Store,
    hasher: PasswordHasher,
    throttle: ThrottleSettings,
    sessions: SessionPolicy,
    refusals: std::sync::Arc<RefusalLog>,
}

/// Logs the real error with its causes and gives the UI the generic one.
pub(crate) fn internal(context: &str, e: impl std::error::Error + 'static) -> AppError {
    tracing::error!(error = %crate::report::Chain(&e), "{context}");
    AppError::Internal
}

impl AccountService {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        throttle: ThrottleSettings,
        sessions: SessionPolicy,
        refusals: std::sync::Arc<RefusalLog>,
    ) -> Self {
        Self {
            store,
            hasher,
            throttle,
            sessions,
            refusals,
        }
    }

    async fn session_user(&self, user: &User) -> Result<Option<SessionUser>, StoreError> {
        let tenant = match user.tenant_id {
            Some(id) => match self.store.tenant(id).await? {
                Some(t) if t.status == TenantStatus::Active => Some(TenantSummary {
                    id: t.id.0,
                    slug: t.slug,
                    name: t.name,
                }),
                _ => return Ok(None),
            },
            None => None,
        };
        Ok(Some(SessionUser {
            id: user.id.0,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            tenant,
        }))
    }

    /// A failed attempt: its count was reserved already; the reason goes to the audit log.
    async fn fail(&self, reason: &str, typed: &str, ip: Option<IpAddr>, now: i64) -> AppError {
        let event = NewAuditEvent::new(
            Actor::Anonymous,
            AuditKind::UserLogin,
            Outcome::Failed,
            "sign-in failed",
            now,
        )
        .ip(ip)
        .detail(serde_json::json!({ "email": typed, "reason": reason }));
        if let Err(e) = self.store.append_audit(&event).await {
            return internal("auditing a failed sign-in", e);
        }
        AppError::InvalidCredentials
    }
}

fn throttle_keys(email: &str, ip: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("account:{email}")];
    if let Some(ip) = ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}

#[async_trait]
impl AuthService for AccountService {
    async fn sign_in(
        &self,
        ctx: &RequestCtx,
        email: &str,
        password: &str,
    ) -> Result<SessionUser, AppError> {
        let now = crate::now_ms();
        // What was typed, normalised the way stored emails are, without control characters (a NUL
        // byte would make PostgreSQL refuse the key), bounded so the key stays small.
        let typed: String = email
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            .take(254)
            .collect();
        let keys = throttle_keys(&typed, ctx.client_ip);
        let policies = [self.throttle.account, self.throttle.ip];
        let reserve: Vec<(&str, ThrottlePolicy)> =
            keys.iter().map(String::as_str).zip(policies).collect();
        match self.store.throttle_reserve(&reserve, now).await {
            Ok(Some(until)) => {
                let event = NewAuditEvent::new(
                    Actor::Anonymous,
                    AuditKind::UserLogin,
                    Outcome::Denied,
                    "sign-in throttled",
                    now,
                )
                .ip(ctx.client_ip)
                .detail(serde_json::json!({ "email": typed, "locked_until": until }));
                let source = ctx
                    .client_ip
                    .map_or_else(|| "unknown address".to_owned(), |ip| ip.to_string());
                self.refusals.record(event, &source).await;
                let secs = ((until - now) as u64).div_ceil(1000).max(1);
                return Err(AppError::Throttled {
                    retry_after_secs: secs,
                });
            }
            Ok(None) => {}
            Err(e) => return Err(internal("reserving a sign-in attempt", e)),
        }

        let Ok(email) = app::validate::email(email) else {
            return Err(self
                .fail("malformed email", &typed, ctx.client_ip, now)
                .await);
        };
        if password.is_empty() || password.len() > app::validate::PASSWORD_MAX_BYTES {
            return Err(self
                .fail("password empty or too long", &typed, ctx.client_ip, now)
                .await);
        }
        let found = self
            .store
            .user_for_login(&email)
            .await
            .map_err(|e| internal("loading a user to sign in", e))?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let password = SecretString::from(password.to_owned());
        let matched = self
            .hasher
            .verify(&password, hash)
            .await
            .map_err(|e| internal("verifying a password", e))?;
        let user = match (user, matched) {
            (None, _) => {
                return Err(self
                    .fail("unknown account", &typed, ctx.client_ip, now)
                    .await)
            }
            (Some(_), false) => {
                return Err(self
                    .fail("wrong password", &typed, ctx.client_ip, now)
                    .await)
            }
            (Some(u), true) if u.status != UserStatus::Active => {
                return Err(self.fail("user disabled", &typed, ctx.client_ip, now).await)
            }
            (Some(u), true) => u,
        };
        let Some(session_user) = self
            .session_user(&user)
            .await
            .map_err(|e| internal("loading the user's tenant", e))?
        else {
            return Err(self
                .fail("tenant suspended", &typed, ctx.client_ip, now)
                .await);
        };

        // A new session id at sign-in: an id planted before sign-in is worthless after it.
        ctx.session
            .cycle_id()
            .await
            .map_err(|e| internal("rotating the session id", e))?;
        for (key, value) in [
            (SESSION_USER_ID, user.id.0),
            (SESSION_SIGNED_IN_AT, now),
            (SESSION_TOUCHED_AT, now),
        ] {
            ctx.session
                .insert(key, value)
                .await
                .map_err(|e| internal("writing the session", e))?;
        }
        self.store
            .throttle_clear(&keys[0])
            .await
            .map_err(|e| internal("clearing the sign-in throttle", e))?;
        if let Some(ip_key) = keys.get(1) {
            self.store
                .throttle_release(ip_key, &self.throttle.ip)
                .await
                .map_err(|e| internal("releasing a sign-in attempt", e))?;
        }
        self.store
            .record_login(user.id, now)
            .await
            .map_err(|e| internal("recording a sign-in", e))?;
        let event = NewAuditEvent::new(
            Actor::User {
                id: user.id,
                email: user.email.clone(),
            },
            AuditKind::UserLogin,
            Outcome::Ok,
            "signed in",
            now,
        )
        .tenant(user.tenant_id)
        .ip(ctx.client_ip);
        self.store
            .append_audit(&event)
            .await
            .map_err(|e| internal("auditing a sign-in", e))?;
        Ok(session_user)
    }

    async fn sign_out(&self, ctx: &RequestCtx) -> Result<(), AppError> {
        let user_id: Option<i64> = ctx
            .session
            .get(SESSION_USER_ID)
            .await
            .map_err(|e| internal("reading the session", e))?;
        ctx.session
            .flush()
            .await
            .map_err(|e| internal("ending the session", e))?;
        if let Some(id) = user_id {
            if let Ok(Some(user)) = self.store.user(UserId(id)).await {
                let event = NewAuditEvent::new(
                    Actor::User {
                        id: user.id,
                        email: user.email,
                    },
                    AuditKind::UserLogout,
                    Outcome::Ok,
                    "signed out",
                    crate::now_ms(),
                )
                .tenant(user.tenant_id)
                .ip(ctx.client_ip);
                self.store
                    .append_audit(&event)
                    .await
                    .map_err(|e| internal("auditing a sign-out", e))?;
            }
        }
        Ok(())
    }

    async fn current_user(&self, ctx: &RequestCtx) -> Result<Option<SessionUser>, AppError> {
        let user_id: Option<i64> = match ctx.session.get(SESSION_USER_ID).await {
            Ok(id) => id,
            // A record we cannot read is treated as no session, not as a server error.
            Err(e) => {
                tracing::warn!(error = %crate::report::Chain(&e), "unreadable session; treating as signed out");
                None
            }
        };
        let Some(id) = user_id else { return Ok(None) };
        let now = crate::now_ms();
        let signed_in_at: Option<i64> = ctx.session.get(SESSION_SIGNED_IN_AT).await.ok().flatten();
        // Past its absolute lifetime (or from before there was one): over, however active.
        if signed_in_at.is_none_or(|at| now - at > self.sessions.max_ms) {
            ctx.session
                .flush()
                .await
                .map_err(|e| internal("ending an old session", e))?;
            return Ok(None);
        }
        let touched_at: Option<i64> = ctx.session.get(SESSION_TOUCHED_AT).await.ok().flatten();
        if touched_at.is_none_or(|at| now - at >= self.sessions.touch_every_ms()) {
            // Changing the session makes the layer save it, which moves its idle expiry.
            ctx.session
                .insert(SESSION_TOUCHED_AT, now)
                .await
                .map_err(|e| internal("extending a session", e))?;
        }
        let user = self
            .store
            .user(UserId(id))
            .await
            .map_err(|e| internal("loading the session's user", e))?;
        let session_user = match user {
            Some(u) if u.status == UserStatus::Active => self
                .session_user(&u)
                .await
                .map_err(|e| internal("loading the user's tenant", e))?,
            _ => None,
        };
        if session_user.is_none() {
            ctx.session
                .flush()
                .await
                .map_err(|e| internal("ending a stale session", e))?;
        }
        Ok(session_user)
    }
}
