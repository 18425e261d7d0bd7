//! API keys of the tenant API. Only the SHA-256 of a key is stored; the key itself is shown once.

use super::{bind_audit, read, write, Store, StoreError};
use app::model::ApiScope;

use crate::domain::{ApiKey, ApiKeyId, NewAuditEvent, TenantId, UserId};

const COLUMNS: &str = "id, tenant_id, name, prefix, scopes, created_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    tenant_id: i64,
    name: String,
    prefix: String,
    scopes: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: ApiKeyId(r.id),
            tenant_id: TenantId(r.tenant_id),
            name: r.name,
            prefix: r.prefix,
            scopes: ApiScope::parse_list(&r.scopes),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

pub struct NewApiKey<'a> {
    pub tenant_id: TenantId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a [ApiScope],
    pub created_by: Option<UserId>,
}

impl Store {
    pub async fn create_api_key(
        &self,
        new: &NewApiKey<'_>,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes, created_by_user_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row: ApiKeyRow = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: ApiKeyRow = sqlx::query_as(&sql)
                .bind(new.tenant_id.0)
                .bind(new.name)
                .bind(new.prefix)
                .bind(new.key_hash)
                .bind(ApiScope::join(new.scopes))
                .bind(new.created_by.map(|u| u.0))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let mut audit = audit.clone().tenant(Some(new.tenant_id));
            audit.detail = serde_json::json!({ "api_key_id": row.id, "name": row.name, "prefix": row.prefix, "scopes": row.scopes });
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        Ok(row.into())
    }

    pub async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows: Vec<ApiKeyRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    /// The key with this hash, revoked or not: the authentication path, which learns the tenant here.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1");
        let row: Option<ApiKeyRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(key_hash)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(ApiKey::from))
    }

    /// Revokes a key of `tenant`. False when the tenant has no such live key.
    pub async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.0)
                .bind(tenant.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            bind_audit!(
                sqlx::query(super::audit::INSERT),
                &audit.clone().tenant(Some(tenant))
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Replaces the scopes of a live key of `tenant`, audited in the same transaction. False when
    /// the tenant has no such live key.
    pub async fn set_api_key_scopes(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        scopes: &[ApiScope],
        audit: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let stored = ApiScope::join(scopes);
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE api_keys SET scopes = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL",
            )
            .bind(&stored)
            .bind(id.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            bind_audit!(
                sqlx::query(super::audit::INSERT),
                &audit.clone().tenant(Some(tenant))
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Records when keys were last used (batched by the API layer; a key's time only moves
    /// forward, so two instances flushing in either order agree).
    pub async fn touch_api_keys(&self, used: &[(ApiKeyId, i64)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (id, at) in used {
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
                )
                .bind(*at)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }
}
