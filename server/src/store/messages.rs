//! The accounts' messages and events, as WeChat posted them to the message URL: stored once per
//! message (WeChat's retries are recognised by `dedupe_key` in the insert itself), the decrypted
//! XML sealed like every payload, and kept for `message_retention_days`.
//!
//! Every read that a tenant can reach takes the tenant id.

use secrecy::{ExposeSecret, SecretString};

use super::webhooks::{insert_deliveries, NewDelivery};
use super::{read, write, PushOutcome, Store, StoreError};
use crate::domain::{ComponentId, TenantId};

/// A message to store.
#[derive(Debug)]
pub struct IncomingMessage<'a> {
    pub component: ComponentId,
    pub tenant: Option<TenantId>,
    pub authorizer_appid: &'a str,
    pub dedupe_key: &'a str,
    pub msg_type: &'a str,
    pub event: Option<&'a str>,
    pub from_user: &'a str,
    pub to_user: &'a str,
    pub create_time: i64,
    pub msg_id: Option<&'a str>,
    pub xml: &'a SecretString,
}

/// A message sealed for storing, with its deliveries (see [`Store::seal_message`]).
#[derive(Debug)]
pub struct SealedMessage {
    component: i64,
    tenant: Option<i64>,
    authorizer_appid: String,
    dedupe_key: String,
    msg_type: String,
    event: Option<String>,
    from_user: String,
    to_user: String,
    create_time: i64,
    msg_id: Option<String>,
    xml_sealed: String,
    deliveries: Vec<NewDelivery>,
    sealed_payloads: Vec<String>,
    received_at: i64,
}

/// A stored message, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub authorizer_appid: String,
    pub msg_type: String,
    pub event: Option<String>,
    pub from_user: String,
    pub create_time: i64,
    pub msg_id: Option<String>,
    pub received_at: i64,
    /// The decrypted XML.
    pub xml: String,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    component_id: i64,
    authorizer_appid: String,
    dedupe_key: String,
    msg_type: String,
    event: Option<String>,
    from_user: String,
    create_time: i64,
    msg_id: Option<String>,
    xml_sealed: String,
    received_at: i64,
}

fn message_purpose(component: i64, appid: &str, dedupe_key: &str) -> String {
    format!("message:{component}:{appid}:{dedupe_key}")
}

impl Store {
    /// Stores a message with its webhook deliveries, in one transaction (the outbox), or reports it
    /// as WeChat's retry of one already stored (and writes nothing). Yields the deliveries written
    /// as `(endpoint_id, delivery id)`.
    pub async fn accept_message(
        &self,
        m: &IncomingMessage<'_>,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<(PushOutcome, Vec<(i64, i64)>), StoreError> {
        let sealed = self.seal_message(m, deliveries, now)?;
        let mut accepted = self.accept_messages(std::slice::from_ref(&sealed)).await?;
        accepted
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no answer for a message".into()))
    }

    /// Seals a message and its deliveries' payloads for [`Store::accept_messages`] (outside the
    /// writer's turn: it is the CPU-heavy part).
    pub fn seal_message(
        &self,
        m: &IncomingMessage<'_>,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<SealedMessage, StoreError> {
        Ok(SealedMessage {
            component: m.component.0,
            tenant: m.tenant.map(|t| t.0),
            authorizer_appid: m.authorizer_appid.to_owned(),
            dedupe_key: m.dedupe_key.to_owned(),
            msg_type: m.msg_type.to_owned(),
            event: m.event.map(str::to_owned),
            from_user: m.from_user.to_owned(),
            to_user: m.to_user.to_owned(),
            create_time: m.create_time,
            msg_id: m.msg_id.map(str::to_owned),
            xml_sealed: self.keyring()?.seal_str(
                &message_purpose(m.component.0, m.authorizer_appid, m.dedupe_key),
                m.xml,
            ),
            sealed_payloads: self.seal_deliveries(deliveries)?,
            deliveries: deliveries.to_vec(),
            received_at: now,
        })
    }

    /// Stores messages with their deliveries, all in one transaction (a group commit, see
    /// `engine::group_commit`). Each is stored once: a message already stored (WeChat's retry, also
    /// within the same batch) is reported as a duplicate, and its deliveries are not written.
    pub async fn accept_messages(
        &self,
        batch: &[SealedMessage],
    ) -> Result<Vec<(PushOutcome, Vec<(i64, i64)>)>, StoreError> {
        let mut answers = Vec::with_capacity(batch.len());
        if batch.is_empty() {
            return Ok(answers);
        }
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for m in batch {
                let inserted = sqlx::query(
                    "INSERT INTO messages (component_id, tenant_id, authorizer_appid, dedupe_key, msg_type, event, from_user, \
                     to_user, create_time, msg_id, xml_sealed, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (component_id, authorizer_appid, dedupe_key) DO NOTHING",
                )
                .bind(m.component)
                .bind(m.tenant)
                .bind(&m.authorizer_appid)
                .bind(&m.dedupe_key)
                .bind(&m.msg_type)
                .bind(m.event.as_deref())
                .bind(&m.from_user)
                .bind(&m.to_user)
                .bind(m.create_time)
                .bind(m.msg_id.as_deref())
                .bind(&m.xml_sealed)
                .bind(m.received_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    answers.push((PushOutcome::Duplicate, Vec::new()));
                    continue;
                }
                let written =
                    insert_deliveries!(tx, m.deliveries, m.sealed_payloads, m.received_at)?;
                answers.push((PushOutcome::Accepted, written));
            }
            tx.commit().await?;
        });
        Ok(answers)
    }

    /// The newest messages of one of the tenant's accounts.
    pub async fn recent_messages(
        &self,
        tenant: TenantId,
        authorizer_appid: &str,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<MessageRow> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, component_id, authorizer_appid, dedupe_key, msg_type, event, from_user, create_time, msg_id, \
                 xml_sealed, received_at FROM messages WHERE tenant_id = $1 AND authorizer_appid = $2 \
                 ORDER BY received_at DESC, id DESC LIMIT $3",
            )
            .bind(tenant.0)
            .bind(authorizer_appid)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        let keyring = self.keyring()?;
        rows.into_iter()
            .map(|r| {
                let xml = keyring
                    .open_str(
                        &message_purpose(r.component_id, &r.authorizer_appid, &r.dedupe_key),
                        &r.xml_sealed,
                    )
                    .map_err(|e| StoreError::Corrupt(format!("a sealed message: {e}")))?;
                Ok(StoredMessage {
                    id: r.id,
                    authorizer_appid: r.authorizer_appid,
                    msg_type: r.msg_type,
                    event: r.event,
                    from_user: r.from_user,
                    create_time: r.create_time,
                    msg_id: r.msg_id,
                    received_at: r.received_at,
                    xml: xml.expose_secret().to_owned(),
                })
            })
            .collect()
    }
}

/// What a component saw of WeChat's full-network release test (全网发布): when a test account
/// last wrote, and how the last customer-service reply went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseTestActivity {
    pub last_message_at: Option<i64>,
    /// The last customer-service reply job: its status (`queued`, `running`, `done`, `dead`),
    /// when it last changed, and its last error.
    pub last_reply: Option<(String, i64, Option<String>)>,
}

impl Store {
    /// The release-test traffic of one component (the test accounts are given; each is probed
    /// through the `(component_id, authorizer_appid, …)` key, so a busy component costs no scan).
    pub async fn release_test_activity(
        &self,
        component: ComponentId,
        test_accounts: &[&str],
    ) -> Result<ReleaseTestActivity, StoreError> {
        let mut last_message_at: Option<i64> = None;
        for appid in test_accounts {
            let at: Option<i64> = read!(self, |pool| {
                sqlx::query_scalar(
                "SELECT MAX(received_at) FROM messages WHERE component_id = $1 AND authorizer_appid = $2"
            )
            .bind(component.0)
            .bind(*appid)
            .fetch_one(pool)
            .await
            })?;
            last_message_at = last_message_at.max(at);
        }
        let last_reply: Option<(String, i64, Option<String>)> = read!(self, |pool| {
            sqlx::query_as(
            "SELECT status, updated_at, last_error FROM jobs WHERE kind = 'release_test_reply' AND component_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        .bind(component.0)
        .fetch_optional(pool)
        .await
        })?;
        Ok(ReleaseTestActivity {
            last_message_at,
            last_reply,
        })
    }
}
