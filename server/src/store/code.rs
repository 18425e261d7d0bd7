//! Mini-program code: the timeline of each mini program (`code_events`) and batches of commits and
//! submissions across a tenant's mini programs (`code_batches`, `code_batch_items`). Every read and
//! write takes the tenant id. A timeline row and its audit event are written in one transaction; a
//! row from a WeChat push carries the message's fingerprint, so a retried push is one row.

use serde_json::Value;

use super::{bind_audit, read, write, NewJob, Store, StoreError};
use crate::domain::{ComponentId, NewAuditEvent, TenantId};

const EVENT_COLUMNS: &str = "id, tenant_id, component_id, authorizer_appid, kind, template_id, \
     user_version, user_desc, auditid, detail_json, actor_label, created_at";

/// Timeline rows a mini program's page shows at most.
pub const CODE_TIMELINE_LIMIT: i64 = 200;

/// What happened to a mini program's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeEventKind {
    Committed,
    Submitted,
    AuditPassed,
    AuditFailed,
    AuditDelayed,
    AuditWithdrawn,
    Speedup,
    Released,
    Reverted,
    Domains,
}

impl CodeEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeEventKind::Committed => "committed",
            CodeEventKind::Submitted => "submitted",
            CodeEventKind::AuditPassed => "audit_passed",
            CodeEventKind::AuditFailed => "audit_failed",
            CodeEventKind::AuditDelayed => "audit_delayed",
            CodeEventKind::AuditWithdrawn => "audit_withdrawn",
            CodeEventKind::Speedup => "speedup",
            CodeEventKind::Released => "released",
            CodeEventKind::Reverted => "reverted",
            CodeEventKind::Domains => "domains",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "committed" => CodeEventKind::Committed,
            "submitted" => CodeEventKind::Submitted,
            "audit_passed" => CodeEventKind::AuditPassed,
            "audit_failed" => CodeEventKind::AuditFailed,
            "audit_delayed" => CodeEventKind::AuditDelayed,
            "audit_withdrawn" => CodeEventKind::AuditWithdrawn,
            "speedup" => CodeEventKind::Speedup,
            "released" => CodeEventKind::Released,
            "reverted" => CodeEventKind::Reverted,
            "domains" => CodeEventKind::Domains,
            other => return Err(StoreError::Corrupt(format!("code event kind {other:?}"))),
        })
    }
}

/// One row of a mini program's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeEvent {
    pub id: i64,
    pub tenant_id: TenantId,
    pub component_id: ComponentId,
    pub authorizer_appid: String,
    pub kind: CodeEventKind,
    pub template_id: Option<i64>,
    pub user_version: Option<String>,
    pub user_desc: Option<String>,
    pub auditid: Option<i64>,
    pub detail: Value,
    pub actor_label: String,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct CodeEventRow {
    id: i64,
    tenant_id: i64,
    component_id: i64,
    authorizer_appid: String,
    kind: String,
    template_id: Option<i64>,
    user_version: Option<String>,
    user_desc: Option<String>,
    auditid: Option<i64>,
    detail_json: String,
    actor_label: String,
    created_at: i64,
}

impl TryFrom<CodeEventRow> for CodeEvent {
    type Error = StoreError;
    fn try_from(r: CodeEventRow) -> Result<Self, StoreError> {
        Ok(CodeEvent {
            id: r.id,
            tenant_id: TenantId(r.tenant_id),
            component_id: ComponentId(r.component_id),
            authorizer_appid: r.authorizer_appid,
            kind: CodeEventKind::parse(&r.kind)?,
            template_id: r.template_id,
            user_version: r.user_version,
            user_desc: r.user_desc,
            auditid: r.auditid,
            detail: serde_json::from_str(&r.detail_json)
                .map_err(|e| StoreError::Corrupt(format!("code event detail: {e}")))?,
            actor_label: r.actor_label,
            created_at: r.created_at,
        })
    }
}

/// A timeline row to write.
#[derive(Debug, Clone)]
pub struct NewCodeEvent<'a> {
    pub tenant: TenantId,
    pub component: ComponentId,
    pub appid: &'a str,
    pub kind: CodeEventKind,
    pub template_id: Option<i64>,
    pub user_version: Option<&'a str>,
    pub user_desc: Option<&'a str>,
    pub auditid: Option<i64>,
    pub detail: Value,
    pub actor_label: &'a str,
    /// A WeChat push's fingerprint: the same push twice is one row.
    pub dedupe_key: Option<&'a str>,
}

/// A batch as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeBatch {
    pub id: i64,
    pub tenant_id: i64,
    pub component_id: i64,
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
    pub ext_json: String,
    pub submit: i64,
    pub started_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeBatchItem {
    pub batch_id: i64,
    pub authorizer_appid: String,
    pub status: String,
    pub auditid: Option<i64>,
    pub error: Option<String>,
    pub updated_at: i64,
}

/// A batch to start.
#[derive(Debug, Clone)]
pub struct NewCodeBatch<'a> {
    pub tenant: TenantId,
    pub component: ComponentId,
    pub template_id: i64,
    pub user_version: &'a str,
    pub user_desc: &'a str,
    pub ext_json: &'a str,
    pub submit: bool,
    pub started_by: &'a str,
    pub appids: &'a [String],
}

/// The job kind of one batch item.
pub const CODE_BATCH_ITEM: &str = "code_batch_item";

impl Store {
    /// Appends a timeline row (and its audit event) in one transaction. `false`: a row with the
    /// same dedupe key exists (a retried push); nothing was written.
    pub async fn record_code_event(
        &self,
        new: &NewCodeEvent<'_>,
        audit: Option<&NewAuditEvent>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let detail = new.detail.to_string();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO code_events (tenant_id, component_id, authorizer_appid, kind, template_id, user_version, \
                 user_desc, auditid, detail_json, actor_label, dedupe_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(new.tenant.0)
            .bind(new.component.0)
            .bind(new.appid)
            .bind(new.kind.as_str())
            .bind(new.template_id)
            .bind(new.user_version)
            .bind(new.user_desc)
            .bind(new.auditid)
            .bind(&detail)
            .bind(new.actor_label)
            .bind(new.dedupe_key)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                if let Some(audit) = audit {
                    bind_audit!(sqlx::query(super::audit::INSERT), audit)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(inserted == 1)
        })
    }

    /// A mini program's timeline in `tenant`, newest first.
    pub async fn code_events(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<Vec<CodeEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM code_events WHERE tenant_id = $1 AND authorizer_appid = $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<CodeEventRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(appid)
            .bind(CODE_TIMELINE_LIMIT)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(CodeEvent::try_from).collect()
    }

    /// Starts a batch: the batch, its items and one job per item, in one transaction.
    pub async fn create_code_batch(
        &self,
        new: &NewCodeBatch<'_>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<i64, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO code_batches (tenant_id, component_id, template_id, user_version, user_desc, ext_json, \
                 submit, started_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(new.tenant.0)
            .bind(new.component.0)
            .bind(new.template_id)
            .bind(new.user_version)
            .bind(new.user_desc)
            .bind(new.ext_json)
            .bind(i64::from(new.submit))
            .bind(new.started_by)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for (n, appid) in new.appids.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO code_batch_items (batch_id, authorizer_appid, status, updated_at) VALUES ($1, $2, 'pending', $3)",
                )
                .bind(id)
                .bind(appid)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let key = format!("{CODE_BATCH_ITEM}:{id}:{appid}");
                let job = NewJob {
                    kind: CODE_BATCH_ITEM,
                    tenant: Some(new.tenant),
                    component: Some(new.component),
                    payload: serde_json::json!({ "batch_id": id, "authorizer_appid": appid }),
                    secret: None,
                    dedupe_key: &key,
                    // In the order given, so the quota goes to the first ones.
                    run_at: now + n as i64,
                    max_attempts: 8,
                };
                super::pushes::insert_job!(tx, job, None::<String>, now)?;
            }
            let mut audit = audit.clone();
            if let Value::Object(detail) = &mut audit.detail {
                detail.insert("batch_id".into(), id.into());
            }
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })
    }

    pub async fn code_batch(
        &self,
        tenant: TenantId,
        id: i64,
    ) -> Result<Option<CodeBatch>, StoreError> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
            "SELECT id, tenant_id, component_id, template_id, user_version, user_desc, ext_json, submit, started_by, created_at \
             FROM code_batches WHERE tenant_id = $1 AND id = $2"
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(pool)
        .await
        })?)
    }

    /// The tenant's newest batches.
    pub async fn code_batches(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<Vec<CodeBatch>, StoreError> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
            "SELECT id, tenant_id, component_id, template_id, user_version, user_desc, ext_json, submit, started_by, created_at \
             FROM code_batches WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
        )
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(pool)
        .await
        })?)
    }

    pub async fn code_batch_items(
        &self,
        tenant: TenantId,
        batch_id: i64,
    ) -> Result<Vec<CodeBatchItem>, StoreError> {
        Ok(read!(self, |pool| sqlx::query_as(
            "SELECT i.batch_id, i.authorizer_appid, i.status, i.auditid, i.error, i.updated_at \
             FROM code_batch_items i JOIN code_batches b ON b.id = i.batch_id \
             WHERE b.tenant_id = $1 AND i.batch_id = $2 ORDER BY i.authorizer_appid"
        )
        .bind(tenant.0)
        .bind(batch_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Records an item's outcome.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_code_batch_item(
        &self,
        tenant: TenantId,
        batch_id: i64,
        appid: &str,
        status: &str,
        auditid: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        Ok(write!(self, |pool| sqlx::query(
            "UPDATE code_batch_items SET status = $1, auditid = $2, error = $3, updated_at = $4 \
             WHERE batch_id = $5 AND authorizer_appid = $6 \
             AND batch_id IN (SELECT id FROM code_batches WHERE tenant_id = $7)"
        )
        .bind(status)
        .bind(auditid)
        .bind(error)
        .bind(now)
        .bind(batch_id)
        .bind(appid)
        .bind(tenant.0)
        .execute(pool)
        .await
        .map(drop))?)
    }
}

/// A fast registration as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FastRegistration {
    pub id: i64,
    pub tenant_id: i64,
    pub component_id: i64,
    pub kind: String,
    pub name: String,
    pub legal_persona_wechat: String,
    pub legal_persona_name: String,
    pub taskid: Option<String>,
    pub authorize_url: Option<String>,
    pub status: String,
    pub wechat_status: Option<i64>,
    pub message: Option<String>,
    pub appid: Option<String>,
    pub started_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const FAST_COLUMNS: &str =
    "id, tenant_id, component_id, kind, name, legal_persona_wechat, legal_persona_name, taskid, \
     authorize_url, status, wechat_status, message, appid, started_by, created_at, updated_at";

/// A fast registration to record (WeChat took the request).
#[derive(Debug, Clone)]
pub struct NewFastRegistration<'a> {
    pub tenant: TenantId,
    pub component: ComponentId,
    pub kind: &'a str,
    pub name: &'a str,
    pub legal_persona_wechat: &'a str,
    pub legal_persona_name: &'a str,
    pub code: &'a str,
    pub code_type: Option<i64>,
    pub component_phone: &'a str,
    pub taskid: Option<&'a str>,
    pub authorize_url: Option<&'a str>,
    pub started_by: &'a str,
}

impl Store {
    pub async fn record_fast_registration(
        &self,
        new: &NewFastRegistration<'_>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<i64, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO fast_registrations (tenant_id, component_id, kind, name, legal_persona_wechat, legal_persona_name, \
                 code, code_type, component_phone, taskid, authorize_url, status, started_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'waiting', $12, $13, $13) RETURNING id",
            )
            .bind(new.tenant.0)
            .bind(new.component.0)
            .bind(new.kind)
            .bind(new.name)
            .bind(new.legal_persona_wechat)
            .bind(new.legal_persona_name)
            .bind(new.code)
            .bind(new.code_type)
            .bind(new.component_phone)
            .bind(new.taskid)
            .bind(new.authorize_url)
            .bind(new.started_by)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })
    }

    pub async fn fast_registrations(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<Vec<FastRegistration>, StoreError> {
        let sql = format!("SELECT {FAST_COLUMNS} FROM fast_registrations WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2");
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// One of the tenant's registrations (another tenant's is none).
    pub async fn fast_registration(
        &self,
        tenant: TenantId,
        id: i64,
    ) -> Result<Option<FastRegistration>, StoreError> {
        let sql = format!(
            "SELECT {FAST_COLUMNS} FROM fast_registrations WHERE tenant_id = $1 AND id = $2"
        );
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Waiting registrations nobody heard of for `quiet_ms` (their push may be lost), oldest
    /// first, across tenants: what the health loop asks WeChat about.
    pub async fn quiet_fast_registrations(
        &self,
        quiet_ms: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<FastRegistration>, StoreError> {
        let sql = format!(
            "SELECT {FAST_COLUMNS} FROM fast_registrations WHERE status = 'waiting' AND updated_at <= $1 \
             ORDER BY updated_at, id LIMIT $2"
        );
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(now - quiet_ms)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Records what a check found, if the registration is still waiting and nobody else recorded
    /// anything since it was read (`seen_updated_at`): a push settling it at the same moment, or
    /// another instance's check, wins. True when this write took.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_fast_registration_check(
        &self,
        id: i64,
        seen_updated_at: i64,
        status: &str,
        wechat_status: Option<i64>,
        message: Option<&str>,
        appid: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(write!(self, |pool| {
            sqlx::query(
                "UPDATE fast_registrations SET status = $1, wechat_status = $2, message = $3, appid = COALESCE($4, appid), \
                 updated_at = $5 WHERE id = $6 AND status = 'waiting' AND updated_at = $7",
            )
            .bind(status)
            .bind(wechat_status)
            .bind(message)
            .bind(appid)
            .bind(now)
            .bind(id)
            .bind(seen_updated_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })?)
    }

    /// The newest waiting registration a push is about: by the legal person's (or the person's)
    /// WeChat id and the name, under the component.
    pub async fn waiting_fast_registration(
        &self,
        component: ComponentId,
        name: &str,
        wechat: &str,
    ) -> Result<Option<FastRegistration>, StoreError> {
        let sql = format!(
            "SELECT {FAST_COLUMNS} FROM fast_registrations WHERE component_id = $1 AND legal_persona_wechat = $2 AND name = $3 \
             ORDER BY (status = 'waiting') DESC, id DESC LIMIT 1"
        );
        Ok(read!(self, |pool| sqlx::query_as(&sql)
            .bind(component.0)
            .bind(wechat)
            .bind(name)
            .fetch_optional(pool)
            .await)?)
    }

    /// Records what WeChat said of a registration (its push, or a search).
    pub async fn settle_fast_registration(
        &self,
        id: i64,
        status: &str,
        wechat_status: Option<i64>,
        message: Option<&str>,
        appid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        Ok(write!(self, |pool| {
            sqlx::query(
            "UPDATE fast_registrations SET status = $1, wechat_status = $2, message = $3, appid = COALESCE($4, appid), updated_at = $5 WHERE id = $6"
        )
        .bind(status)
        .bind(wechat_status)
        .bind(message)
        .bind(appid)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        })?)
    }
}
