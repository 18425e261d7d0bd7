//! Credentials: tickets, tokens, refresh tokens and JS-SDK tickets, sealed at rest.
//!
//! The engine works on this table by leases: [`Store::claim_due_credentials`] marks due rows as
//! its own with a fresh `lease_token`, and every write-back names that token, so a worker whose
//! lease expired (it was slow, or killed) cannot overwrite what another worker wrote since. On
//! PostgreSQL the claim skips rows another instance is claiming at the same moment; on SQLite the
//! single writer makes the claim exclusive anyway.
//!
//! Refresh tokens are the one thing that may never be lost, so they are not fenced by the lease:
//! a refresh token WeChat handed us is stored whatever happens to the access token it came with
//! (a lost lease, a failed audit insert), fenced only by "issued later than the one stored". The
//! access token and its audit event are fenced as above.

use secrecy::{ExposeSecret, SecretString};

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{
    AuthorizerId, ComponentId, CredentialId, CredentialKind, NewAuditEvent, TenantId,
};
use crate::secrets::{fingerprint, Keyring};

/// Inserts or replaces an authorizer's refresh token inside an open transaction `$tx` (a macro, so
/// the same text serves both databases' transaction types), unless the stored one was issued later
/// (`$now` is when the token was asked for): a slow answer never overwrites a newer token.
macro_rules! upsert_refresh_token {
    ($tx:expr, $component:expr, $authorizer:expr, $tenant:expr, $subject:expr, $sealed:expr, $print:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO credentials (component_id, authorizer_id, tenant_id, kind, subject, value_sealed, value_fingerprint, issued_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'authorizer_refresh_token', $4, $5, $6, $7, $7, $7) \
             ON CONFLICT (component_id, kind, subject) DO UPDATE SET value_sealed = excluded.value_sealed, \
             value_fingerprint = excluded.value_fingerprint, issued_at = excluded.issued_at, authorizer_id = excluded.authorizer_id, \
             tenant_id = excluded.tenant_id, version = credentials.version + 1, updated_at = excluded.updated_at \
             WHERE credentials.issued_at IS NULL OR credentials.issued_at <= excluded.issued_at",
        )
        .bind($component.0)
        .bind($authorizer.map(|a: AuthorizerId| a.0))
        .bind($tenant.map(|t: TenantId| t.0))
        .bind($subject)
        .bind($sealed)
        .bind($print)
        .bind($now)
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use upsert_refresh_token;

/// Stores a ticket unless a newer one is stored, and (with `$wake`) makes the component's token
/// due if it has no working one, inside an open transaction. Evaluates to
/// `Result<bool, sqlx::Error>` (stored?). The caller skips the wake-up when it knows the token is
/// fine: on SQLite every statement is a round trip to the writer, and tickets are the busiest push.
macro_rules! store_ticket_tx {
    ($tx:expr, $component:expr, $sealed:expr, $print:expr, $issued_at:expr, $expires_at:expr, $now:expr, $wake:expr) => {
        async {
            let stored = sqlx::query(
                "INSERT INTO credentials (component_id, kind, subject, value_sealed, value_fingerprint, issued_at, expires_at, created_at, updated_at) \
                 VALUES ($1, 'component_verify_ticket', '', $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (component_id, kind, subject) DO UPDATE SET value_sealed = excluded.value_sealed, \
                 value_fingerprint = excluded.value_fingerprint, issued_at = excluded.issued_at, expires_at = excluded.expires_at, \
                 version = credentials.version + 1, updated_at = excluded.updated_at \
                 WHERE credentials.issued_at IS NULL OR credentials.issued_at <= excluded.issued_at",
            )
            .bind($component.0)
            .bind($sealed)
            .bind($print)
            .bind($issued_at)
            .bind($expires_at)
            .bind($now)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
                == 1;
            if $wake {
            sqlx::query(
                "INSERT INTO credentials (component_id, kind, subject, refresh_at, created_at, updated_at) \
                 VALUES ($1, 'component_access_token', '', $2, $2, $2) ON CONFLICT (component_id, kind, subject) DO NOTHING",
            )
            .bind($component.0)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
            // A component without a working token, or one waiting out a ticket error, tries now.
            sqlx::query(
                "UPDATE credentials SET refresh_at = $2, next_attempt_at = NULL \
                 WHERE component_id = $1 AND kind = 'component_access_token' \
                 AND ((expires_at IS NULL OR expires_at <= $2) OR last_error_code IN (61005, 61006)) \
                 AND (refresh_at IS NULL OR refresh_at > $2 OR next_attempt_at > $2)",
            )
            .bind($component.0)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
            }
            Ok::<bool, sqlx::Error>(stored)
        }
        .await
    };
}
pub(crate) use store_ticket_tx;

/// The `refresh_at` of a credential whose refresh was forced (see [`Store::refresh_now_if_current`]):
/// long past, so it is due at once and claimed first.
pub const FORCED_REFRESH_AT: i64 = 1;

/// Notifications that some instance changed live credentials.
pub struct CredentialChanges {
    listener: sqlx::postgres::PgListener,
}

impl CredentialChanges {
    /// Waits for the next change, then swallows any that arrived with it (one sync covers them).
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.listener.recv().await?;
        while self.listener.next_buffered().is_some() {}
        Ok(())
    }
}

/// A row the engine holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedCredential {
    pub id: CredentialId,
    pub component_id: ComponentId,
    pub authorizer_id: Option<AuthorizerId>,
    pub tenant_id: Option<TenantId>,
    pub kind: CredentialKind,
    pub subject: String,
    pub lease_owner: String,
    pub lease_token: i64,
    pub expires_at: Option<i64>,
    pub failure_count: i64,
    pub value_fingerprint: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    component_id: i64,
    authorizer_id: Option<i64>,
    tenant_id: Option<i64>,
    kind: String,
    subject: String,
    lease_token: i64,
    expires_at: Option<i64>,
    failure_count: i64,
    value_fingerprint: Option<String>,
}

/// A freshly issued token to store.
#[derive(Debug)]
pub struct IssuedCredential<'a> {
    pub value: &'a SecretString,
    pub issued_at: i64,
    pub expires_at: i64,
    pub refresh_at: i64,
}

/// A credential as the token cache holds it.
#[derive(Debug, Clone)]
pub struct CredentialSnapshot {
    pub id: CredentialId,
    pub component_id: ComponentId,
    pub tenant_id: Option<TenantId>,
    pub kind: CredentialKind,
    pub subject: String,
    pub value: Option<SecretString>,
    pub expires_at: Option<i64>,
    pub refresh_at: Option<i64>,
    pub updated_at: i64,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    id: i64,
    component_id: i64,
    tenant_id: Option<i64>,
    kind: String,
    subject: String,
    value_sealed: Option<String>,
    expires_at: Option<i64>,
    refresh_at: Option<i64>,
    updated_at: i64,
    version: i64,
}

/// What the dashboard and tests read about one credential (never the value).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CredentialHealth {
    pub kind: String,
    pub subject: String,
    pub issued_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub refresh_at: Option<i64>,
    pub failure_count: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_code: Option<i64>,
    pub last_error_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub version: i64,
    /// A hold on the whole component that covers this credential ("busy", "over quota", no
    /// component token), however long ago it ended.
    pub component_held_until: Option<i64>,
}

impl CredentialHealth {
    /// The earliest time this credential may be refreshed again, when that is later than `now`:
    /// its own back-off or its component's hold.
    pub fn held_until(&self, now: i64) -> Option<i64> {
        self.next_attempt_at
            .max(self.component_held_until)
            .filter(|&at| at > now)
    }
}

pub(crate) fn purpose(component: ComponentId, kind: CredentialKind, subject: &str) -> String {
    format!("credential:{}:{}:{subject}", component.0, kind.as_str())
}

const LIVE_KINDS: &str = "('component_access_token', 'authorizer_access_token', 'jsapi_ticket')";

impl Store {
    /// Stores a pushed ticket unless a newer one is already stored, and makes sure the component's
    /// token is due if it has none that works. Returns whether the ticket was the newest.
    pub async fn store_ticket(
        &self,
        component: ComponentId,
        ticket: &SecretString,
        issued_at: i64,
        lifetime_ms: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let kind = CredentialKind::ComponentVerifyTicket;
        let sealed = self
            .keyring()?
            .seal_str(&purpose(component, kind, ""), ticket);
        let print = fingerprint(ticket.expose_secret());
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let stored = store_ticket_tx!(
                tx,
                component,
                &sealed,
                &print,
                issued_at,
                issued_at + lifetime_ms,
                now,
                true
            )?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    /// The newest stored ticket and when it was issued.
    pub async fn latest_ticket(
        &self,
        component: ComponentId,
    ) -> Result<Option<(SecretString, i64)>, StoreError> {
        let row: Option<(Option<String>, Option<i64>)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT value_sealed, issued_at FROM credentials WHERE component_id = $1 AND kind = 'component_verify_ticket' AND subject = ''",
            )
            .bind(component.0)
            .fetch_optional(pool)
            .await
        })?;
        let Some((Some(sealed), Some(issued_at))) = row else {
            return Ok(None);
        };
        let value = self.keyring()?.open_str(
            &purpose(component, CredentialKind::ComponentVerifyTicket, ""),
            &sealed,
        )?;
        Ok(Some((value, issued_at)))
    }

    /// Claims up to `limit` due credentials for `owner` until `lease_until`, of one kind when
    /// `only` names it (component tokens go first: every authorizer refresh needs one).
    pub async fn claim_due_credentials(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        only: Option<CredentialKind>,
    ) -> Result<Vec<ClaimedCredential>, StoreError> {
        let sql = format!(
            // A materialized pick runs once; as `IN (…)` PostgreSQL may run it again per row, each
            // run skipping what the last locked, and claim more than the limit (see
            // `Store::claim_sql` in `store/webhooks.rs`).
            "WITH due AS MATERIALIZED (SELECT id FROM credentials WHERE refresh_at IS NOT NULL AND refresh_at <= $3 \
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
               AND (next_attempt_at IS NULL OR next_attempt_at <= $3) AND ($5 = '' OR kind = $5) \
               AND NOT EXISTS (SELECT 1 FROM components p WHERE p.id = credentials.component_id \
                 AND (p.refreshes_held_until > $3 OR (p.authorizers_held_until > $3 \
                   AND credentials.kind IN ('authorizer_access_token', 'jsapi_ticket')))) \
               ORDER BY refresh_at LIMIT $4{}) \
             UPDATE credentials SET lease_owner = $1, lease_expires_at = $2, lease_token = credentials.lease_token + 1 \
             FROM due WHERE credentials.id = due.id \
             RETURNING credentials.id, component_id, authorizer_id, tenant_id, kind, subject, lease_token, expires_at, failure_count, value_fingerprint",
            self.dialect.claim_suffix
        );
        let rows: Vec<ClaimRow> = write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .bind(only.map_or("", CredentialKind::as_str))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(ClaimedCredential {
                    id: CredentialId(r.id),
                    component_id: ComponentId(r.component_id),
                    authorizer_id: r.authorizer_id.map(AuthorizerId),
                    tenant_id: r.tenant_id.map(TenantId),
                    kind: CredentialKind::parse(&r.kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("credential kind {}", r.kind))
                    })?,
                    subject: r.subject,
                    lease_owner: owner.to_owned(),
                    lease_token: r.lease_token,
                    expires_at: r.expires_at,
                    failure_count: r.failure_count,
                    value_fingerprint: r.value_fingerprint,
                })
            })
            .collect()
    }

    /// Writes a refreshed token back, if `claim` still holds the lease. With an authorizer's token,
    /// the refresh token WeChat returned is written in the same transaction, and kept even when the
    /// lease turns out to be lost (see the module docs). Returns the row's new version, or `None`
    /// when the lease was lost (then only the refresh token was written).
    pub async fn complete_refresh(
        &self,
        claim: &ClaimedCredential,
        issued: IssuedCredential<'_>,
        refresh_token: Option<&SecretString>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let keyring = self.keyring()?;
        let sealed = keyring.seal_str(
            &purpose(claim.component_id, claim.kind, &claim.subject),
            issued.value,
        );
        let print = fingerprint(issued.value.expose_secret());
        let refresh = refresh_token.map(|r| {
            (
                keyring.seal_str(
                    &purpose(
                        claim.component_id,
                        CredentialKind::AuthorizerRefreshToken,
                        &claim.subject,
                    ),
                    r,
                ),
                fingerprint(r.expose_secret()),
            )
        });
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            if let Some((sealed_refresh, refresh_print)) = &refresh {
                upsert_refresh_token!(
                    tx,
                    claim.component_id,
                    claim.authorizer_id,
                    claim.tenant_id,
                    &claim.subject,
                    sealed_refresh,
                    refresh_print,
                    issued.issued_at
                )?;
            }
            let version: Option<i64> = sqlx::query_scalar(
                "UPDATE credentials SET value_sealed = $1, value_fingerprint = $2, issued_at = $3, expires_at = $4, refresh_at = $5, \
                 lease_owner = NULL, lease_expires_at = NULL, failure_count = 0, next_attempt_at = NULL, last_error = NULL, \
                 last_error_code = NULL, last_refreshed_at = $6, version = version + 1, updated_at = $6 \
                 WHERE id = $7 AND lease_owner = $8 AND lease_token = $9 RETURNING version",
            )
            .bind(&sealed)
            .bind(&print)
            .bind(issued.issued_at)
            .bind(issued.expires_at)
            .bind(issued.refresh_at)
            .bind(now)
            .bind(claim.id.0)
            .bind(&claim.lease_owner)
            .bind(claim.lease_token)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(version) = version else {
                // The access token is another worker's business now; the refresh token is ours to
                // keep (it was written above only if it is newer than the stored one).
                tx.commit().await?;
                return Ok(None);
            };
            super::notify_credentials!(self, tx);
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            self.fail_points
                .check(super::failpoints::FailPoint::CompleteRefresh)?;
            tx.commit().await?;
            Ok(Some(version))
        })
    }

    /// Stores a refresh token WeChat handed us outside a refresh's own write-back (its transaction
    /// failed, or the token was recovered from WeChat), unless a later one is stored. `issued_at` is
    /// when it was asked for. True when it was written.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_refresh_token(
        &self,
        component: ComponentId,
        authorizer: Option<AuthorizerId>,
        tenant: Option<TenantId>,
        appid: &str,
        refresh_token: &SecretString,
        issued_at: i64,
        audit: Option<&NewAuditEvent>,
    ) -> Result<bool, StoreError> {
        let sealed = self.keyring()?.seal_str(
            &purpose(component, CredentialKind::AuthorizerRefreshToken, appid),
            refresh_token,
        );
        let print = fingerprint(refresh_token.expose_secret());
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let written = upsert_refresh_token!(
                tx, component, authorizer, tenant, appid, &sealed, &print, issued_at
            )?
            .rows_affected()
                == 1;
            if let (true, Some(audit)) = (written, audit) {
                bind_audit!(sqlx::query(super::audit::INSERT), audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(written)
        })
    }

    /// Pushes a held lease's expiry out (before a slow recovery), if it is still held.
    pub async fn extend_lease(
        &self,
        claim: &ClaimedCredential,
        until: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE credentials SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND lease_token = $4",
            )
            .bind(until)
            .bind(claim.id.0)
            .bind(&claim.lease_owner)
            .bind(claim.lease_token)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
        .map_err(Into::into)
    }

    /// Records a failed refresh (if the lease is still held): the error, and when to try again.
    pub async fn fail_refresh(
        &self,
        claim: &ClaimedCredential,
        error: &str,
        errcode: Option<i64>,
        next_attempt_at: i64,
        audit: Option<&NewAuditEvent>,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE credentials SET lease_owner = NULL, lease_expires_at = NULL, failure_count = failure_count + 1, \
                 next_attempt_at = $1, last_error = $2, last_error_code = $3, last_error_at = $4 \
                 WHERE id = $5 AND lease_owner = $6 AND lease_token = $7",
            )
            .bind(next_attempt_at)
            .bind(error)
            .bind(errcode)
            .bind(now)
            .bind(claim.id.0)
            .bind(&claim.lease_owner)
            .bind(claim.lease_token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                if let Some(audit) = audit {
                    bind_audit!(sqlx::query(super::audit::INSERT), audit)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(updated == 1)
        })
    }

    /// Gives a lease back without counting a failure (e.g. the component has no token yet).
    pub async fn release_credential(
        &self,
        claim: &ClaimedCredential,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE credentials SET lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = $1 \
                 WHERE id = $2 AND lease_owner = $3 AND lease_token = $4",
            )
            .bind(next_attempt_at)
            .bind(claim.id.0)
            .bind(&claim.lease_owner)
            .bind(claim.lease_token)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Holds every refresh of a component until `until` (WeChat said "busy" or "over quota"): one
    /// write to the component's row, which the claim query honours (a hold already reaching
    /// further is kept). True when the hold was written.
    pub async fn pause_component_refreshes(
        &self,
        component: ComponentId,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.hold_component(component, "refreshes_held_until", until)
            .await
    }

    /// Holds every authorizer token and JS-SDK ticket of a component until `until`: the component
    /// has no token to refresh them with. [`Store::resume_component_authorizers`] lets them go as
    /// soon as it has one.
    pub async fn pause_component_authorizers(
        &self,
        component: ComponentId,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.hold_component(component, "authorizers_held_until", until)
            .await
    }

    async fn hold_component(
        &self,
        component: ComponentId,
        column: &'static str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE components SET {column} = $2 WHERE id = $1 AND ({column} IS NULL OR {column} < $2)"
        );
        write!(self, |pool| {
            sqlx::query(&sql)
                .bind(component.0)
                .bind(until)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
        })
        .map_err(Into::into)
    }

    /// Releases the authorizers of a component that were held for want of a component token, now
    /// that it has one again (each tries once; one that fails backs off again by itself). True
    /// when a hold still in force was lifted.
    pub async fn resume_component_authorizers(
        &self,
        component: ComponentId,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE components SET authorizers_held_until = NULL WHERE id = $1 AND authorizers_held_until > $2",
            )
            .bind(component.0)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
        })
        .map_err(Into::into)
    }

    /// Makes a credential due now, but only if its current value is the one named (so a report
    /// about an already replaced token does nothing: no stampede) and it is not due already.
    ///
    /// A forced row gets `refresh_at = FORCED_REFRESH_AT` rather than `now`: two reports racing on
    /// PostgreSQL each carry their own `now`, and the one that waited for the other's row lock
    /// re-checks `refresh_at > its now`, which a `now` from a moment later would still pass.
    /// The fixed value in the past fails that check for every report after the first.
    ///
    /// With `forced_before`, only a credential not forced since that moment is forced (a
    /// rejection report cannot make one account refresh more often than that), and the time is
    /// noted; without it (the engine's own 40001 handling), nothing is rationed.
    pub async fn refresh_now_if_current(
        &self,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
        current_fingerprint: &str,
        now: i64,
        forced_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE credentials SET refresh_at = $6, next_attempt_at = NULL, \
                 forced_at = CASE WHEN $7 IS NULL THEN forced_at ELSE $5 END \
                 WHERE component_id = $1 AND kind = $2 AND subject = $3 AND value_fingerprint = $4 \
                 AND refresh_at IS NOT NULL AND refresh_at > $5 \
                 AND ($7 IS NULL OR forced_at IS NULL OR forced_at < $7)",
            )
            .bind(component.0)
            .bind(kind.as_str())
            .bind(subject)
            .bind(current_fingerprint)
            .bind(now)
            .bind(FORCED_REFRESH_AT)
            .bind(forced_before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
        .map_err(Into::into)
    }

    /// Whether [`Store::refresh_now_if_current`] with `forced_before` would force this credential
    /// now (a read: the caller spends a budget only on reports that would).
    pub async fn may_force_refresh(
        &self,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
        current_fingerprint: &str,
        now: i64,
        forced_before: i64,
    ) -> Result<bool, StoreError> {
        let n: i64 = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM credentials WHERE component_id = $1 AND kind = $2 AND subject = $3 \
                 AND value_fingerprint = $4 AND refresh_at IS NOT NULL AND refresh_at > $5 \
                 AND (forced_at IS NULL OR forced_at < $6)",
            )
            .bind(component.0)
            .bind(kind.as_str())
            .bind(subject)
            .bind(current_fingerprint)
            .bind(now)
            .bind(forced_before)
            .fetch_one(pool)
            .await
        })?;
        Ok(n > 0)
    }

    /// Starts keeping an authorizer's JS-SDK ticket (the first JS-SDK request for the account): a
    /// row due now, which the engine then refreshes like any token. A row left dormant by a
    /// revocation (no `refresh_at`) is woken the same way once the account is back. True if the
    /// ticket was not being kept.
    pub async fn ensure_jsapi_ticket(
        &self,
        component: ComponentId,
        authorizer: AuthorizerId,
        tenant: TenantId,
        appid: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO credentials (component_id, authorizer_id, tenant_id, kind, subject, refresh_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'jsapi_ticket', $4, $5, $5, $5) ON CONFLICT (component_id, kind, subject) \
                 DO UPDATE SET refresh_at = excluded.refresh_at, next_attempt_at = NULL, authorizer_id = excluded.authorizer_id, \
                 tenant_id = excluded.tenant_id, updated_at = excluded.updated_at \
                 WHERE credentials.refresh_at IS NULL",
            )
            .bind(component.0)
            .bind(authorizer.0)
            .bind(tenant.0)
            .bind(appid)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
        .map_err(Into::into)
    }

    /// The stored refresh token of an authorizer.
    pub async fn refresh_token(
        &self,
        component: ComponentId,
        authorizer_appid: &str,
    ) -> Result<Option<SecretString>, StoreError> {
        let sealed: Option<Option<String>> = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT value_sealed FROM credentials WHERE component_id = $1 AND kind = 'authorizer_refresh_token' AND subject = $2",
            )
            .bind(component.0)
            .bind(authorizer_appid)
            .fetch_optional(pool)
            .await
        })?;
        match sealed.flatten() {
            None => Ok(None),
            Some(s) => Ok(Some(self.keyring()?.open_str(
                &purpose(
                    component,
                    CredentialKind::AuthorizerRefreshToken,
                    authorizer_appid,
                ),
                &s,
            )?)),
        }
    }

    /// Live credentials changed after the keyset position (`updated_at`, `id`), oldest first, for
    /// the token cache.
    pub async fn credentials_changed_after(
        &self,
        updated_at: i64,
        id: i64,
        limit: i64,
    ) -> Result<Vec<CredentialSnapshot>, StoreError> {
        let sql = format!(
            "SELECT id, component_id, tenant_id, kind, subject, value_sealed, expires_at, refresh_at, updated_at, version \
             FROM credentials WHERE (updated_at > $1 OR (updated_at = $1 AND id > $2)) AND kind IN {LIVE_KINDS} \
             ORDER BY updated_at, id LIMIT $3"
        );
        let rows: Vec<SnapshotRow> = read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(updated_at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        let keyring = self.keyring()?;
        rows.into_iter().map(|r| snapshot_of(keyring, r)).collect()
    }

    /// One live credential as the cache keeps it, read when the cache does not hold it.
    pub async fn credential_snapshot(
        &self,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
    ) -> Result<Option<CredentialSnapshot>, StoreError> {
        let row: Option<SnapshotRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, component_id, tenant_id, kind, subject, value_sealed, expires_at, refresh_at, updated_at, version \
                 FROM credentials WHERE component_id = $1 AND kind = $2 AND subject = $3",
            )
            .bind(component.0)
            .bind(kind.as_str())
            .bind(subject)
            .fetch_optional(pool)
            .await
        })?;
        let keyring = self.keyring()?;
        row.map(|r| snapshot_of(keyring, r)).transpose()
    }

    /// The newest `updated_at` of any credential (0 with none): where a cache that starts without
    /// reading every row begins following changes.
    pub async fn credentials_newest_update(&self) -> Result<i64, StoreError> {
        let newest: Option<i64> = read!(self, |pool| {
            sqlx::query_scalar("SELECT MAX(updated_at) FROM credentials")
                .fetch_one(pool)
                .await
        })?;
        Ok(newest.unwrap_or(0))
    }

    /// Every live credential of `kind` (the component tokens, which every instance keeps).
    pub async fn credentials_of_kind(
        &self,
        kind: CredentialKind,
    ) -> Result<Vec<CredentialSnapshot>, StoreError> {
        let rows: Vec<SnapshotRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, component_id, tenant_id, kind, subject, value_sealed, expires_at, refresh_at, updated_at, version \
                 FROM credentials WHERE kind = $1 AND value_sealed IS NOT NULL",
            )
            .bind(kind.as_str())
            .fetch_all(pool)
            .await
        })?;
        let keyring = self.keyring()?;
        rows.into_iter().map(|r| snapshot_of(keyring, r)).collect()
    }

    /// Health of one credential, for tests and the console.
    pub async fn credential_health(
        &self,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
    ) -> Result<Option<CredentialHealth>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT c.kind, c.subject, c.issued_at, c.expires_at, c.refresh_at, c.failure_count, c.next_attempt_at, c.last_error, \
                 c.last_error_code, c.last_error_at, c.last_refreshed_at, c.version, \
                 CASE WHEN c.kind IN ('authorizer_access_token', 'jsapi_ticket') AND p.authorizers_held_until IS NOT NULL \
                   AND (p.refreshes_held_until IS NULL OR p.authorizers_held_until > p.refreshes_held_until) \
                 THEN p.authorizers_held_until ELSE p.refreshes_held_until END AS component_held_until \
                 FROM credentials c JOIN components p ON p.id = c.component_id \
                 WHERE c.component_id = $1 AND c.kind = $2 AND c.subject = $3",
            )
            .bind(component.0)
            .bind(kind.as_str())
            .bind(subject)
            .fetch_optional(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// A listener for other instances' credential changes (PostgreSQL); `None` on SQLite.
    pub async fn credential_changes(&self) -> Result<Option<CredentialChanges>, StoreError> {
        match &self.pools {
            super::Pools::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen("wxhub_credentials").await?;
                Ok(Some(CredentialChanges { listener }))
            }
            super::Pools::Sqlite { .. } => Ok(None),
        }
    }

    /// How many credentials are due now, counted up to [`DUE_COUNT_CAP`] (a metric: the refresh
    /// backlog). A full count read every credential's index entry on each health tick, 25 s at
    /// two million rows; the capped one reads at most the cap's worth, and a backlog past it is
    /// an alarm whatever its exact size.
    pub async fn due_credentials(&self, now: i64) -> Result<i64, StoreError> {
        read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM credentials WHERE refresh_at IS NOT NULL AND refresh_at <= $1 LIMIT $2) due",
            )
            .bind(now)
            .bind(DUE_COUNT_CAP)
            .fetch_one(pool)
            .await
        })
        .map_err(Into::into)
    }
}

/// The most due credentials [`Store::due_credentials`] counts.
pub const DUE_COUNT_CAP: i64 = 10_000;

/// A row as the cache keeps it: its value opened.
fn snapshot_of(keyring: &Keyring, r: SnapshotRow) -> Result<CredentialSnapshot, StoreError> {
    let kind = CredentialKind::parse(&r.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("credential kind {}", r.kind)))?;
    let component = ComponentId(r.component_id);
    let value = r
        .value_sealed
        .as_deref()
        .map(|s| keyring.open_str(&purpose(component, kind, &r.subject), s))
        .transpose()?;
    Ok(CredentialSnapshot {
        id: CredentialId(r.id),
        component_id: component,
        tenant_id: r.tenant_id.map(TenantId),
        kind,
        subject: r.subject,
        value,
        expires_at: r.expires_at,
        refresh_at: r.refresh_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}
