//! Imports of a component's existing authorizations (`api_get_authorizer_list`), and assigning an
//! unassigned account to a tenant.
//!
//! An import is one row advanced page by page: each page's counts and the next offset are written
//! together, fenced on the offset the page started from, so a page that two workers both finished
//! (a lease that ran out mid-page) is counted once, and a restart resumes at the first page not
//! yet written.

use super::NewJob;
use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{AuthorizerId, ComponentId, NewAuditEvent, TenantId};

/// An import's state, as the console and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizerImport {
    pub id: i64,
    pub component_id: i64,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub started_by: String,
    /// WeChat's `total_count`, once the first page was read.
    pub total: Option<i64>,
    pub next_offset: i64,
    /// Accounts wxhub did not hold before.
    pub imported: i64,
    /// Accounts wxhub held as revoked or lost, authorized again from the list.
    pub updated: i64,
    /// Accounts wxhub held already (their refresh token is kept, never replaced by the list's).
    pub unchanged: i64,
    /// Accounts that could not be imported (no refresh token in the list, or WeChat refused).
    pub failed: i64,
    pub last_error: Option<String>,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// What one page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportPageCounts {
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
}

const IMPORT_COLUMNS: &str = "id, component_id, status, started_by, total, next_offset, imported, updated, unchanged, failed, \
     last_error, started_at, updated_at, finished_at";

/// Why an account could not be assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignRefusal {
    /// No such account on the component.
    Unknown,
    /// It belongs to a tenant already.
    AlreadyAssigned,
}

impl Store {
    /// Starts an import of `component`'s authorizations, or returns the one running already (an
    /// import is safe to repeat, never to run twice at once). `true` when this call started it.
    pub async fn start_authorizer_import(
        &self,
        component: ComponentId,
        started_by: &str,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<(AuthorizerImport, bool), StoreError> {
        let running = format!(
            "SELECT {IMPORT_COLUMNS} FROM authorizer_imports WHERE component_id = $1 AND status = 'running' ORDER BY id DESC LIMIT 1"
        );
        let insert = format!(
            "INSERT INTO authorizer_imports (component_id, status, started_by, started_at, updated_at) \
             VALUES ($1, 'running', $2, $3, $3) RETURNING {IMPORT_COLUMNS}"
        );
        let lock = format!(
            "SELECT id FROM components WHERE id = $1{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Two staff pressing "import" at once on PostgreSQL: the component row serialises them.
            let _: Option<i64> = sqlx::query_scalar(&lock)
                .bind(component.0)
                .fetch_optional(&mut *tx)
                .await?;
            let existing: Option<AuthorizerImport> = sqlx::query_as(&running)
                .bind(component.0)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(existing) = existing {
                tx.commit().await?;
                return Ok((existing, false));
            }
            let row: AuthorizerImport = sqlx::query_as(&insert)
                .bind(component.0)
                .bind(started_by)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((row, true))
        })
    }

    pub async fn authorizer_import(&self, id: i64) -> Result<Option<AuthorizerImport>, StoreError> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM authorizer_imports WHERE id = $1");
        read!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(Into::into)
    }

    /// The newest imports of a component, newest first.
    pub async fn authorizer_imports(
        &self,
        component: ComponentId,
        limit: i64,
    ) -> Result<Vec<AuthorizerImport>, StoreError> {
        let sql = format!(
            "SELECT {IMPORT_COLUMNS} FROM authorizer_imports WHERE component_id = $1 ORDER BY id DESC LIMIT $2"
        );
        read!(self, |pool| sqlx::query_as(&sql)
            .bind(component.0)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(Into::into)
    }

    /// Records a finished page: adds its counts and moves the offset on, unless the page was
    /// recorded already (the offset moved) or the import is over; and queues `next_page` (the job
    /// for the rest) in the same transaction, so a crash never leaves an import with its offset
    /// moved and no job to go on. `true` when this call recorded it.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_import_page(
        &self,
        id: i64,
        page_offset: i64,
        next_offset: i64,
        total: i64,
        counts: ImportPageCounts,
        next_page: Option<&NewJob<'_>>,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE authorizer_imports SET next_offset = $1, total = $2, imported = imported + $3, updated = updated + $4, \
                 unchanged = unchanged + $5, failed = failed + $6, updated_at = $7 \
                 WHERE id = $8 AND next_offset = $9 AND status = 'running'",
            )
            .bind(next_offset)
            .bind(total)
            .bind(counts.imported)
            .bind(counts.updated)
            .bind(counts.unchanged)
            .bind(counts.failed)
            .bind(now)
            .bind(id)
            .bind(page_offset)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 1 {
                if let Some(job) = next_page {
                    super::pushes::insert_job!(tx, job, None::<String>, now)?;
                }
            }
            tx.commit().await?;
            Ok(done == 1)
        })
    }

    /// Ends an import (`done` or `failed`, with why), with its audit event. `false` when it had
    /// ended already.
    pub async fn finish_authorizer_import(
        &self,
        id: i64,
        status: &str,
        error: Option<&str>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE authorizer_imports SET status = $1, last_error = $2, finished_at = $3, updated_at = $3 \
                 WHERE id = $4 AND status = 'running'",
            )
            .bind(status)
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 1 {
                bind_audit!(sqlx::query(super::audit::INSERT), audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(done == 1)
        })
    }

    /// Notes a page's failure on a running import (it will be retried) without ending it.
    pub async fn note_import_error(
        &self,
        id: i64,
        error: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE authorizer_imports SET last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'running'",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// How many accounts wait for staff to assign them.
    pub async fn count_unassigned_authorizers(&self) -> Result<i64, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM authorizers WHERE tenant_id IS NULL AND status = 'authorized'"
        )
        .fetch_one(pool)
        .await)
        .map_err(Into::into)
    }

    /// Gives an unassigned account to `tenant`, in one transaction: the account, its permission
    /// rows, its history and messages from before (nobody's until now), every credential of it, and
    /// the audit event. Only an unassigned account is assigned, so two staff assigning it at once
    /// cannot both win.
    pub async fn assign_authorizer(
        &self,
        component: ComponentId,
        appid: &str,
        tenant: TenantId,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<Result<AuthorizerId, AssignRefusal>, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE authorizers SET tenant_id = $1, updated_at = $2 WHERE component_id = $3 AND appid = $4 AND tenant_id IS NULL RETURNING id",
            )
            .bind(tenant.0)
            .bind(now)
            .bind(component.0)
            .bind(appid)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                let exists: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM authorizers WHERE component_id = $1 AND appid = $2",
                )
                .bind(component.0)
                .bind(appid)
                .fetch_optional(&mut *tx)
                .await?;
                tx.rollback().await?;
                return Ok(Err(if exists.is_some() {
                    AssignRefusal::AlreadyAssigned
                } else {
                    AssignRefusal::Unknown
                }));
            };
            for sql in [
                "UPDATE authorizer_permissions SET tenant_id = $1 WHERE authorizer_id = $2",
                "UPDATE authorizer_history SET tenant_id = $1 WHERE authorizer_id = $2 AND tenant_id IS NULL",
            ] {
                sqlx::query(sql)
                    .bind(tenant.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE credentials SET tenant_id = $1, version = version + 1, updated_at = $2 \
                 WHERE component_id = $3 AND subject = $4 AND kind IN ('authorizer_access_token', 'authorizer_refresh_token', 'jsapi_ticket')",
            )
            .bind(tenant.0)
            .bind(now)
            .bind(component.0)
            .bind(appid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE messages SET tenant_id = $1 WHERE component_id = $2 AND authorizer_appid = $3 AND tenant_id IS NULL",
            )
            .bind(tenant.0)
            .bind(component.0)
            .bind(appid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO authorizer_history (tenant_id, authorizer_id, change, source, occurred_at) VALUES ($1, $2, 'assigned', 'staff', $3)",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE alerts SET resolved_at = $1 WHERE resolved_at IS NULL AND authorizer_id = $2 AND kind = 'unassigned_authorization'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            super::notify_credentials!(self, tx);
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Ok(AuthorizerId(id)))
        })
    }
}
