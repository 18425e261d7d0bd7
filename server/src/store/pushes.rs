//! Accepted WeChat pushes and the durable job queue they feed.
//!
//! A push is accepted in one transaction: its de-duplication row (WeChat retries the same push),
//! and its immediate effect (a ticket stored, an exchange job queued, an authorization ended). So
//! an acknowledged push is never lost, and a retried one is never processed twice. A revocation
//! only applies to an account whose newest applied event is older than it (see
//! `store::authorizers`). A push for a code whose exchange the redirect already queued adds what
//! only the push knows (the account's appid, the pre_auth_code, WeChat's time) to that job.
//!
//! An exchange job keeps WeChat's answer on its row (`result_sealed`) as soon as it arrives, and
//! the moment it first sent the code (`wechat_called_at`), so that no retry spends the code twice
//! and no crash loses the refresh token in the answer.
//!
//! Jobs are claimed with a lease like credentials are; a job whose worker died is taken over when
//! its lease expires, and a job that keeps failing ends `dead` with its last error.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::credentials::store_ticket_tx;
use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{ComponentId, CredentialKind, JobId, NewAuditEvent, TenantId};
use crate::secrets::fingerprint;

/// What a push does besides being recorded.
pub enum PushEffect<'a> {
    Ticket {
        ticket: &'a SecretString,
        issued_at: i64,
        lifetime_ms: i64,
        /// Make the component token due unless it works (the caller knows from its cache).
        wake_component_token: bool,
    },
    /// `authorized` / `updateauthorized`: queue the code's exchange.
    Exchange(NewJob<'a>),
    /// `unauthorized`.
    Revoke { authorizer_appid: &'a str },
    /// Kept for the record only.
    None,
}

pub struct IncomingPush<'a> {
    pub component: ComponentId,
    pub tenant: Option<TenantId>,
    pub info_type: &'a str,
    pub authorizer_appid: Option<&'a str>,
    /// Already hashed: the raw key may hold a ticket or a code.
    pub dedupe_key: &'a str,
    pub create_time: i64,
    /// `create_time` in ms, already checked to be within the accepted window.
    pub event_at: i64,
    pub payload: &'a SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Accepted,
    Duplicate,
}

/// A job to queue. `secret` is sealed with the job's de-duplication key as its purpose.
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub tenant: Option<TenantId>,
    pub component: Option<ComponentId>,
    pub payload: Value,
    pub secret: Option<&'a SecretString>,
    pub dedupe_key: &'a str,
    pub run_at: i64,
    pub max_attempts: i64,
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub tenant_id: Option<TenantId>,
    pub component_id: Option<ComponentId>,
    pub payload: Value,
    pub secret_sealed: Option<String>,
    pub dedupe_key: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: String,
    pub created_at: i64,
    /// WeChat's stored answer (sealed), from an earlier attempt.
    pub result_sealed: Option<String>,
    /// When an earlier attempt first sent this job's code to WeChat.
    pub wechat_called_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    tenant_id: Option<i64>,
    component_id: Option<i64>,
    payload: String,
    secret_sealed: Option<String>,
    dedupe_key: Option<String>,
    attempts: i64,
    max_attempts: i64,
    created_at: i64,
    result_sealed: Option<String>,
    wechat_called_at: Option<i64>,
}

/// A job's state, for the redirect page and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The account the job is about, where its payload names it.
    pub authorizer_appid: Option<String>,
}

fn job_purpose(dedupe_key: &str) -> String {
    format!("job:{dedupe_key}")
}

fn job_result_purpose(dedupe_key: &str) -> String {
    format!("job-result:{dedupe_key}")
}

/// The existing job's payload with every field of `incoming` it lacks added.
fn merge_payload(existing: &str, incoming: &Value) -> Option<String> {
    let mut merged: Value = serde_json::from_str(existing).ok()?;
    let (Some(into), Some(from)) = (merged.as_object_mut(), incoming.as_object()) else {
        return None;
    };
    let mut changed = false;
    for (k, v) in from {
        if !v.is_null() && into.get(k).is_none_or(Value::is_null) {
            into.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed.then(|| merged.to_string())
}

macro_rules! insert_job {
    ($tx:expr, $job:expr, $sealed:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO jobs (kind, tenant_id, component_id, payload, secret_sealed, dedupe_key, status, max_attempts, run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $9) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind($job.kind)
        .bind($job.tenant.map(|t: TenantId| t.0))
        .bind($job.component.map(|c: ComponentId| c.0))
        .bind($job.payload.to_string())
        .bind($sealed)
        .bind($job.dedupe_key)
        .bind($job.max_attempts)
        .bind($job.run_at)
        .bind($now)
        .execute(&mut *$tx)
        .await
    };
}
pub(super) use insert_job;

impl Store {
    /// Records a push and applies its effect, or reports it as a duplicate (see the module docs).
    pub async fn accept_push(
        &self,
        push: &IncomingPush<'_>,
        effect: &PushEffect<'_>,
        audit: Option<&NewAuditEvent>,
        now: i64,
    ) -> Result<PushOutcome, StoreError> {
        let keyring = self.keyring()?;
        let payload_sealed = keyring.seal_str(
            &format!("push:{}:{}", push.component.0, push.dedupe_key),
            push.payload,
        );
        let ticket = match effect {
            PushEffect::Ticket {
                ticket,
                issued_at,
                lifetime_ms,
                ..
            } => Some((
                keyring.seal_str(
                    &super::credentials::purpose(
                        push.component,
                        CredentialKind::ComponentVerifyTicket,
                        "",
                    ),
                    ticket,
                ),
                fingerprint(ticket.expose_secret()),
                *issued_at,
                issued_at + lifetime_ms,
            )),
            _ => None,
        };
        let job_secret = match effect {
            PushEffect::Exchange(job) => job
                .secret
                .map(|s| keyring.seal_str(&job_purpose(job.dedupe_key), s)),
            _ => None,
        };
        let existing_job = format!(
            "SELECT payload FROM jobs WHERE dedupe_key = $1 AND status <> 'done'{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO received_pushes (component_id, tenant_id, endpoint, authorizer_appid, info_type, dedupe_key, create_time, payload_sealed, received_at, processed_at) \
                 VALUES ($1, $2, 'notify', $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (component_id, dedupe_key) DO NOTHING",
            )
            .bind(push.component.0)
            .bind(push.tenant.map(|t| t.0))
            .bind(push.authorizer_appid)
            .bind(push.info_type)
            .bind(push.dedupe_key)
            .bind(push.create_time)
            .bind(&payload_sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                return Ok(PushOutcome::Duplicate);
            }
            match effect {
                PushEffect::Ticket {
                    wake_component_token,
                    ..
                } => {
                    if let Some((sealed, print, issued_at, expires_at)) = &ticket {
                        store_ticket_tx!(
                            tx,
                            push.component,
                            sealed,
                            print,
                            *issued_at,
                            *expires_at,
                            now,
                            *wake_component_token
                        )?;
                    }
                }
                PushEffect::Exchange(job) => {
                    let queued = insert_job!(tx, job, job_secret.as_deref(), now)?.rows_affected();
                    if queued == 0 {
                        let existing: Option<String> = sqlx::query_scalar(&existing_job)
                            .bind(job.dedupe_key)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some(merged) = existing.and_then(|p| merge_payload(&p, &job.payload))
                        {
                            sqlx::query(
                                "UPDATE jobs SET payload = $1, updated_at = $2, \
                                 run_at = CASE WHEN status = 'queued' AND run_at > $2 THEN $2 ELSE run_at END WHERE dedupe_key = $3",
                            )
                            .bind(merged)
                            .bind(now)
                            .bind(job.dedupe_key)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                PushEffect::Revoke { authorizer_appid } => {
                    let row: Option<(i64, i64)> = sqlx::query_as(
                        "UPDATE authorizers SET status = 'revoked', revoked_at = $1, updated_at = $1, last_event_at = $4 \
                         WHERE component_id = $2 AND appid = $3 AND status <> 'revoked' \
                         AND (last_event_at IS NULL OR last_event_at <= $4) RETURNING id, tenant_id",
                    )
                    .bind(now)
                    .bind(push.component.0)
                    .bind(*authorizer_appid)
                    .bind(push.event_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((id, tenant)) = row {
                        super::notify_credentials!(self, tx);
                        sqlx::query(
                            "INSERT INTO authorizer_history (tenant_id, authorizer_id, change, source, occurred_at) VALUES ($1, $2, 'revoked', 'push', $3)",
                        )
                        .bind(tenant)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE credentials SET value_sealed = NULL, value_fingerprint = NULL, expires_at = NULL, refresh_at = NULL, \
                             lease_owner = NULL, lease_expires_at = NULL, version = version + 1, updated_at = $1 \
                             WHERE component_id = $2 AND subject = $3 AND kind IN ('authorizer_access_token', 'jsapi_ticket')",
                        )
                        .bind(now)
                        .bind(push.component.0)
                        .bind(*authorizer_appid)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                PushEffect::None => {}
            }
            if let Some(audit) = audit {
                bind_audit!(sqlx::query(super::audit::INSERT), audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(PushOutcome::Accepted)
        })
    }

    /// Queues a job; false when one with the same de-duplication key exists already.
    pub async fn enqueue_job(&self, job: &NewJob<'_>, now: i64) -> Result<bool, StoreError> {
        let sealed = job
            .secret
            .map(|s| {
                self.keyring()
                    .map(|k| k.seal_str(&job_purpose(job.dedupe_key), s))
            })
            .transpose()?;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = insert_job!(tx, job, sealed.as_deref(), now)?.rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Claims due jobs (and jobs whose worker's lease expired).
    pub async fn claim_due_jobs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let sql = format!(
            // A materialized pick runs once (see `claim_due_credentials`).
            "WITH due AS MATERIALIZED (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_expires_at <= $3) \
               ORDER BY run_at LIMIT $4{}) \
             UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = jobs.attempts + 1, updated_at = $3 \
             FROM due WHERE jobs.id = due.id \
             RETURNING jobs.id, kind, tenant_id, component_id, payload, secret_sealed, dedupe_key, attempts, max_attempts, created_at, \
             result_sealed, wechat_called_at",
            self.dialect.claim_suffix
        );
        let rows: Vec<JobRow> = write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedJob {
                id: JobId(r.id),
                kind: r.kind,
                tenant_id: r.tenant_id.map(TenantId),
                component_id: r.component_id.map(ComponentId),
                payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
                secret_sealed: r.secret_sealed,
                dedupe_key: r.dedupe_key,
                attempts: r.attempts,
                max_attempts: r.max_attempts,
                lease_owner: owner.to_owned(),
                created_at: r.created_at,
                result_sealed: r.result_sealed,
                wechat_called_at: r.wechat_called_at,
            })
            .collect())
    }

    /// Notes that this attempt is about to send the job's code to WeChat (once per job: the first
    /// attempt's time stays). Not fenced: whoever holds the job, the code is spent from here on.
    pub async fn mark_job_called_wechat(
        &self,
        job: &ClaimedJob,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET wechat_called_at = $1 WHERE id = $2 AND wechat_called_at IS NULL",
            )
            .bind(now)
            .bind(job.id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Keeps WeChat's answer to the job (sealed) on its row, the first thing after it arrives. Not
    /// fenced by the lease: the answer is the truth whoever holds the job now.
    pub async fn save_job_result(
        &self,
        job: &ClaimedJob,
        result: &SecretString,
    ) -> Result<(), StoreError> {
        let key = job
            .dedupe_key
            .as_deref()
            .ok_or_else(|| StoreError::Corrupt("a job with a result has no key".into()))?;
        let sealed = self.keyring()?.seal_str(&job_result_purpose(key), result);
        write!(self, |pool| {
            sqlx::query("UPDATE jobs SET result_sealed = $1 WHERE id = $2")
                .bind(&sealed)
                .bind(job.id.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The answer an earlier attempt stored, if any.
    pub fn open_job_result(&self, job: &ClaimedJob) -> Result<Option<SecretString>, StoreError> {
        match (&job.result_sealed, &job.dedupe_key) {
            (Some(sealed), Some(key)) => Ok(Some(
                self.keyring()?.open_str(&job_result_purpose(key), sealed)?,
            )),
            _ => Ok(None),
        }
    }

    pub fn open_job_secret(&self, job: &ClaimedJob) -> Result<Option<SecretString>, StoreError> {
        match (&job.secret_sealed, &job.dedupe_key) {
            (Some(sealed), Some(key)) => {
                Ok(Some(self.keyring()?.open_str(&job_purpose(key), sealed)?))
            }
            _ => Ok(None),
        }
    }

    /// Ends a job: `done`, `dead` (with the error), or back to `queued` at `retry_at`.
    pub async fn finish_job(
        &self,
        job: &ClaimedJob,
        outcome: JobOutcome<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (status, error, run_at) = match outcome {
            JobOutcome::Done => ("done", None, None),
            JobOutcome::Dead(e) => ("dead", Some(e), None),
            JobOutcome::Retry(e, at) => ("queued", Some(e), Some(at)),
        };
        self.fail_points
            .check(super::failpoints::FailPoint::FinishJob)?;
        write!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET status = $1, last_error = COALESCE($2, last_error), run_at = COALESCE($3, run_at), \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $4, \
                 finished_at = CASE WHEN $1 IN ('done', 'dead') THEN $4 ELSE NULL END \
                 WHERE id = $5 AND lease_owner = $6 AND status = 'running'",
            )
            .bind(status)
            .bind(error)
            .bind(run_at)
            .bind(now)
            .bind(job.id.0)
            .bind(&job.lease_owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
        .map_err(Into::into)
    }

    pub async fn job_state(&self, dedupe_key: &str) -> Result<Option<JobState>, StoreError> {
        let row: Option<(String, i64, Option<String>, String)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT status, attempts, last_error, payload FROM jobs WHERE dedupe_key = $1",
            )
            .bind(dedupe_key)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(status, attempts, last_error, payload)| JobState {
            status,
            attempts,
            last_error,
            authorizer_appid: serde_json::from_str::<Value>(&payload)
                .ok()
                .and_then(|p| p.get("authorizer_appid")?.as_str().map(str::to_owned)),
        }))
    }

    /// The account named in the answer an exchange job kept, if it kept one.
    pub async fn job_result_appid(&self, dedupe_key: &str) -> Result<Option<String>, StoreError> {
        let sealed: Option<Option<String>> = read!(self, |pool| {
            sqlx::query_scalar("SELECT result_sealed FROM jobs WHERE dedupe_key = $1")
                .bind(dedupe_key)
                .fetch_optional(pool)
                .await
        })?;
        let Some(sealed) = sealed.flatten() else {
            return Ok(None);
        };
        let text = self
            .keyring()?
            .open_str(&job_result_purpose(dedupe_key), &sealed)?;
        Ok(serde_json::from_str::<Value>(text.expose_secret())
            .ok()
            .and_then(|v| v.get("authorizer_appid")?.as_str().map(str::to_owned)))
    }

    /// Jobs waiting or running (a metric).
    pub async fn queue_depth(&self) -> Result<i64, StoreError> {
        read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
                .fetch_one(pool)
                .await
        })
        .map_err(Into::into)
    }

    /// How many pushes a component has on record (tests, dashboard).
    pub async fn push_count(&self, component: ComponentId) -> Result<i64, StoreError> {
        read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM received_pushes WHERE component_id = $1")
                .bind(component.0)
                .fetch_one(pool)
                .await
        })
        .map_err(Into::into)
    }

    /// When the component last received a push WeChat signed correctly (the dashboard's push
    /// status).
    pub async fn last_push_at(&self, component: ComponentId) -> Result<Option<i64>, StoreError> {
        read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT MAX(received_at) FROM received_pushes WHERE component_id = $1",
            )
            .bind(component.0)
            .fetch_one(pool)
            .await
        })
        .map_err(Into::into)
    }
}

pub enum JobOutcome<'a> {
    Done,
    Dead(&'a str),
    Retry(&'a str, i64),
}
