//! Webhook endpoints: registering one, deleting it, rotating its secret, turning it on or off,
//! replaying its dead letters and sending it a test event. The console and the tenant API both
//! call these, so the rules (the URL guard, the filters' shapes, what is audited) are the same
//! whichever edge a tenant uses.
//!
//! The signing secret is returned once, by `create` and `rotate_secret`; only its sealed form is
//! kept. A rotation keeps the old secret signing alongside the new one for [`SECRET_OVERLAP`], so
//! the tenant can switch its verifier without losing a delivery.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use super::{OpError, TenantActor};
use crate::domain::{AuditKind, NewAuditEvent, Outcome};
use crate::engine::Engine;
use crate::store::{NewWebhookEndpoint, Store, WebhookEndpoint, WebhookMode};
use crate::webhooks::{guard, signing};

/// How long a replaced secret keeps signing.
pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// Endpoints per tenant.
pub const MAX_ENDPOINTS: usize = 20;
const MAX_DESCRIPTION: usize = 200;
const MAX_FILTER_ITEMS: usize = 100;

/// What a tenant asks for.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub url: String,
    pub description: Option<String>,
    pub authorizer_appids: Option<Vec<String>>,
    pub event_types: Option<Vec<String>>,
    pub mode: Option<String>,
}

/// Whether an event-type filter is well formed: `wechat.message.text`, `wechat.event.*`, `*`.
fn event_type_pattern(p: &str) -> bool {
    let body = p.strip_suffix('*').unwrap_or(p);
    p.len() <= 80
        && (p == "*"
            || ((body.starts_with("wechat.") || body.starts_with("wxhub."))
                && body.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                })))
}

/// Checks a request into what the store takes (the URL through the SSRF guard, resolving names).
async fn validate(
    req: &EndpointRequest,
    allow_private: bool,
) -> Result<
    (
        String,
        String,
        Option<Vec<String>>,
        Option<Vec<String>>,
        WebhookMode,
    ),
    OpError,
> {
    let url = guard::check_url_resolving(&req.url, allow_private)
        .await
        .map_err(|e| OpError::invalid("url", e.to_string(), e.zh()))?;
    let description = req.description.as_deref().unwrap_or("").trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION || description.chars().any(char::is_control) {
        return Err(OpError::invalid(
            "description",
            "the description must be at most 200 characters, on one line",
            "描述最多 200 个字符，且只能一行",
        ));
    }
    let appids = match &req.authorizer_appids {
        None => None,
        Some(list) if list.is_empty() => None,
        Some(list) if list.len() > MAX_FILTER_ITEMS => {
            return Err(OpError::invalid(
                "authorizer_appids",
                "at most 100 accounts",
                "最多 100 个账号",
            ))
        }
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for raw in list {
                let appid =
                    crate::domain::AppId::parse("authorizer_appids", raw.trim()).map_err(|e| {
                        OpError::invalid("authorizer_appids", e, "账号 appid 格式不正确")
                    })?;
                if !out.contains(&String::from(appid.clone())) {
                    out.push(appid.into());
                }
            }
            Some(out)
        }
    };
    let types = match &req.event_types {
        None => None,
        Some(list) if list.is_empty() || list.iter().any(|t| t.trim() == "*") => None,
        Some(list) if list.len() > MAX_FILTER_ITEMS => {
            return Err(OpError::invalid(
                "event_types",
                "at most 100 event types",
                "最多 100 个事件类型",
            ))
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for raw in list {
                let t = raw.trim();
                if !event_type_pattern(t) {
                    return Err(OpError::invalid(
                        "event_types",
                        format!("{t:?} is not an event type (like wechat.message.text or wechat.event.*)"),
                        "事件类型格式不正确（例如 wechat.message.text 或 wechat.event.*）",
                    ));
                }
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_owned());
                }
            }
            Some(out)
        }
    };
    let mode = match req.mode.as_deref().map(str::trim) {
        None | Some("") => WebhookMode::Async,
        Some(m) => WebhookMode::parse(m).ok_or_else(|| {
            OpError::invalid(
                "mode",
                "mode must be async or reply",
                "模式必须是 async 或 reply",
            )
        })?,
    };
    Ok((url.to_string(), description, appids, types, mode))
}

fn public_id() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    format!("we_{}", hex::encode(bytes))
}

/// Whether text is an endpoint id (`we_` and 16 hex digits); anything else is never looked up.
pub fn endpoint_id_ok(raw: &str) -> bool {
    raw.len() == 19
        && raw.starts_with("we_")
        && raw[3..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn audit(who: &TenantActor, kind: AuditKind, summary: String, now: i64) -> NewAuditEvent {
    NewAuditEvent::new(who.actor.clone(), kind, Outcome::Ok, summary, now)
        .tenant(Some(who.tenant))
        .ip(who.ip)
}

/// Registers an endpoint; returns it with its secret (shown once).
pub async fn create(
    store: &Store,
    who: &TenantActor,
    req: &EndpointRequest,
    allow_private: bool,
    now: i64,
) -> Result<(WebhookEndpoint, SecretString), OpError> {
    let (url, description, appids, types, mode) = validate(req, allow_private).await?;
    if store.list_webhook_endpoints(who.tenant).await?.len() >= MAX_ENDPOINTS {
        return Err(OpError::invalid(
            "url",
            "a tenant has at most 20 webhook endpoints; delete one first",
            "每个租户最多 20 个 Webhook 端点，请先删除一个",
        ));
    }
    let id = public_id();
    let secret = signing::new_secret();
    let audit = audit(
        who,
        AuditKind::WebhookEndpointCreated,
        format!("{} added the webhook endpoint {id}", super::named(&who.actor)),
        now,
    )
    .detail(json!({ "endpoint_id": id, "url": url, "mode": mode.as_str(), "event_types": types, "authorizer_appids": appids }));
    let endpoint = store
        .create_webhook_endpoint(
            &NewWebhookEndpoint {
                tenant: who.tenant,
                public_id: &id,
                url: &url,
                description: &description,
                authorizer_appids: appids.as_deref(),
                event_types: types.as_deref(),
                mode,
                secret: &secret,
            },
            &audit,
            now,
        )
        .await?;
    Ok((endpoint, secret))
}

fn check_id(id: &str) -> Result<(), OpError> {
    if endpoint_id_ok(id) {
        Ok(())
    } else {
        Err(OpError::NotFound)
    }
}

/// Removes an endpoint; what it had not received yet ends as dead letters.
pub async fn delete(store: &Store, who: &TenantActor, id: &str, now: i64) -> Result<(), OpError> {
    check_id(id)?;
    let audit = audit(
        who,
        AuditKind::WebhookEndpointDeleted,
        format!(
            "{} deleted the webhook endpoint {id}",
            super::named(&who.actor)
        ),
        now,
    )
    .detail(json!({ "endpoint_id": id }));
    if store
        .delete_webhook_endpoint(who.tenant, id, &audit, now)
        .await?
    {
        Ok(())
    } else {
        Err(OpError::NotFound)
    }
}

/// Gives an endpoint a new secret (returned once); the old one signs alongside for a day.
pub async fn rotate_secret(
    store: &Store,
    who: &TenantActor,
    id: &str,
    now: i64,
) -> Result<SecretString, OpError> {
    check_id(id)?;
    let secret = signing::new_secret();
    let overlap_until = now + SECRET_OVERLAP.as_millis() as i64;
    let audit = audit(
        who,
        AuditKind::WebhookSecretRotated,
        format!(
            "{} rotated the secret of webhook endpoint {id}",
            super::named(&who.actor)
        ),
        now,
    )
    .detail(json!({ "endpoint_id": id, "previous_valid_until": crate::rfc3339(overlap_until) }));
    if store
        .rotate_webhook_secret(who.tenant, id, &secret, overlap_until, &audit, now)
        .await?
    {
        Ok(secret)
    } else {
        Err(OpError::NotFound)
    }
}

/// Turns an endpoint on (clearing its failure run) or off.
pub async fn set_enabled(
    store: &Store,
    who: &TenantActor,
    id: &str,
    enabled: bool,
    now: i64,
) -> Result<(), OpError> {
    check_id(id)?;
    let (kind, verb) = if enabled {
        (AuditKind::WebhookEndpointEnabled, "turned on")
    } else {
        (AuditKind::WebhookEndpointDisabled, "turned off")
    };
    let audit = audit(
        who,
        kind,
        format!(
            "{} {verb} the webhook endpoint {id}",
            super::named(&who.actor)
        ),
        now,
    )
    .detail(json!({ "endpoint_id": id }));
    if store
        .set_webhook_endpoint_enabled(who.tenant, id, enabled, &audit, now)
        .await?
    {
        Ok(())
    } else {
        Err(OpError::NotFound)
    }
}

/// Replays an endpoint's dead letters (the ones named, or all); counts them.
pub async fn replay(
    engine: &Engine,
    who: &TenantActor,
    id: &str,
    deliveries: Option<&[i64]>,
    now: i64,
) -> Result<u64, OpError> {
    check_id(id)?;
    if engine
        .store
        .webhook_endpoint(who.tenant, id)
        .await?
        .is_none()
    {
        return Err(OpError::NotFound);
    }
    let audit = audit(
        who,
        AuditKind::WebhookDeliveriesReplayed,
        format!(
            "{} replayed dead deliveries of webhook endpoint {id}",
            super::named(&who.actor)
        ),
        now,
    )
    .detail(json!({ "endpoint_id": id, "bulk": deliveries.is_none() }));
    let give_up_at = now + engine.settings.webhooks.retry_window.as_millis() as i64;
    let n = engine
        .store
        .replay_dead_deliveries(who.tenant, id, deliveries, give_up_at, &audit, now)
        .await?;
    if n > 0 {
        engine.wake_webhooks();
    }
    Ok(n)
}

/// Queues a `wxhub.test` event to one endpoint (whatever its filters); returns the event id.
pub async fn send_test(
    engine: &Engine,
    who: &TenantActor,
    id: &str,
    now: i64,
) -> Result<String, OpError> {
    check_id(id)?;
    let Some(endpoint) = engine.store.webhook_endpoint(who.tenant, id).await? else {
        return Err(OpError::NotFound);
    };
    let event_id = crate::webhooks::new_event_id();
    let body = json!({
        "type": crate::webhooks::TEST_EVENT_TYPE,
        "timestamp": crate::rfc3339(now),
        "data": { "endpoint_id": endpoint.public_id, "message": "A test event from wxhub. 来自 wxhub 的测试事件。" }
    })
    .to_string();
    let delivery = crate::store::NewDelivery {
        tenant: who.tenant,
        endpoint_id: endpoint.id,
        event_id: event_id.clone(),
        event_type: crate::webhooks::TEST_EVENT_TYPE.to_owned(),
        authorizer_appid: None,
        payload: SecretString::from(body),
        run_at: now,
        give_up_at: now + engine.settings.webhooks.retry_window.as_millis() as i64,
    };
    engine.store.enqueue_deliveries(&[delivery], now).await?;
    let audit = audit(
        who,
        AuditKind::WebhookTestSent,
        format!(
            "{} sent a test event to webhook endpoint {id}",
            super::named(&who.actor)
        ),
        now,
    )
    .detail(json!({ "endpoint_id": id, "event_id": event_id }));
    engine.store.append_audit(&audit).await?;
    engine.wake_webhooks();
    Ok(event_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        for ok in [
            "wechat.message.text",
            "wechat.event.*",
            "wechat.*",
            "*",
            "wxhub.test",
        ] {
            assert!(event_type_pattern(ok), "{ok}");
        }
        for bad in [
            "",
            "message.text",
            "wechat.Message",
            "wechat.a b",
            "wechat.x*y",
            "wechat.\u{0}",
        ] {
            assert!(!event_type_pattern(bad), "{bad:?}");
        }
        assert!(endpoint_id_ok("we_0123456789abcdef"));
        assert!(!endpoint_id_ok("we_0123456789ABCDEF"));
        assert!(!endpoint_id_ok("we_0123"));
        assert!(!endpoint_id_ok("../../etc/passwd"));
        assert!(endpoint_id_ok(&public_id()));
    }
}
