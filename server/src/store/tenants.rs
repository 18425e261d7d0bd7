//! Tenants: customer organisations.

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{NewAuditEvent, Tenant, TenantId, TenantStatus};

const COLUMNS: &str = "id, slug, name, status, created_at";

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: i64,
    slug: String,
    name: String,
    status: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: TenantId(r.id),
            status: TenantStatus::parse(&r.status).ok_or_else(|| {
                StoreError::Corrupt(format!("tenant {} has status {:?}", r.id, r.status))
            })?,
            slug: r.slug,
            name: r.name,
            created_at: r.created_at,
        })
    }
}

impl Store {
    /// Creates a tenant and records `audit` (with the new tenant's id) in the same transaction.
    pub async fn create_tenant(
        &self,
        slug: &str,
        name: &str,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<Tenant, StoreError> {
        let sql = format!("INSERT INTO tenants (slug, name, status, created_at, updated_at) VALUES ($1, $2, 'active', $3, $3) RETURNING {COLUMNS}");
        let row: TenantRow = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: TenantRow = sqlx::query_as(&sql)
                .bind(slug)
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let audit = audit.clone().tenant(Some(TenantId(row.id)));
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        row.try_into()
    }

    pub async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
        let row: Option<TenantRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(pool)
            .await)?;
        row.map(Tenant::try_from).transpose()
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1");
        let row: Option<TenantRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(slug)
            .fetch_optional(pool)
            .await)?;
        row.map(Tenant::try_from).transpose()
    }

    /// Every tenant. Platform-staff path.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY slug");
        let rows: Vec<TenantRow> = read!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(Tenant::try_from).collect()
    }
}
