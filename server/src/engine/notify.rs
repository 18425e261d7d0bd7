//! The work behind the authorization-event URL and the authorization redirect.
//!
//! A push is checked in the order that costs an attacker the most and us the least: the component
//! must exist, the signature over the raw `<Encrypt>` text must match, the plaintext must name our
//! appid, and the XML must parse. Only then is anything stored, in one transaction that also
//! de-duplicates WeChat's retries; slow work goes to the job queue and the caller answers
//! `success` at once.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use super::jobs::{exchange_key, EXCHANGE_CODE};
use super::metrics::labels;
use super::{Engine, EngineError};
use crate::domain::{Actor, NewAuditEvent, Outcome};
use crate::secrets::fingerprint;
use crate::store::{IncomingPush, NewJob, PushEffect, PushOutcome};
use crate::wechat::crypto::CryptoError;
use crate::wechat::xml::{parse_component_push, parse_envelope, PushKind};

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
}

impl Engine {
    /// Handles one push to `/wechat/{component_appid}/notify`. `Ok` means answer `success`.
    pub async fn accept_notify(
        &self,
        component_appid: &str,
        query: &NotifyQuery,
        body: &[u8],
        ip: Option<std::net::IpAddr>,
    ) -> Result<PushOutcome, NotifyError> {
        let result = self.accept_notify_inner(component_appid, query, body).await;
        let now = crate::now_ms();
        let (info_type, outcome) = match &result {
            Ok((info_type, PushOutcome::Accepted)) => (info_type.clone(), "accepted"),
            Ok((info_type, PushOutcome::Duplicate)) => (info_type.clone(), "duplicate"),
            Err(e) => ("rejected".to_owned(), e.code()),
        };
        self.metrics
            .pushes
            .get_or_create(&labels(&[("info_type", &info_type), ("outcome", outcome)]))
            .inc();
        match result {
            Ok((_, outcome)) => Ok(outcome),
            Err(e) => {
                if !matches!(e, NotifyError::Internal(_)) {
                    let component = self
                        .component_by_appid(component_appid)
                        .await
                        .ok()
                        .flatten();
                    let mut audit = NewAuditEvent::new(
                        Actor::Anonymous,
                        "push.rejected",
                        Outcome::Denied,
                        format!("push to {} refused: {e}", appid_for_log(component_appid)),
                        now,
                    )
                    .ip(ip)
                    .detail(json!({ "reason": e.code(), "bytes": body.len() }));
                    if let Some(c) = &component {
                        audit = audit
                            .component(c.component.id)
                            .tenant(c.component.owner.tenant_id());
                    }
                    if let Err(store_error) = self.store.append_audit(&audit).await {
                        tracing::warn!(error = %store_error, "could not audit a refused push");
                    }
                }
                Err(e)
            }
        }
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
        let push = parse_component_push(decrypted.message.as_bytes())
            .map_err(|e| NotifyError::Malformed(e.to_string()))?;
        if push.app_id != entry.component.appid {
            return Err(NotifyError::WrongAppId);
        }
        let now = crate::now_ms();
        let component = entry.component.id;
        let dedupe_key = fingerprint(&push.dedupe_key());
        let payload = SecretString::from(decrypted.message);
        let mut ticket_value = None;
        let mut code_value = None;
        let mut exchange = None;
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
                    }),
                ));
                Some(change.authorizer_appid.clone())
            }
            PushKind::Unauthorized { authorizer_appid } => Some(authorizer_appid.clone()),
            PushKind::PassedThrough { .. } | PushKind::Unknown => push
                .root
                .child_text("AuthorizerAppid")
                .or_else(|| push.root.child_text("appid"))
                .map(str::to_owned),
        };
        let effect = match (&push.kind, &ticket_value, &code_value, &exchange) {
            (PushKind::VerifyTicket { .. }, Some(ticket), _, _) => PushEffect::Ticket {
                ticket,
                issued_at: push.create_time * 1000,
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
                PushKind::Authorized(_) | PushKind::UpdateAuthorized(_),
                _,
                Some(code),
                Some((key, payload)),
            ) => PushEffect::Exchange(NewJob {
                kind: EXCHANGE_CODE,
                tenant: entry.component.owner.tenant_id(),
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
        let mut audit =
            NewAuditEvent::new(Actor::Wechat, "push.received", Outcome::Ok, summary, now)
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
                PushKind::VerifyTicket { .. } => self.wake_refresh.notify_one(),
                PushKind::Authorized(_) | PushKind::UpdateAuthorized(_) => {
                    self.wake_jobs.notify_one()
                }
                PushKind::Unauthorized { authorizer_appid } => {
                    self.cache.remove(
                        component,
                        crate::domain::CredentialKind::AuthorizerAccessToken,
                        authorizer_appid,
                    );
                    self.cache.remove(
                        component,
                        crate::domain::CredentialKind::JsapiTicket,
                        authorizer_appid,
                    );
                }
                _ => {}
            }
        }
        Ok((push.info_type, outcome))
    }

    /// The account owner's browser came back from WeChat with `auth_code`: queue the exchange
    /// (a no-op if the push already did) and wait a little for it, so the page can say how it went.
    pub async fn complete_redirect(
        &self,
        link_public_id: &str,
        auth_code: Option<&str>,
        wait: Duration,
    ) -> Result<RedirectOutcome, EngineError> {
        let Some(link) = self.store.link_by_public_id(link_public_id).await? else {
            return Ok(RedirectOutcome::UnknownLink);
        };
        let Some(code) = auth_code
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 512)
        else {
            return Ok(RedirectOutcome::MissingCode);
        };
        let now = crate::now_ms();
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
                // The account this link produced most recently is the one just stored (the push
                // may have won the race; it attributes through the pre_auth_code to this link).
                match self
                    .store
                    .latest_authorization_through_link(link.id, 0)
                    .await?
                {
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

/// Appids in the URL are outside input: keep log lines short and printable.
fn appid_for_log(appid: &str) -> String {
    appid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect()
}
