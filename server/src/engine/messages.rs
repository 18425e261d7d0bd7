//! The work behind the message URL (`/wechat/{component_appid}/message/{authorizer_appid}`): every
//! message and event of every authorized account arrives here, encrypted with the component's key.
//!
//! The checks run in the notify URL's order (component, signature over the raw body, decryption
//! with the appid inside, XML, time window), then one more: the account in the path must be one
//! this component holds, still authorized, and, once its profile is known, the `ToUserName` must
//! be its original id. Only then is the message stored, once (WeChat retries three times; the
//! retry is recognised by MsgId, or by sender, time and event). Refusals are audited through the
//! bounded `RefusalLog` like the notify URL's.
//!
//! A tap on a menu item wxhub mapped (a `CLICK` on a `wxhub_menu_…` key, see `app::menu`) is
//! answered passively with what the account's backend-made item used to answer, and still reaches
//! the tenant's webhooks, flagged `"handled_by": "menu_map"`.
//!
//! 全网发布 (PROTOCOL.md §12): for WeChat's ten test accounts wxhub answers by itself, whatever any
//! tenant configured. A `TESTCOMPONENT_MSG_TYPE_TEXT` gets the encrypted passive reply
//! `TESTCOMPONENT_MSG_TYPE_TEXT_callback`, an event gets `<Event>from_callback`, and a
//! `QUERY_AUTH_CODE:` message gets an empty answer at once and queues a durable job
//! (`jobs::RELEASE_TEST_REPLY`) that exchanges the code and sends `<code>_from_api` back through the
//! customer-service API.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::json;

use super::jobs::RELEASE_TEST_REPLY;
use super::metrics::labels;
use super::notify::{appid_for_log, open_envelope, NotifyError, NotifyQuery, PUSH_MAX_AHEAD_MS};
use super::webhooks::OutgoingEvent;
use super::{Engine, EngineError};
use crate::domain::AuthorizerStatus;
use crate::secrets::fingerprint;
use crate::store::{IncomingMessage, NewJob, PushOutcome, SealedMessage, StoreError, WebhookMode};
use crate::webhooks::reply::PassiveReply;
use crate::wechat::xml::{parse_account_message, text_reply, AccountMessage};

/// WeChat's test accounts for the full-network release test (PROTOCOL.md §12.1): five Official
/// Accounts and five Mini Programs. They are authorized to every platform during the test.
pub const RELEASE_TEST_ACCOUNTS: [&str; 10] = [
    "wx570bc396a51b8ff8",
    "wxd101a85aa106f53e",
    "wx9252c5e0bb1836fc",
    "wxc39235c15087f6f3",
    "wx8e1097c5bc82cde9",
    "wx7720d01d4b2a4500",
    "wx14550af28c71a144",
    "wx05d483572dcd5d8b",
    "wxa35b9c23cfe664eb",
    "wx5910277cae6fd970",
];

/// The text the release test sends for a passive reply, and what it expects back.
pub const RELEASE_TEST_TEXT: &str = "TESTCOMPONENT_MSG_TYPE_TEXT";
/// The prefix of the release test's customer-service step.
pub const RELEASE_TEST_QUERY_AUTH_CODE: &str = "QUERY_AUTH_CODE:";

/// What WeChat is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAnswer {
    /// `success`: no passive reply.
    Success,
    /// An empty body: no passive reply, one will follow through the customer-service API.
    Empty,
    /// An encrypted passive reply envelope (XML).
    Reply(String),
}

impl Engine {
    /// Handles one post to the message URL. `Ok` carries what to answer.
    #[tracing::instrument(name = "message", skip_all, fields(component = %appid_for_log(component_appid), account = %appid_for_log(authorizer_appid)))]
    pub async fn accept_message(
        self: &Arc<Self>,
        component_appid: &str,
        authorizer_appid: &str,
        query: &NotifyQuery,
        body: &[u8],
        ip: Option<std::net::IpAddr>,
    ) -> Result<MessageAnswer, NotifyError> {
        let result = self
            .accept_message_inner(component_appid, authorizer_appid, query, body)
            .await;
        if let Err(e) = &result {
            self.metrics
                .messages
                .get_or_create(&labels(&[("outcome", e.code())]))
                .inc();
            if !matches!(e, NotifyError::Internal(_)) {
                let summary = format!(
                    "message to {} for {} refused: {e}",
                    appid_for_log(component_appid),
                    appid_for_log(authorizer_appid)
                );
                let detail =
                    json!({ "reason": e.code(), "bytes": body.len(), "endpoint": "message" });
                let source = format!("{}:message:{}", appid_for_log(component_appid), e.code());
                self.record_refusal(component_appid, summary, detail, ip, &source)
                    .await;
            }
        }
        result
    }

    async fn accept_message_inner(
        self: &Arc<Self>,
        component_appid: &str,
        authorizer_appid: &str,
        query: &NotifyQuery,
        body: &[u8],
    ) -> Result<MessageAnswer, NotifyError> {
        let started = std::time::Instant::now();
        let entry = self
            .component_by_appid(component_appid)
            .await?
            .ok_or(NotifyError::UnknownComponent)?;
        let decrypted = open_envelope(&entry, query, body)?;
        let message = parse_account_message(decrypted.message.as_bytes())
            .map_err(|e| NotifyError::Malformed(e.to_string()))?;
        let now = crate::now_ms();
        message
            .create_time
            .checked_mul(1000)
            .filter(|at| {
                let max_age = self.settings.push_max_age.as_millis() as i64;
                *at >= now - max_age && *at <= now + PUSH_MAX_AHEAD_MS
            })
            .ok_or(NotifyError::OutOfWindow)?;
        let release_test = RELEASE_TEST_ACCOUNTS.contains(&authorizer_appid);
        let mut known_account = None;
        let tenant = if release_test {
            entry.component.owner.tenant_id()
        } else {
            let account = self
                .store
                .authorizer_of_component(entry.component.id, authorizer_appid)
                .await
                .map_err(EngineError::from)?
                .ok_or(NotifyError::UnknownAccount)?;
            if account.status != AuthorizerStatus::Authorized {
                return Err(NotifyError::UnknownAccount);
            }
            if !account.user_name.is_empty() && account.user_name != message.to_user {
                return Err(NotifyError::WrongAppId);
            }
            // An unassigned account's messages are kept and answered, and reach no tenant.
            let tenant = account.tenant_id;
            known_account = Some(account);
            tenant
        };
        let dedupe_key = fingerprint(&message.dedupe_key());
        let event_id = crate::webhooks::new_event_id();
        let event_type = crate::webhooks::message_event_type(&message);
        let menu_reply = match tenant {
            Some(tenant) if !release_test => {
                self.menu_reply(tenant, entry.component.id, authorizer_appid, &message)
                    .await?
            }
            _ => None,
        };
        let (deliveries, endpoints) = match tenant {
            // WeChat's test accounts are answered by wxhub itself; no tenant's endpoint sees them.
            Some(tenant) if !release_test => {
                let mut payload = crate::webhooks::message_payload(
                    &event_type,
                    component_appid,
                    authorizer_appid,
                    &message,
                    &decrypted.message,
                    now,
                );
                if menu_reply.is_some() {
                    // The tenant still sees the tap, and that wxhub answered it.
                    payload["handled_by"] = json!("menu_map");
                }
                let body = payload.to_string();
                let event = OutgoingEvent {
                    tenant,
                    event_type: &event_type,
                    authorizer_appid: Some(authorizer_appid),
                    body,
                };
                // A tap wxhub answers leaves no reply to wait for.
                self.deliveries_for(&event, &event_id, menu_reply.is_none(), now)
                    .await?
            }
            _ => (Vec::new(), Vec::new()),
        };
        let xml = SecretString::from(decrypted.message);
        let sealed = self
            .store
            .seal_message(
                &IncomingMessage {
                    component: entry.component.id,
                    tenant,
                    authorizer_appid,
                    dedupe_key: &dedupe_key,
                    msg_type: &message.msg_type,
                    event: message.event.as_deref(),
                    from_user: &message.from_user,
                    to_user: &message.to_user,
                    create_time: message.create_time,
                    msg_id: message.msg_id.as_deref(),
                    xml: &xml,
                },
                &deliveries,
                now,
            )
            .map_err(EngineError::from)?;
        let (stored, written) = self
            .message_records
            .submit(sealed, |batch| self.store_messages(batch))
            .await
            .ok_or_else(|| {
                EngineError::from(StoreError::Unavailable(
                    "the batch with this message was abandoned".into(),
                ))
            })?
            .map_err(EngineError::from)?;
        self.metrics
            .messages
            .get_or_create(&labels(&[(
                "outcome",
                if stored == PushOutcome::Duplicate {
                    "duplicate"
                } else {
                    "stored"
                },
            )]))
            .inc();
        if stored != PushOutcome::Duplicate {
            self.rollups
                .count(crate::rollups::Counted::Message, tenant, "", now);
        }
        if stored == PushOutcome::Duplicate {
            tracing::debug!("a retried message, already stored");
        }
        // A mini program's audit result goes on its timeline too (once: a retried push, or one
        // whose first answer was lost, is the same row).
        if let Some(account) = known_account.as_ref().filter(|_| {
            message
                .event
                .as_deref()
                .is_some_and(|e| e.starts_with("weapp_audit_"))
        }) {
            match self.code_audit_event(account, &message).await {
                Ok(()) => {}
                Err(super::code::CodeError::Store(e)) => return Err(EngineError::from(e).into()),
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "an audit result could not be put on the timeline")
                }
            }
        }
        // The first reply-mode endpoint (oldest) may answer for the account; others get the
        // message like async ones.
        let reply_delivery = endpoints
            .iter()
            .filter(|_| menu_reply.is_none())
            .find(|e| e.mode == WebhookMode::Reply)
            .and_then(|e| written.iter().find(|(endpoint, _)| *endpoint == e.id))
            .map(|(_, delivery)| *delivery);
        if written.len() > usize::from(reply_delivery.is_some()) {
            self.wake_webhooks();
        }
        if let Some(code) = message
            .content()
            .filter(|_| release_test)
            .and_then(|t| t.strip_prefix(RELEASE_TEST_QUERY_AUTH_CODE))
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            // Queued even for a retried message (the key makes it one job): a crash between the
            // message and the job must not lose the reply.
            let key = format!(
                "{RELEASE_TEST_REPLY}:{}:{}",
                entry.component.id.0,
                fingerprint(code)
            );
            let secret = SecretString::from(code.to_owned());
            let job = NewJob {
                kind: RELEASE_TEST_REPLY,
                tenant,
                component: Some(entry.component.id),
                payload: json!({ "authorizer_appid": authorizer_appid, "touser": message.from_user }),
                secret: Some(&secret),
                dedupe_key: &key,
                run_at: now,
                max_attempts: 8,
            };
            self.store
                .enqueue_job(&job, now)
                .await
                .map_err(EngineError::from)?;
            self.wake_jobs.notify_one();
        }
        if release_test {
            return Ok(release_test_answer(&entry.crypto, &message, now));
        }
        if let Some(reply) = menu_reply {
            let plain = reply.to_xml(&message.from_user, &message.to_user, now / 1000);
            return Ok(MessageAnswer::Reply(Engine::encrypt_reply(
                &entry.crypto,
                &plain,
                now,
            )));
        }
        let Some(delivery) = reply_delivery else {
            return Ok(MessageAnswer::Success);
        };
        Ok(match self.reply_attempt(delivery, started).await {
            Some(reply) => {
                let now = crate::now_ms();
                let plain = reply.to_xml(&message.from_user, &message.to_user, now / 1000);
                MessageAnswer::Reply(Engine::encrypt_reply(&entry.crypto, &plain, now))
            }
            None => MessageAnswer::Success,
        })
    }
}

impl Engine {
    /// What a CLICK on a key wxhub mapped answers: the content its backend-made item used to
    /// answer (PROTOCOL.md §12a). One indexed read, and only for CLICKs on wxhub's own keys.
    async fn menu_reply(
        &self,
        tenant: crate::domain::TenantId,
        component: crate::domain::ComponentId,
        appid: &str,
        message: &AccountMessage,
    ) -> Result<Option<PassiveReply>, EngineError> {
        if message.event.as_deref() != Some("CLICK") {
            return Ok(None);
        }
        let Some(key) = message
            .root
            .child_text("EventKey")
            .filter(|k| k.starts_with(app::menu::MAPPED_KEY_PREFIX))
        else {
            return Ok(None);
        };
        let Some(map) = self
            .store
            .active_click_map(tenant, component, appid)
            .await?
        else {
            return Ok(None);
        };
        let map: app::menu::ClickMap = match serde_json::from_str(&map) {
            Ok(map) => map,
            Err(e) => {
                tracing::warn!(error = %e, "a stored click map could not be read");
                return Ok(None);
            }
        };
        Ok(map.get(key).map(|click| passive_reply(&click.reply)))
    }

    /// Stores a batch of messages in one transaction (see [`GroupCommit`](super::group_commit::GroupCommit)); if the batch fails,
    /// each message alone, so one bad message cannot refuse the others.
    async fn store_messages(&self, batch: Vec<SealedMessage>) -> Vec<StoredOrNot> {
        match self.store.accept_messages(&batch).await {
            Ok(done) => done.into_iter().map(Ok).collect(),
            Err(e) if batch.len() > 1 => {
                tracing::info!(error = %crate::report::Chain(&e), batch = batch.len(), "storing a batch of messages failed; storing them one by one");
                let mut done = Vec::with_capacity(batch.len());
                for m in &batch {
                    done.push(
                        self.store
                            .accept_messages(std::slice::from_ref(m))
                            .await
                            .and_then(|mut one| {
                                one.pop().ok_or_else(|| {
                                    StoreError::Corrupt("no answer for a message".into())
                                })
                            }),
                    );
                }
                done
            }
            Err(e) => vec![Err(e)],
        }
    }
}

/// The passive reply for a mapped item's content.
fn passive_reply(reply: &app::menu::MappedReply) -> PassiveReply {
    use app::menu::MappedReply;
    match reply {
        MappedReply::Text { content } => PassiveReply::Text {
            content: content.clone(),
        },
        MappedReply::Image { media_id } => PassiveReply::Image {
            media_id: media_id.clone(),
        },
        MappedReply::Voice { media_id } => PassiveReply::Voice {
            media_id: media_id.clone(),
        },
        MappedReply::Video { media_id } => PassiveReply::Video {
            media_id: media_id.clone(),
            title: None,
            description: None,
        },
        MappedReply::News { articles } => PassiveReply::News {
            articles: articles
                .iter()
                .map(|a| crate::webhooks::reply::Article {
                    title: a.title.clone(),
                    description: Some(a.description.clone()).filter(|d| !d.is_empty()),
                    pic_url: Some(a.pic_url.clone()).filter(|u| !u.is_empty()),
                    url: Some(a.url.clone()).filter(|u| !u.is_empty()),
                })
                .collect(),
        },
    }
}

/// What storing one message did: stored or a duplicate, and its deliveries written.
pub(super) type StoredOrNot = Result<(PushOutcome, Vec<(i64, i64)>), StoreError>;

/// The answers the full-network release test expects (PROTOCOL.md §12.2). A retry of the same
/// message gets the same answer: WeChat only retries when it did not get the first one.
fn release_test_answer(
    crypto: &crate::wechat::crypto::MsgCrypt,
    message: &AccountMessage,
    now: i64,
) -> MessageAnswer {
    let reply = |content: &str| {
        let plain = text_reply(&message.from_user, &message.to_user, now / 1000, content);
        MessageAnswer::Reply(Engine::encrypt_reply(crypto, &plain, now))
    };
    match (message.content(), message.event.as_deref()) {
        (Some(RELEASE_TEST_TEXT), _) => reply(&format!("{RELEASE_TEST_TEXT}_callback")),
        (Some(text), _) if text.starts_with(RELEASE_TEST_QUERY_AUTH_CODE) => MessageAnswer::Empty,
        (_, Some(event)) => reply(&format!("{event}from_callback")),
        _ => MessageAnswer::Success,
    }
}
