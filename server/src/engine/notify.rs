//! The work behind the authorization-event URL and the authorization redirect.
//!
//! A push is checked in the order that costs an attacker the most and us the least: the component
//! must exist, the signature over the raw `<Encrypt>` text must match, the plaintext must name our
//! appid, the XML must parse, and its `CreateTime` must be recent. Only then is anything stored, in
//! one transaction that also de-duplicates WeChat's retries; slow work goes to the job queue and
//! the caller answers `success` at once.
//!
//! The time window is what keeps replays out once old de-duplication rows are pruned, and what
//! keeps a signer (a tenant knows its own component's keys) from pinning "the newest event" of an
//! account or a ticket far in the future. Refusals are audited through the `RefusalLog` (bounded),
//! and metric labels take a fixed set of values, so signed garbage cannot grow either.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use super::jobs::{exchange_key, EXCHANGE_CODE};
use super::metrics::labels;
use super::{Engine, EngineError};
use crate::domain::{Actor, AuditKind, LinkPublicId, NewAuditEvent, Outcome};
use crate::secrets::fingerprint;
use crate::store::{IncomingPush, NewJob, PushEffect, PushOutcome};
use crate::wechat::crypto::CryptoError;
use crate::wechat::xml::{parse_component_push, parse_envelope, PassedThroughInfoType, PushKind};

/// The query string WeChat sends with a push.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NotifyQuery {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub msg_signature: Option<String>,
    pub signature: Option<String>,
    pub encrypt_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("unknown component")]
    UnknownComponent,
    #[error("missing {0}")]
    MissingParameter(&'static str),
    #[error("the body is not a WeChat envelope: {0}")]
    Envelope(String),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the message does not decrypt: {0}")]
    Decrypt(CryptoError),
    #[error("the message is not a push: {0}")]
    Malformed(String),
    #[error("the message is for another component")]
    WrongAppId,
    #[error("the message's CreateTime is outside the accepted window")]
    OutOfWindow,
    #[error("the account is not authorized to this component")]
    UnknownAccount,
    #[error(transparent)]
    Internal(#[from] EngineError),
}

impl NotifyError {
    /// A short code for metrics and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::UnknownComponent => "unknown_component",
            NotifyError::MissingParameter(_) => "missing_parameter",
            NotifyError::Envelope(_) => "bad_envelope",
            NotifyError::BadSignature => "bad_signature",
            NotifyError::Decrypt(_) => "bad_ciphertext",
            NotifyError::Malformed(_) => "bad_xml",
            NotifyError::WrongAppId => "wrong_appid",
            NotifyError::OutOfWindow => "out_of_window",
            NotifyError::UnknownAccount => "unknown_account",
            NotifyError::Internal(_) => "internal",
        }
    }
}

/// What the account owner's browser is told after the redirect.
#[derive(Debug, Clone, PartialEq)]
pub enum RedirectOutcome {
    UnknownLink,
    MissingCode,
    /// The account is stored.
    Authorized(Box<crate::domain::Authorizer>),
    /// Still being exchanged (WeChat is slow); it will appear shortly.
    Pending,
    Failed(String),
    LinkRevoked,
    LinkExpired,
}

impl Engine {
    /// Handles one push to `/wechat/{component_appid}/notify`. `Ok` means answer `success`.
    #[tracing::instrument(name = "push", skip_all, fields(component = %appid_for_log(component_appid)))]
    pub async fn accept_notify(
        &self,
        component_appid: &str,
        query: &NotifyQuery,
        body: &[u8],
        ip: Option<std::net::IpAddr>,
    ) -> Result<PushOutcome, NotifyError> {
        let result = self.accept_notify_inner(component_appid, query, body).await;
        let (info_type, outcome) = match &result {
            Ok((info_type, PushOutcome::Accepted)) => (info_type_label(info_type), "accepted"),
            Ok((info_type, PushOutcome::Duplicate)) => (info_type_label(info_type), "duplicate"),
            Err(e) => ("rejected", e.code()),
        };
        self.metrics
            .pushes
            .get_or_create(&labels(&[("info_type", info_type), ("outcome", outcome)]))
            .inc();
        match result {
            Ok((_, outcome)) => Ok(outcome),
            Err(e) => {
                if !matches!(e, NotifyError::Internal(_)) {
                    let summary =
                        format!("push to {} refused: {e}", appid_for_log(component_appid));
                    let detail = json!({ "reason": e.code(), "bytes": body.len() });
                    let source = format!("{}:{}", appid_for_log(component_appid), e.code());
                    self.record_refusal(component_appid, summary, detail, ip, &source)
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Audits a refused post to one of WeChat's URLs, under its component and tenant when the
    /// component is ours, through the bounded `RefusalLog` (`source` is what an attacker repeats).
    pub(super) async fn record_refusal(
        &self,
        component_appid: &str,
        summary: String,
        detail: serde_json::Value,
        ip: Option<std::net::IpAddr>,
        source: &str,
    ) {
        let component = self
            .component_by_appid(component_appid)
            .await
            .ok()
            .flatten();
        let mut audit = NewAuditEvent::new(
            Actor::Anonymous,
            AuditKind::PushRejected,
            Outcome::Denied,
            summary,
            crate::now_ms(),
        )
        .ip(ip)
        .detail(detail);
        if let Some(c) = &component {
            audit = audit
                .component(c.component.id)
                .tenant(c.component.owner.tenant_id());
        }
        self.refusals.record(audit, source).await;
    }

    async fn accept_notify_inner(
        &self,
        component_appid: &str,
        query: &NotifyQuery,
        body: &[u8],
    ) -> Result<(String, PushOutcome), NotifyError> {
        let entry = self
            .component_by_appid(component_appid)
            .await?
            .ok_or(NotifyError::UnknownComponent)?;
        let decrypted = open_envelope(&entry, query, body)?;
        let push = parse_component_push(decrypted.message.as_bytes())
            .map_err(|e| NotifyError::Malformed(e.to_string()))?;
        if push.app_id != entry.component.appid {
            return Err(NotifyError::WrongAppId);
        }
        let now = crate::now_ms();
        let event_at = push
            .create_time
            .checked_mul(1000)
            .filter(|at| {
                let max_age = self.settings.push_max_age.as_millis() as i64;
                *at >= now - max_age && *at <= now + PUSH_MAX_AHEAD_MS
            })
            .ok_or(NotifyError::OutOfWindow)?;
        let component = entry.component.id;
        let dedupe_key = fingerprint(&push.dedupe_key());
        let payload = SecretString::from(decrypted.message);
        let mut ticket_value = None;
        let mut code_value = None;
        let mut exchange = None;
        let mut fast_register_tenant = None;
        let authorizer_appid: Option<String> = match &push.kind {
            PushKind::VerifyTicket { ticket } => {
                ticket_value = Some(SecretString::from(ticket.clone()));
                None
            }
            PushKind::Authorized(change) | PushKind::UpdateAuthorized(change) => {
                code_value = Some(SecretString::from(change.authorization_code.clone()));
                exchange = Some((
                    exchange_key(component, &change.authorization_code),
                    json!({
                        "authorizer_appid": change.authorizer_appid,
                        "pre_auth_code_fp": change.pre_auth_code.as_deref().map(fingerprint),
                        "source": "push",
                        "info_type": push.info_type,
                        "event_at": event_at,
                    }),
                ));
                Some(change.authorizer_appid.clone())
            }
            PushKind::Unauthorized { authorizer_appid } => Some(authorizer_appid.clone()),
            // A fast-registered mini program is born authorized to the component: its push carries
            // the authorization code, exchanged like any other, so the account is kept (its
            // component's tenant's, or unassigned on a shared component).
            PushKind::PassedThrough {
                info_type: PassedThroughInfoType::FastRegister,
            } => {
                // A registration a tenant started from wxhub: the account is that tenant's.
                fast_register_tenant = self
                    .settle_fast_registration(component, &push.root)
                    .await
                    .map_err(EngineError::from)?;
                let appid = push
                    .root
                    .child_text("appid")
                    .filter(|a| crate::domain::AppId::parse("appid", a).is_ok())
                    .map(str::to_owned);
                if let (Some("0"), Some(code), Some(appid)) = (
                    push.root.child_text("status"),
                    push.root.child_text("auth_code"),
                    appid.as_deref(),
                ) {
                    code_value = Some(SecretString::from(code.to_owned()));
                    exchange = Some((
                        exchange_key(component, code),
                        json!({
                            "authorizer_appid": appid,
                            "source": "fastregister",
                            "info_type": "authorized",
                            "event_at": event_at,
                        }),
                    ));
                }
                appid
            }
            PushKind::PassedThrough { .. } | PushKind::Unknown => push
                .root
                .child_text("AuthorizerAppid")
                .or_else(|| push.root.child_text("appid"))
                .map(str::to_owned),
        };
        let effect = match (&push.kind, &ticket_value, &code_value, &exchange) {
            (PushKind::VerifyTicket { .. }, Some(ticket), _, _) => PushEffect::Ticket {
                ticket,
                issued_at: event_at,
                lifetime_ms: self.settings.ticket_lifetime.as_millis() as i64,
                wake_component_token: self
                    .cache
                    .get(
                        component,
                        crate::domain::CredentialKind::ComponentAccessToken,
                        "",
                        now,
                    )
                    .is_none_or(|t| t.refresh_at.is_some_and(|r| r <= now)),
            },
            (
                PushKind::Authorized(_)
                | PushKind::UpdateAuthorized(_)
                | PushKind::PassedThrough {
                    info_type: PassedThroughInfoType::FastRegister,
                },
                _,
                Some(code),
                Some((key, payload)),
            ) => PushEffect::Exchange(NewJob {
                kind: EXCHANGE_CODE,
                tenant: fast_register_tenant.or(entry.component.owner.tenant_id()),
                component: Some(component),
                payload: payload.clone(),
                secret: Some(code),
                dedupe_key: key,
                run_at: now,
                max_attempts: 10,
            }),
            (PushKind::Unauthorized { authorizer_appid }, _, _, _) => {
                PushEffect::Revoke { authorizer_appid }
            }
            _ => PushEffect::None,
        };
        let summary = match &authorizer_appid {
            Some(a) => format!("{} push for {a}", push.info_type),
            None => format!("{} push", push.info_type),
        };
        let mut audit = NewAuditEvent::new(
            Actor::Wechat,
            AuditKind::PushReceived,
            Outcome::Ok,
            summary,
            now,
        )
        .tenant(entry.component.owner.tenant_id())
        .component(component)
        .detail(json!({ "info_type": push.info_type, "create_time": push.create_time }));
        if let Some(a) = &authorizer_appid {
            audit = audit.authorizer(a);
        }
        let incoming = IncomingPush {
            component,
            tenant: entry.component.owner.tenant_id(),
            info_type: &push.info_type,
            authorizer_appid: authorizer_appid.as_deref(),
            dedupe_key: &dedupe_key,
            create_time: push.create_time,
            event_at,
            payload: &payload,
        };
        // Tickets arrive every ten minutes per component and are recorded in received_pushes;
        // auditing each would double the busiest write for no reader.
        let audit = (!matches!(push.kind, PushKind::VerifyTicket { .. })).then_some(audit);
        let outcome = self
            .store
            .accept_push(&incoming, &effect, audit.as_ref(), now)
            .await
            .map_err(EngineError::from)?;
        if outcome == PushOutcome::Accepted {
            match &push.kind {
                PushKind::VerifyTicket { .. } => {
                    self.note_ticket(&entry.component.appid, event_at);
                    self.wake_refresh.notify_one()
                }
                PushKind::Authorized(_)
                | PushKind::UpdateAuthorized(_)
                | PushKind::PassedThrough {
                    info_type: PassedThroughInfoType::FastRegister,
                } => self.wake_jobs.notify_one(),
                PushKind::Unauthorized { .. } => {
                    // A revocation that applied cleared the account's tokens in the same
                    // transaction; one older than the account's newest event changed nothing.
                    // Either way the cache learns it now, not at the next poll.
                    self.cache
                        .sync(&self.store)
                        .await
                        .map_err(EngineError::from)?;
                }
                _ => {}
            }
        }
        // A revocation is told to the tenant's endpoints even for WeChat's retry of the push: if
        // an earlier try stored it and died before queueing the event, the retry queues it (the
        // event id comes from the push, so it is written once).
        if let PushKind::Unauthorized { authorizer_appid } = &push.kind {
            let account = self
                .store
                .authorizer_of_component(component, authorizer_appid)
                .await
                .map_err(EngineError::from)?;
            let revoked = account.filter(|a| a.status == crate::domain::AuthorizerStatus::Revoked);
            if outcome == PushOutcome::Accepted {
                if let Some(a) = &revoked {
                    self.rollups
                        .count(crate::rollups::Counted::Revocation, a.tenant_id, "", now);
                }
            }
            if let Some((_, tenant)) = revoked.and_then(|a| a.tenant_id.map(|t| (a, t))) {
                self.authorization_event(
                    tenant,
                    &entry.component.appid,
                    authorizer_appid,
                    "unauthorized",
                    &format!("{}:{dedupe_key}", component.0),
                    json!({ "create_time": push.create_time }),
                )
                .await?;
            }
        }
        Ok((push.info_type, outcome))
    }

    /// The account owner's browser came back from WeChat with `auth_code`: queue the exchange
    /// (a no-op if the push already did) and wait a little for it, so the page can say how it went.
    /// A revoked or expired link does no work at all; neither does a code that cannot be one.
    /// Waiting is on the job queue's notification, not a poll.
    pub async fn complete_redirect(
        &self,
        link_public_id: &LinkPublicId,
        auth_code: Option<&str>,
        wait: Duration,
    ) -> Result<RedirectOutcome, EngineError> {
        let Some(link) = self
            .store
            .link_by_public_id(link_public_id.as_str())
            .await?
        else {
            return Ok(RedirectOutcome::UnknownLink);
        };
        let now = crate::now_ms();
        if link.revoked_at.is_some() {
            return Ok(RedirectOutcome::LinkRevoked);
        }
        if link.expires_at.is_some_and(|at| at <= now) {
            return Ok(RedirectOutcome::LinkExpired);
        }
        // WeChat's codes are printable ASCII without spaces; anything else is not worth a call.
        let Some(code) = auth_code
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 512 && c.bytes().all(|b| b.is_ascii_graphic()))
        else {
            return Ok(RedirectOutcome::MissingCode);
        };
        let key = exchange_key(link.component_id, code);
        let secret = SecretString::from(code.to_owned());
        let job = NewJob {
            kind: EXCHANGE_CODE,
            tenant: Some(link.tenant_id),
            component: Some(link.component_id),
            payload: json!({ "link_id": link.id.0, "source": "redirect" }),
            secret: Some(&secret),
            dedupe_key: &key,
            run_at: now,
            max_attempts: 10,
        };
        self.store.enqueue_job(&job, now).await?;
        self.wake_jobs.notify_one();
        let state = self.wait_for_exchange(&key, wait).await;
        Ok(match state {
            Some(s) if s.status == "done" => {
                // The account this very code authorized, if it belongs to this link's tenant.
                let appid = self
                    .store
                    .job_result_appid(&key)
                    .await?
                    .or_else(|| s.authorizer_appid.clone());
                let account = match appid {
                    Some(appid) => self
                        .store
                        .authorizer_of_component(link.component_id, &appid)
                        .await?
                        .filter(|a| a.tenant_id == Some(link.tenant_id)),
                    None => None,
                };
                match account {
                    Some(a) => RedirectOutcome::Authorized(Box::new(a)),
                    None => RedirectOutcome::Pending,
                }
            }
            Some(s) if s.status == "dead" => {
                RedirectOutcome::Failed(s.last_error.unwrap_or_default())
            }
            _ => RedirectOutcome::Pending,
        })
    }
}

/// Checks a post's signature over the raw `<Encrypt>` text and decrypts it with the component's
/// key (or, during an EncodingAESKey rotation, the previous one): the first steps of both the
/// authorization-event URL and the message URL.
pub(super) fn open_envelope(
    entry: &super::ComponentEntry,
    query: &NotifyQuery,
    body: &[u8],
) -> Result<crate::wechat::crypto::Decrypted, NotifyError> {
    let timestamp = query
        .timestamp
        .as_deref()
        .ok_or(NotifyError::MissingParameter("timestamp"))?;
    let nonce = query
        .nonce
        .as_deref()
        .ok_or(NotifyError::MissingParameter("nonce"))?;
    let signature = query
        .msg_signature
        .as_deref()
        .ok_or(NotifyError::MissingParameter("msg_signature"))?;
    let envelope = parse_envelope(body).map_err(|e| NotifyError::Envelope(e.to_string()))?;
    let decrypted =
        match entry
            .crypto
            .verify_and_decrypt(timestamp, nonce, signature, &envelope.encrypt)
        {
            Ok(d) => d,
            Err(CryptoError::BadSignature) => return Err(NotifyError::BadSignature),
            // During an EncodingAESKey rotation WeChat may still use the previous key.
            Err(first) => match &entry.previous_crypto {
                Some(previous) => previous
                    .decrypt(&envelope.encrypt)
                    .map_err(|_| NotifyError::Decrypt(first))?,
                None => {
                    return Err(match first {
                        CryptoError::WrongAppId => NotifyError::WrongAppId,
                        other => NotifyError::Decrypt(other),
                    })
                }
            },
        };
    Ok(decrypted)
}

/// How far ahead of our clock a push's CreateTime may be (clocks differ a little).
pub(super) const PUSH_MAX_AHEAD_MS: i64 = 5 * 60_000;

/// The InfoTypes WeChat documents, as metric label values; anything else is `other`, so a signer
/// cannot create metric series at will.
fn info_type_label(info_type: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "component_verify_ticket",
        "authorized",
        "updateauthorized",
        "unauthorized",
        "notify_third_fasteregister",
        "notify_third_fastregisterbetaapp",
        "notify_third_fastverifybetaapp",
        "wxa_nickname_audit",
        "notify_icpfiling_verify_result",
        "notify_apply_icpfiling_result",
        "notify_3rd_wxa_auth",
        "notify_3rd_wxa_wxverify",
        "notify_3rd_wxa_auth_and_icp",
    ];
    KNOWN
        .iter()
        .copied()
        .find(|k| *k == info_type)
        .unwrap_or("other")
}

/// Appids in the URL are outside input: keep log lines short and printable.
pub(super) fn appid_for_log(appid: &str) -> String {
    appid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect()
}
