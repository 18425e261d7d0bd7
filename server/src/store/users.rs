//! Users and their roles. Email is stored lower-cased; uniqueness is global (one login per address).

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{NewAuditEvent, NewUser, Role, TenantId, User, UserId, UserStatus};

const COLUMNS: &str = "id, email, display_name, role, tenant_id, status, created_at, last_login_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    tenant_id: Option<i64>,
    status: String,
    created_at: i64,
    last_login_at: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId(r.id),
            role: Role::parse(&r.role).ok_or_else(|| {
                StoreError::Corrupt(format!("user {} has role {:?}", r.id, r.role))
            })?,
            status: UserStatus::parse(&r.status).ok_or_else(|| {
                StoreError::Corrupt(format!("user {} has status {:?}", r.id, r.status))
            })?,
            email: r.email,
            display_name: r.display_name,
            tenant_id: r.tenant_id.map(TenantId),
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl Store {
    /// Creates a user and records `audit` in the same transaction.
    pub async fn create_user(
        &self,
        new: &NewUser,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<User, StoreError> {
        let sql = format!(
            "INSERT INTO users (email, display_name, password_hash, role, tenant_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) RETURNING {COLUMNS}"
        );
        let row: UserRow = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: UserRow = sqlx::query_as(&sql)
                .bind(&new.email)
                .bind(&new.display_name)
                .bind(&new.password_hash)
                .bind(new.role.as_str())
                .bind(new.tenant_id.map(|t| t.0))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let mut audit = audit.clone().tenant(new.tenant_id);
            audit.detail =
                serde_json::json!({ "user_id": row.id, "email": row.email, "role": row.role });
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        row.try_into()
    }

    /// The user with this (lower-cased) email and their password hash, for sign-in only.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = $1");
        let row: Option<LoginRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(pool)
            .await)?;
        match row {
            Some(r) => Ok(Some((r.user.try_into()?, r.password_hash))),
            None => Ok(None),
        }
    }

    /// A user by id: the session path (the session is the authority for the id).
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(pool)
            .await)?;
        row.map(User::try_from).transpose()
    }

    /// The users of one tenant.
    pub async fn list_tenant_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        self.list_users_where(Some(tenant)).await
    }

    /// The users of one tenant, or (`None`) everyone: the platform-staff path.
    pub(super) async fn list_users_where(
        &self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<User>, StoreError> {
        let sql = match tenant {
            Some(_) => format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY email"),
            None => format!("SELECT {COLUMNS} FROM users WHERE $1 IS NULL ORDER BY email"),
        };
        let rows: Vec<UserRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.map(|t| t.0))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(User::try_from).collect()
    }

    pub async fn record_login(&self, id: UserId, now: i64) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Enables or disables a user of `tenant`; disabling also ends their sessions. Returns false
    /// when no such user belongs to the tenant.
    pub async fn set_tenant_user_status(
        &self,
        tenant: TenantId,
        id: UserId,
        status: UserStatus,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.set_user_status_where(Some(tenant), id, status, audit, now)
            .await
    }

    /// Enables or disables any user (platform admins). False when there is no such user.
    pub async fn set_any_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.set_user_status_where(None, id, status, audit, now)
            .await
    }

    async fn set_user_status_where(
        &self,
        tenant: Option<TenantId>,
        id: UserId,
        status: UserStatus,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = match tenant {
            Some(_) => {
                "UPDATE users SET status = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4"
            }
            None => "UPDATE users SET status = $1, updated_at = $2 WHERE id = $3 AND $4 IS NULL",
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql)
                .bind(status.as_str())
                .bind(now)
                .bind(id.0)
                .bind(tenant.map(|t| t.0))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            if status == UserStatus::Disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            bind_audit!(
                sqlx::query(super::audit::INSERT),
                &audit.clone().tenant(tenant.or(audit.tenant_id))
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }
    /// Changes the role of a user of `tenant` to another tenant role. False when no such user
    /// belongs to the tenant.
    pub async fn set_tenant_user_role(
        &self,
        tenant: TenantId,
        id: UserId,
        role: Role,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        if role.is_platform() {
            return Ok(false);
        }
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4",
            )
            .bind(role.as_str())
            .bind(now)
            .bind(id.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
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
}
