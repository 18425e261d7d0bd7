//! Authorizers (accounts that authorized a component), their permission sets and history, and the
//! authorization links that attribute them to a tenant.
//!
//! Recording an authorization is one transaction: the account, its permission rows, a history
//! entry with what changed, its first access token and its refresh token, and the audit event. A
//! crash therefore leaves either all of it or none. None is not a loss: the exchange job stored
//! WeChat's answer (sealed, on the job row) before calling this, and runs again from that answer
//! rather than from the spent code; an answer lost even so is recovered through
//! `api_get_authorizer_info` (see `engine::jobs`).
//!
//! Authorization events are applied in WeChat's order, not in arrival order: each account keeps the
//! time of the newest event applied to it (`last_event_at`, WeChat's CreateTime, whole seconds), and
//! an older one changes nothing. Events within the same second apply in the order they arrive.
//! Marking an account as lost (`needs_reauth`) is fenced twice: by the refresh lease of the worker
//! that found it lost, and by the refresh token it tried, so a slow worker never marks an account
//! that was refreshed or authorized again meanwhile.

use secrecy::{ExposeSecret, SecretString};

use super::credentials::{purpose, upsert_refresh_token, ClaimedCredential, IssuedCredential};
use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{
    AuthorizationLink, Authorizer, AuthorizerChange, AuthorizerId, AuthorizerStatus, ComponentId,
    CredentialKind, LinkId, NewAuditEvent, TenantId,
};
use crate::secrets::fingerprint;

/// What an exchanged authorization code told us.
pub struct NewAuthorization<'a> {
    /// `None` keeps an account unassigned (a new one), or leaves it with its tenant (a known one).
    pub tenant: Option<TenantId>,
    pub component: ComponentId,
    pub appid: &'a str,
    pub func_ids: &'a [i64],
    pub link: Option<LinkId>,
    pub source: &'a str,
    pub access: Option<IssuedCredential<'a>>,
    pub refresh: Option<&'a SecretString>,
    /// When the authorization happened, on WeChat's clock where known (the push's CreateTime), in
    /// ms. An account whose newest applied event is later is left as it is.
    pub event_at: i64,
}

/// What recording it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAuthorization {
    pub id: AuthorizerId,
    /// `authorized` (new or back after revocation), `reauthorized` (same sets),
    /// `permissions_changed`, or `superseded` (a later event was applied already; nothing changed).
    pub change: &'static str,
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
    /// The tenant the account belonged to before, when this moved it to another tenant.
    pub moved_from: Option<TenantId>,
}

/// What marking an account as lost did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossOutcome {
    /// The account now needs re-authorization; its tenant (`None`: unassigned).
    Marked(Option<TenantId>),
    /// The worker's lease had expired: someone else owns the refresh now; nothing was changed.
    LeaseLost,
    /// The stored refresh token is no longer the one that failed (a refresh or a re-authorization
    /// stored a new one): the account is refreshed again at once with it.
    RefreshTokenChanged,
    /// The account was not authorized any more (revoked, or already lost).
    NotAuthorized,
}

const COLUMNS: &str = "id, tenant_id, component_id, appid, account_kind, nick_name, head_img, user_name, principal_name, alias, \
     qrcode_url, service_type, verify_type, account_status, func_info, menu_json, menu_fetched_at, info_fetched_at, status, link_id, \
     authorized_at, revoked_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct AuthorizerRow {
    id: i64,
    tenant_id: Option<i64>,
    component_id: i64,
    appid: String,
    account_kind: String,
    nick_name: String,
    head_img: String,
    user_name: String,
    principal_name: String,
    alias: String,
    qrcode_url: String,
    service_type: Option<i64>,
    verify_type: Option<i64>,
    account_status: Option<i64>,
    func_info: String,
    menu_json: Option<String>,
    menu_fetched_at: Option<i64>,
    info_fetched_at: Option<i64>,
    status: String,
    link_id: Option<i64>,
    authorized_at: i64,
    revoked_at: Option<i64>,
    updated_at: i64,
}

impl TryFrom<AuthorizerRow> for Authorizer {
    type Error = StoreError;
    fn try_from(r: AuthorizerRow) -> Result<Self, StoreError> {
        Ok(Authorizer {
            id: AuthorizerId(r.id),
            tenant_id: r.tenant_id.map(TenantId),
            component_id: ComponentId(r.component_id),
            appid: r.appid,
            account_kind: r.account_kind,
            nick_name: r.nick_name,
            head_img: r.head_img,
            user_name: r.user_name,
            principal_name: r.principal_name,
            alias: r.alias,
            qrcode_url: r.qrcode_url,
            service_type: r.service_type,
            verify_type: r.verify_type,
            account_status: r.account_status,
            func_ids: serde_json::from_str(&r.func_info)
                .map_err(|_| StoreError::Corrupt("authorizer func_info".into()))?,
            menu_json: r.menu_json,
            menu_fetched_at: r.menu_fetched_at,
            info_fetched_at: r.info_fetched_at,
            status: AuthorizerStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("authorizer status {}", r.status)))?,
            link_id: r.link_id.map(LinkId),
            authorized_at: r.authorized_at,
            revoked_at: r.revoked_at,
            updated_at: r.updated_at,
        })
    }
}

/// The profile fields `api_get_authorizer_info` fills in.
pub struct AuthorizerProfileUpdate<'a> {
    pub account_kind: &'a str,
    pub nick_name: &'a str,
    pub head_img: &'a str,
    pub user_name: &'a str,
    pub principal_name: &'a str,
    pub alias: &'a str,
    pub qrcode_url: &'a str,
    pub service_type: Option<i64>,
    pub verify_type: Option<i64>,
    pub account_status: Option<i64>,
    pub info_json: &'a str,
}

/// An account's row as recording locks it: id, func_info, status, tenant (none: unassigned),
/// last_event_at.
type ExistingAuthorizer = (i64, String, String, Option<i64>, Option<i64>);

fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Records an exchanged authorization (see the module docs).
    pub async fn record_authorization(
        &self,
        new: &NewAuthorization<'_>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<RecordedAuthorization, StoreError> {
        let keyring = self.keyring()?;
        let mut funcs: Vec<i64> = new.func_ids.to_vec();
        funcs.sort_unstable();
        funcs.dedup();
        let access = new.access.as_ref().map(|a| {
            (
                keyring.seal_str(
                    &purpose(
                        new.component,
                        CredentialKind::AuthorizerAccessToken,
                        new.appid,
                    ),
                    a.value,
                ),
                fingerprint(a.value.expose_secret()),
                a.issued_at,
                a.expires_at,
                a.refresh_at,
            )
        });
        let refresh = new.refresh.map(|r| {
            (
                keyring.seal_str(
                    &purpose(
                        new.component,
                        CredentialKind::AuthorizerRefreshToken,
                        new.appid,
                    ),
                    r,
                ),
                fingerprint(r.expose_secret()),
            )
        });
        // An imported account was authorized when WeChat's list says, often long before wxhub
        // learnt of it; every other authorization is shown as of when wxhub recorded it.
        let authorized_at = if new.source == "import" {
            new.event_at.min(now)
        } else {
            now
        };
        let select = format!(
            "SELECT id, func_info, status, tenant_id, last_event_at FROM authorizers WHERE component_id = $1 AND appid = $2{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let existing: Option<ExistingAuthorizer> = sqlx::query_as(&select)
                .bind(new.component.0)
                .bind(new.appid)
                .fetch_optional(&mut *tx)
                .await?;
            // A revocation WeChat pushed after this authorization happened, applied before this
            // (slower) exchange finished, wins even over an account we never stored.
            let revoked_at: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(create_time) FROM received_pushes WHERE component_id = $1 AND authorizer_appid = $2 AND info_type = 'unauthorized'",
            )
            .bind(new.component.0)
            .bind(new.appid)
            .fetch_one(&mut *tx)
            .await?;
            let revoked_later = revoked_at
                .and_then(|s| s.checked_mul(1000))
                .is_some_and(|at| at > new.event_at);
            let (id, change, added, removed, moved_from, tenant_after) = match existing {
                None if revoked_later => {
                    tx.rollback().await?;
                    return Ok(RecordedAuthorization {
                        id: AuthorizerId(0),
                        change: "superseded",
                        added: Vec::new(),
                        removed: Vec::new(),
                        moved_from: None,
                    });
                }
                // An import takes only accounts wxhub does not hold as authorized: one that got
                // authorized (or its token rotated) since the import looked is newer than the
                // list the import read, whatever the clock says.
                Some((id, _, ref status, _, last))
                    if revoked_later
                        || last.is_some_and(|last| last > new.event_at)
                        || (new.source == "import" && status == "authorized") =>
                {
                    tx.rollback().await?;
                    return Ok(RecordedAuthorization {
                        id: AuthorizerId(id),
                        change: "superseded",
                        added: Vec::new(),
                        removed: Vec::new(),
                        moved_from: None,
                    });
                }
                Some((id, old_funcs, status, old_tenant, _)) => {
                    let old: Vec<i64> = serde_json::from_str(&old_funcs).unwrap_or_default();
                    let added: Vec<i64> =
                        funcs.iter().copied().filter(|f| !old.contains(f)).collect();
                    let removed: Vec<i64> =
                        old.iter().copied().filter(|f| !funcs.contains(f)).collect();
                    let change = if status != "authorized" {
                        "authorized"
                    } else if added.is_empty() && removed.is_empty() {
                        "reauthorized"
                    } else {
                        "permissions_changed"
                    };
                    sqlx::query(
                        "UPDATE authorizers SET tenant_id = COALESCE($1, tenant_id), func_info = $2, status = 'authorized', link_id = COALESCE($3, link_id), \
                         authorized_at = $7, revoked_at = NULL, updated_at = $4, \
                         last_event_at = CASE WHEN last_event_at IS NULL OR last_event_at < $6 THEN $6 ELSE last_event_at END WHERE id = $5",
                    )
                    .bind(new.tenant.map(|t| t.0))
                    .bind(json_ids(&funcs))
                    .bind(new.link.map(|l| l.0))
                    .bind(now)
                    .bind(id)
                    .bind(new.event_at)
                    .bind(authorized_at)
                    .execute(&mut *tx)
                    .await?;
                    // An unassigned account that a tenant's link now names is assigned by it; an
                    // account a tenant holds is moved only by another tenant's link.
                    let tenant_after = new.tenant.map(|t| t.0).or(old_tenant);
                    let moved_from = match old_tenant {
                        Some(old) if tenant_after != Some(old) => Some(TenantId(old)),
                        _ => None,
                    };
                    if tenant_after != old_tenant {
                        // Every credential of the account follows it, so no cache anywhere keeps
                        // serving it to the tenant it left.
                        sqlx::query(
                            "UPDATE credentials SET tenant_id = $1, version = version + 1, updated_at = $2 \
                             WHERE component_id = $3 AND subject = $4 AND kind IN ('authorizer_access_token', 'authorizer_refresh_token', 'jsapi_ticket')",
                        )
                        .bind(tenant_after)
                        .bind(now)
                        .bind(new.component.0)
                        .bind(new.appid)
                        .execute(&mut *tx)
                        .await?;
                    }
                    (id, change, added, removed, moved_from, tenant_after)
                }
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO authorizers (tenant_id, component_id, appid, func_info, status, link_id, authorized_at, created_at, updated_at, last_event_at) \
                         VALUES ($1, $2, $3, $4, 'authorized', $5, $8, $6, $6, $7) RETURNING id",
                    )
                    .bind(new.tenant.map(|t| t.0))
                    .bind(new.component.0)
                    .bind(new.appid)
                    .bind(json_ids(&funcs))
                    .bind(new.link.map(|l| l.0))
                    .bind(now)
                    .bind(new.event_at)
                    .bind(authorized_at)
                    .fetch_one(&mut *tx)
                    .await?;
                    (
                        id,
                        "authorized",
                        funcs.clone(),
                        Vec::new(),
                        None,
                        new.tenant.map(|t| t.0),
                    )
                }
            };
            sqlx::query("DELETE FROM authorizer_permissions WHERE authorizer_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for f in &funcs {
                sqlx::query("INSERT INTO authorizer_permissions (authorizer_id, tenant_id, permission_id) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(tenant_after)
                    .bind(*f)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO authorizer_history (tenant_id, authorizer_id, change, source, permissions, added, removed, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tenant_after)
            .bind(id)
            .bind(change)
            .bind(new.source)
            .bind(json_ids(&funcs))
            .bind(json_ids(&added))
            .bind(json_ids(&removed))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            match &access {
                Some((sealed, print, issued_at, expires_at, refresh_at)) => {
                    sqlx::query(
                        "INSERT INTO credentials (component_id, authorizer_id, tenant_id, kind, subject, value_sealed, value_fingerprint, \
                         issued_at, expires_at, refresh_at, last_refreshed_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'authorizer_access_token', $4, $5, $6, $7, $8, $9, $10, $10, $10) \
                         ON CONFLICT (component_id, kind, subject) DO UPDATE SET authorizer_id = excluded.authorizer_id, \
                         tenant_id = excluded.tenant_id, value_sealed = excluded.value_sealed, value_fingerprint = excluded.value_fingerprint, \
                         issued_at = excluded.issued_at, expires_at = excluded.expires_at, refresh_at = excluded.refresh_at, \
                         lease_owner = NULL, lease_expires_at = NULL, failure_count = 0, next_attempt_at = NULL, last_error = NULL, \
                         last_error_code = NULL, last_refreshed_at = excluded.last_refreshed_at, version = credentials.version + 1, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(new.component.0)
                    .bind(id)
                    .bind(tenant_after)
                    .bind(new.appid)
                    .bind(sealed)
                    .bind(print)
                    .bind(*issued_at)
                    .bind(*expires_at)
                    .bind(*refresh_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                // No usable access token came with it (recovered from the refresh token alone, or
                // WeChat's answer was stored too long ago): the engine fetches one at once.
                None if refresh.is_some() => {
                    sqlx::query(
                        "INSERT INTO credentials (component_id, authorizer_id, tenant_id, kind, subject, refresh_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'authorizer_access_token', $4, $5, $5, $5) \
                         ON CONFLICT (component_id, kind, subject) DO UPDATE SET authorizer_id = excluded.authorizer_id, \
                         tenant_id = excluded.tenant_id, refresh_at = excluded.refresh_at, lease_owner = NULL, lease_expires_at = NULL, \
                         failure_count = 0, next_attempt_at = NULL, version = credentials.version + 1, updated_at = excluded.updated_at",
                    )
                    .bind(new.component.0)
                    .bind(id)
                    .bind(tenant_after)
                    .bind(new.appid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {}
            }
            super::notify_credentials!(self, tx);
            if let Some((sealed, print)) = &refresh {
                upsert_refresh_token!(
                    tx,
                    new.component,
                    Some(AuthorizerId(id)),
                    tenant_after.map(TenantId),
                    new.appid,
                    sealed,
                    print,
                    now
                )?;
            }
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            self.fail_points
                .check(super::failpoints::FailPoint::RecordAuthorization)?;
            tx.commit().await?;
            Ok(RecordedAuthorization {
                id: AuthorizerId(id),
                change,
                added,
                removed,
                moved_from,
            })
        })
    }

    /// Marks the account of `claim` (an authorizer access token) as needing re-authorization:
    /// WeChat refused its refresh token and no other could be found. Fenced (see the module docs):
    /// nothing changes unless `claim` still holds its lease and the stored refresh token is still
    /// the one that was refused (`refused_print`, `None` when there was none). The access token
    /// stays served until it expires, but is no longer refreshed.
    #[allow(clippy::too_many_arguments)]
    pub async fn lose_authorization(
        &self,
        claim: &ClaimedCredential,
        refused_print: Option<&str>,
        error: &str,
        errcode: Option<i64>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<LossOutcome, StoreError> {
        let lease = format!(
            "SELECT id FROM credentials WHERE id = $1 AND lease_owner = $2 AND lease_token = $3{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let held: Option<i64> = sqlx::query_scalar(&lease)
                .bind(claim.id.0)
                .bind(&claim.lease_owner)
                .bind(claim.lease_token)
                .fetch_optional(&mut *tx)
                .await?;
            if held.is_none() {
                tx.rollback().await?;
                return Ok(LossOutcome::LeaseLost);
            }
            let stored: Option<Option<String>> = sqlx::query_scalar(
                "SELECT value_fingerprint FROM credentials WHERE component_id = $1 AND kind = 'authorizer_refresh_token' AND subject = $2",
            )
            .bind(claim.component_id.0)
            .bind(&claim.subject)
            .fetch_optional(&mut *tx)
            .await?;
            if stored.flatten().as_deref() != refused_print {
                sqlx::query(
                    "UPDATE credentials SET lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL WHERE id = $1",
                )
                .bind(claim.id.0)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(LossOutcome::RefreshTokenChanged);
            }
            sqlx::query(
                "UPDATE credentials SET lease_owner = NULL, lease_expires_at = NULL, failure_count = failure_count + 1, \
                 next_attempt_at = NULL, last_error = $1, last_error_code = $2, last_error_at = $3 WHERE id = $4",
            )
            .bind(error)
            .bind(errcode)
            .bind(now)
            .bind(claim.id.0)
            .execute(&mut *tx)
            .await?;
            let row: Option<(i64, Option<i64>)> = sqlx::query_as(
                "UPDATE authorizers SET status = 'needs_reauth', revoked_at = $1, updated_at = $1 \
                 WHERE component_id = $2 AND appid = $3 AND status = 'authorized' RETURNING id, tenant_id",
            )
            .bind(now)
            .bind(claim.component_id.0)
            .bind(&claim.subject)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, tenant)) = row else {
                tx.commit().await?;
                return Ok(LossOutcome::NotAuthorized);
            };
            sqlx::query(
                "INSERT INTO authorizer_history (tenant_id, authorizer_id, change, source, occurred_at) VALUES ($1, $2, 'needs_reauth', 'engine', $3)",
            )
            .bind(tenant)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // The current access token works until it expires, so it is still served, just never
            // refreshed; so is a JS-SDK ticket.
            sqlx::query(
                "UPDATE credentials SET refresh_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                 WHERE component_id = $2 AND subject = $3 AND kind IN ('authorizer_access_token', 'jsapi_ticket')",
            )
            .bind(now)
            .bind(claim.component_id.0)
            .bind(&claim.subject)
            .execute(&mut *tx)
            .await?;
            super::notify_credentials!(self, tx);
            let audit = audit.clone().tenant(tenant.map(TenantId));
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(LossOutcome::Marked(tenant.map(TenantId)))
        })
    }

    pub async fn update_authorizer_profile(
        &self,
        component: ComponentId,
        appid: &str,
        p: &AuthorizerProfileUpdate<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE authorizers SET account_kind = $1, nick_name = $2, head_img = $3, user_name = $4, principal_name = $5, \
                 alias = $6, qrcode_url = $7, service_type = $8, verify_type = $9, account_status = $10, info_json = $11, \
                 info_fetched_at = $12, updated_at = $12 WHERE component_id = $13 AND appid = $14",
            )
            .bind(p.account_kind)
            .bind(p.nick_name)
            .bind(p.head_img)
            .bind(p.user_name)
            .bind(p.principal_name)
            .bind(p.alias)
            .bind(p.qrcode_url)
            .bind(p.service_type)
            .bind(p.verify_type)
            .bind(p.account_status)
            .bind(p.info_json)
            .bind(now)
            .bind(component.0)
            .bind(appid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn update_authorizer_menu(
        &self,
        component: ComponentId,
        appid: &str,
        menu_json: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE authorizers SET menu_json = $1, menu_fetched_at = $2, updated_at = $2 WHERE component_id = $3 AND appid = $4",
            )
            .bind(menu_json)
            .bind(now)
            .bind(component.0)
            .bind(appid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// One of the tenant's accounts.
    pub async fn authorizer(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<Option<Authorizer>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM authorizers WHERE tenant_id = $1 AND appid = $2 ORDER BY updated_at DESC");
        let row: Option<AuthorizerRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(appid)
            .fetch_optional(pool)
            .await)?;
        row.map(Authorizer::try_from).transpose()
    }

    /// The protocol path's lookup (callbacks, engine): by component, no tenant yet.
    pub async fn authorizer_of_component(
        &self,
        component: ComponentId,
        appid: &str,
    ) -> Result<Option<Authorizer>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM authorizers WHERE component_id = $1 AND appid = $2");
        let row: Option<AuthorizerRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(component.0)
            .bind(appid)
            .fetch_optional(pool)
            .await)?;
        row.map(Authorizer::try_from).transpose()
    }

    pub async fn list_authorizers(&self, tenant: TenantId) -> Result<Vec<Authorizer>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM authorizers WHERE tenant_id = $1 ORDER BY authorized_at DESC, id DESC");
        let rows: Vec<AuthorizerRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Authorizer::try_from).collect()
    }

    /// The history of an account while `tenant` held it (an account that moved between tenants
    /// shows each only its own part).
    pub async fn authorizer_history(
        &self,
        tenant: TenantId,
        authorizer: AuthorizerId,
    ) -> Result<Vec<AuthorizerChange>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT change, source, permissions, added, removed, occurred_at FROM authorizer_history \
                 WHERE tenant_id = $1 AND authorizer_id = $2 ORDER BY occurred_at, id",
            )
            .bind(tenant.0)
            .bind(authorizer.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(history_rows(rows))
    }

    /// The whole history of an account, whoever held it: for platform staff.
    pub async fn authorizer_history_across_tenants(
        &self,
        authorizer: AuthorizerId,
    ) -> Result<Vec<AuthorizerChange>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT change, source, permissions, added, removed, occurred_at FROM authorizer_history \
                 WHERE authorizer_id = $1 ORDER BY occurred_at, id",
            )
            .bind(authorizer.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(history_rows(rows))
    }
}

fn history_rows(rows: Vec<(String, String, String, String, String, i64)>) -> Vec<AuthorizerChange> {
    let ids = |s: &str| serde_json::from_str::<Vec<i64>>(s).unwrap_or_default();
    rows.into_iter()
        .map(|(change, source, p, a, r, at)| AuthorizerChange {
            change,
            source,
            permissions: ids(&p),
            added: ids(&a),
            removed: ids(&r),
            occurred_at: at,
        })
        .collect()
}

impl Store {
    /// Creates an authorization link (the console and the tenant API call this).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_link(
        &self,
        tenant: TenantId,
        component: ComponentId,
        public_id: &str,
        auth_type: u8,
        biz_appid: Option<&str>,
        note: &str,
        expires_at: Option<i64>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<AuthorizationLink, StoreError> {
        let id: i64 = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO authorization_links (public_id, tenant_id, component_id, auth_type, biz_appid, note, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(public_id)
            .bind(tenant.0)
            .bind(component.0)
            .bind(i64::from(auth_type))
            .bind(biz_appid)
            .bind(note)
            .bind(now)
            .bind(expires_at)
            .fetch_one(&mut *tx)
            .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(id)
        })?;
        Ok(AuthorizationLink {
            id: LinkId(id),
            public_id: public_id.to_owned(),
            tenant_id: tenant,
            component_id: component,
            auth_type,
            biz_appid: biz_appid.map(str::to_owned),
            note: note.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
        })
    }

    /// Remembers a pre_auth_code minted for a link, so the `authorized` push that names it can be
    /// attributed to the link's tenant.
    pub async fn record_pre_auth_code(
        &self,
        link: &AuthorizationLink,
        code: &SecretString,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let hash = fingerprint(code.expose_secret());
        let sealed = self
            .keyring()?
            .seal_str(&format!("pre_auth_code:{}", link.id.0), code);
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO pre_auth_codes (link_id, tenant_id, component_id, code_hash, code_sealed, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(link.id.0)
            .bind(link.tenant_id.0)
            .bind(link.component_id.0)
            .bind(&hash)
            .bind(&sealed)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The link and tenant a pre_auth_code was minted for, by the code's fingerprint.
    pub async fn link_of_pre_auth_code(
        &self,
        component: ComponentId,
        code_fingerprint: &str,
    ) -> Result<Option<(LinkId, TenantId)>, StoreError> {
        let row: Option<(i64, i64)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT link_id, tenant_id FROM pre_auth_codes WHERE component_id = $1 AND code_hash = $2",
            )
            .bind(component.0)
            .bind(code_fingerprint)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(l, t)| (LinkId(l), TenantId(t))))
    }
}
