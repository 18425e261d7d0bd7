//! Platform staff's cross-tenant reads: every authorization, the audit log with filters, tenants
//! with their sizes, users of every tenant. These are the only queries without a tenant id; the
//! services that call them check for a platform role first.
//!
//! The audit log is paged by keyset (`id` below a cursor, newest first), not by offset: a link to
//! "the page after event 81234" shows the same events tomorrow, however many arrive meanwhile.

use super::accounts::{like_pattern, Bind};
use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{
    AuditEvent, Authorizer, ComponentId, NewAuditEvent, Tenant, TenantId, TenantStatus, User,
};

/// What the cross-tenant authorizations page filters by. `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationFilter {
    pub tenant: Option<TenantId>,
    /// Only the accounts no tenant holds yet (see `authorizers.tenant_id`).
    pub unassigned: bool,
    pub component: Option<ComponentId>,
    pub status: Option<String>,
    pub permission: Option<i64>,
    /// Authorized at or after (Unix ms).
    pub from: Option<i64>,
    /// Authorized before (Unix ms).
    pub to: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct PlatformAccountRow {
    pub authorizer: Authorizer,
    /// Empty while the account is unassigned.
    pub tenant_slug: String,
    pub tenant_name: String,
    pub component_appid: String,
}

/// What the audit log filters by. `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub tenant: Option<TenantId>,
    pub component: Option<ComponentId>,
    pub authorizer_appid: Option<String>,
    /// An exact kind (`token.refreshed`) or a family (`token.`).
    pub kind: Option<String>,
    /// Part of the actor's label (an email, a key name, `system`), ignoring case.
    pub actor: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub tenant: Tenant,
    pub users: i64,
    pub accounts: i64,
    pub api_keys: i64,
}

#[derive(sqlx::FromRow)]
struct PlatformJoinRow {
    #[sqlx(flatten)]
    authorizer: super::authorizers::AuthorizerRow,
    tenant_slug: Option<String>,
    tenant_name: Option<String>,
    component_appid: String,
}

fn bind_all<'q, DB: sqlx::Database, O>(
    mut q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

fn bind_all_scalar<'q, DB: sqlx::Database, O>(
    mut q: sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

impl AuditFilter {
    fn conditions(&self, like: &str) -> (Vec<String>, Vec<Bind>) {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        let mut push = |sql: &dyn Fn(usize) -> String, bind: Bind| {
            binds.push(bind);
            conditions.push(sql(binds.len()));
        };
        if let Some(t) = self.tenant {
            push(&|n| format!("tenant_id = ${n}"), Bind::Int(t.0));
        }
        if let Some(c) = self.component {
            push(&|n| format!("component_id = ${n}"), Bind::Int(c.0));
        }
        if let Some(a) = &self.authorizer_appid {
            push(
                &|n| format!("authorizer_appid = ${n}"),
                Bind::Text(a.clone()),
            );
        }
        match self.kind.as_deref() {
            Some(k) if k.ends_with('.') => {
                push(&|n| format!("kind LIKE ${n}"), Bind::Text(format!("{k}%")))
            }
            Some(k) => push(&|n| format!("kind = ${n}"), Bind::Text(k.to_owned())),
            None => {}
        }
        if let Some(actor) = &self.actor {
            push(
                &|n| {
                    format!("(actor_label {like} ${n} ESCAPE '\\' OR actor_kind {like} ${n} ESCAPE '\\')")
                },
                Bind::Text(like_pattern(actor)),
            );
        }
        if let Some(o) = &self.outcome {
            push(&|n| format!("outcome = ${n}"), Bind::Text(o.clone()));
        }
        if let Some(from) = self.from {
            push(&|n| format!("occurred_at >= ${n}"), Bind::Int(from));
        }
        if let Some(to) = self.to {
            push(&|n| format!("occurred_at < ${n}"), Bind::Int(to));
        }
        (conditions, binds)
    }
}

const AUDIT_COLUMNS: &str = "id, occurred_at, tenant_id, component_id, authorizer_appid, actor_kind, actor_id, actor_label, kind, outcome, summary, detail, ip";

impl Store {
    /// One page of authorizations across tenants, newest first, and how many match in all.
    pub async fn platform_authorizations(
        &self,
        filter: &AuthorizationFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<PlatformAccountRow>, i64), StoreError> {
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut binds = Vec::new();
        if let Some(t) = filter.tenant {
            binds.push(Bind::Int(t.0));
            conditions.push(format!("a.tenant_id = ${}", binds.len()));
        }
        if filter.unassigned {
            conditions.push("a.tenant_id IS NULL".into());
        }
        if let Some(c) = filter.component {
            binds.push(Bind::Int(c.0));
            conditions.push(format!("a.component_id = ${}", binds.len()));
        }
        if let Some(s) = &filter.status {
            binds.push(Bind::Text(s.clone()));
            conditions.push(format!("a.status = ${}", binds.len()));
        }
        if let Some(p) = filter.permission {
            binds.push(Bind::Int(p));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM authorizer_permissions p WHERE p.authorizer_id = a.id AND p.permission_id = ${})",
                binds.len()
            ));
        }
        if let Some(from) = filter.from {
            binds.push(Bind::Int(from));
            conditions.push(format!("a.authorized_at >= ${}", binds.len()));
        }
        if let Some(to) = filter.to {
            binds.push(Bind::Int(to));
            conditions.push(format!("a.authorized_at < ${}", binds.len()));
        }
        let where_sql = conditions.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) FROM authorizers a WHERE {where_sql}");
        let page_sql = format!(
            "SELECT a.id, a.tenant_id, a.component_id, a.appid, a.account_kind, a.nick_name, a.head_img, a.user_name, \
             a.principal_name, a.alias, a.qrcode_url, a.service_type, a.verify_type, a.account_status, a.func_info, \
             NULL AS menu_json, a.menu_fetched_at, a.info_fetched_at, a.status, a.link_id, a.authorized_at, a.revoked_at, \
             a.updated_at, t.slug AS tenant_slug, t.name AS tenant_name, c.appid AS component_appid \
             FROM authorizers a LEFT JOIN tenants t ON t.id = a.tenant_id JOIN components c ON c.id = a.component_id \
             WHERE {where_sql} ORDER BY a.authorized_at DESC, a.id DESC LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let total: i64 = read!(self, |pool| bind_all_scalar(
            sqlx::query_scalar(&count_sql),
            &binds
        )
        .fetch_one(pool)
        .await)?;
        let rows: Vec<PlatformJoinRow> =
            read!(self, |pool| bind_all(sqlx::query_as(&page_sql), &binds)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await)?;
        let rows = rows
            .into_iter()
            .map(|r| {
                Ok(PlatformAccountRow {
                    authorizer: Authorizer::try_from(r.authorizer)?,
                    tenant_slug: r.tenant_slug.unwrap_or_default(),
                    tenant_name: r.tenant_name.unwrap_or_default(),
                    component_appid: r.component_appid,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((rows, total))
    }

    /// Audit events matching `filter` with an id below `before` (all when `None`), newest first.
    pub async fn search_audit(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (mut conditions, mut binds) = filter.conditions(self.dialect().like_nocase);
        if let Some(before) = before {
            binds.push(Bind::Int(before));
            conditions.push(format!("id < ${}", binds.len()));
        }
        if conditions.is_empty() {
            conditions.push("1 = 1".into());
        }
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE {} ORDER BY id DESC LIMIT ${}",
            conditions.join(" AND "),
            binds.len() + 1
        );
        let rows: Vec<super::audit::AuditRow> =
            read!(self, |pool| bind_all(sqlx::query_as(&sql), &binds)
                .bind(limit)
                .fetch_all(pool)
                .await)?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    /// An account's whole history on one component (it may have moved between tenants through
    /// re-authorization, so this is by component, not tenant), oldest first.
    pub async fn account_timeline(
        &self,
        component: ComponentId,
        appid: &str,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE component_id = $1 AND authorizer_appid = $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<super::audit::AuditRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(component.0)
            .bind(appid)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    /// Every tenant with its number of users, accounts and live API keys.
    pub async fn tenant_summaries(&self) -> Result<Vec<TenantSummary>, StoreError> {
        let tenants = self.list_tenants().await?;
        let counts: Vec<(i64, i64, i64, i64)> = read!(self, |pool| sqlx::query_as(
            "SELECT t.id, \
             (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id), \
             (SELECT COUNT(*) FROM authorizers a WHERE a.tenant_id = t.id), \
             (SELECT COUNT(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL) \
             FROM tenants t"
        )
        .fetch_all(pool)
        .await)?;
        Ok(tenants
            .into_iter()
            .map(|tenant| {
                let (_, users, accounts, api_keys) = counts
                    .iter()
                    .copied()
                    .find(|c| c.0 == tenant.id.0)
                    .unwrap_or_default();
                TenantSummary {
                    tenant,
                    users,
                    accounts,
                    api_keys,
                }
            })
            .collect())
    }

    /// Suspends or reactivates a tenant. False when it was already in that state.
    pub async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
            )
            .bind(status.as_str())
            .bind(now)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Users of every tenant and the platform's own staff.
    pub async fn list_all_users(&self) -> Result<Vec<User>, StoreError> {
        self.list_users_where(None).await
    }
}
