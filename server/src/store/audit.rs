//! The audit log: append-only.

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{AuditEvent, ComponentId, NewAuditEvent, TenantId};

pub(crate) const INSERT: &str = "INSERT INTO audit_events (occurred_at, tenant_id, component_id, authorizer_appid, actor_kind, \
     actor_id, actor_label, kind, outcome, summary, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

const COLUMNS: &str =
    "id, occurred_at, tenant_id, component_id, authorizer_appid, actor_kind, actor_id, actor_label, kind, outcome, summary, detail, ip";

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    occurred_at: i64,
    tenant_id: Option<i64>,
    component_id: Option<i64>,
    authorizer_appid: Option<String>,
    actor_kind: String,
    actor_id: Option<i64>,
    actor_label: String,
    kind: String,
    outcome: String,
    summary: String,
    detail: String,
    ip: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            tenant_id: r.tenant_id.map(TenantId),
            component_id: r.component_id.map(ComponentId),
            authorizer_appid: r.authorizer_appid,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_label: r.actor_label,
            kind: r.kind,
            outcome: r.outcome,
            summary: r.summary,
            detail: r.detail,
            ip: r.ip,
        }
    }
}

impl Store {
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        write!(self, |pool| bind_audit!(sqlx::query(INSERT), event)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The newest events of one tenant.
    pub async fn tenant_audit(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE tenant_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2");
        let rows: Vec<AuditRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    /// The newest events of one tenant, optionally only about one account and only of kinds
    /// starting with a prefix (`token.`).
    pub async fn tenant_audit_filtered(
        &self,
        tenant: TenantId,
        authorizer_appid: Option<&str>,
        kind_prefix: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        // Separate texts rather than `$2 IS NULL OR …`, so each can use its index.
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE tenant_id = $1");
        if authorizer_appid.is_some() {
            sql.push_str(" AND authorizer_appid = $2");
        } else {
            sql.push_str(" AND $2 IS NULL");
        }
        if kind_prefix.is_some() {
            sql.push_str(" AND kind LIKE $3");
        } else {
            sql.push_str(" AND $3 IS NULL");
        }
        sql.push_str(" ORDER BY occurred_at DESC, id DESC LIMIT $4");
        let prefix = kind_prefix.map(|p| format!("{p}%"));
        let rows: Vec<AuditRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(authorizer_appid)
            .bind(prefix.as_deref())
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    /// The newest events across the platform. Platform-staff path.
    pub async fn platform_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1"
        );
        let rows: Vec<AuditRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }
}
