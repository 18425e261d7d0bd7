//! The console's Webhooks page and an account's recent messages: tenant admins add, turn on or
//! off, test and delete endpoints and replay dead letters; viewers read the endpoints, their
//! delivery logs and the messages. Every change goes through `ops::webhooks`, the same operations
//! the tenant API calls.

use app::dto::{
    CreatedWebhookEndpoint, MessageView, NewWebhookForm, WebhookDeliveryView, WebhookEndpointView,
};
use app::error::AppError;
use app::services::RequestCtx;
use secrecy::ExposeSecret;

use super::{op_error, store_error, Console};
use crate::ops::webhooks::{self, EndpointRequest};
use crate::store::{DeliveryFilter, DeliveryRow, WebhookEndpoint};

/// Deliveries one log page shows.
const LOG_ROWS: i64 = 50;
/// Deliveries the staff page shows.
const STAFF_ROWS: i64 = 100;
/// Messages an account's page shows.
const MESSAGE_ROWS: i64 = 30;

pub(super) fn endpoint_view(e: WebhookEndpoint) -> WebhookEndpointView {
    WebhookEndpointView {
        id: e.public_id,
        url: e.url,
        description: e.description,
        mode: e.mode.as_str().to_owned(),
        enabled: e.disabled_at.is_none(),
        disabled_reason: e.disabled_reason,
        consecutive_failures: e.consecutive_failures,
        event_types: e.event_types,
        authorizer_appids: e.authorizer_appids,
        created_at: e.created_at,
    }
}

pub(super) fn delivery_view(d: DeliveryRow, tenant: Option<String>) -> WebhookDeliveryView {
    WebhookDeliveryView {
        next_attempt_at: (d.status == "pending").then_some(d.run_at),
        id: d.id,
        tenant,
        endpoint_id: d.endpoint_public_id,
        url: d.url,
        event_id: d.event_id,
        event_type: d.event_type,
        authorizer_appid: d.authorizer_appid,
        status: d.status,
        attempts: d.attempts,
        last_attempt_at: d.last_attempt_at,
        last_status_code: d.last_status_code,
        last_latency_ms: d.last_latency_ms,
        last_error: d.last_error,
        last_response_excerpt: d.last_response_excerpt,
        created_at: d.created_at,
    }
}

fn status_filter(status: Option<String>) -> Result<Option<&'static str>, AppError> {
    match status.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("pending") => Ok(Some("pending")),
        Some("running") => Ok(Some("running")),
        Some("delivered") => Ok(Some("delivered")),
        Some("dead") => Ok(Some("dead")),
        Some(_) => Err(AppError::invalid_bilingual(
            "status",
            "status must be pending, running, delivered or dead",
            "状态必须是 pending、running、delivered 或 dead",
        )),
    }
}

pub(super) async fn endpoints(
    console: &Console,
    ctx: &RequestCtx,
) -> Result<Vec<WebhookEndpointView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    Ok(console
        .store
        .list_webhook_endpoints(tenant)
        .await
        .map_err(store_error("webhook endpoints could not be read"))?
        .into_iter()
        .map(endpoint_view)
        .collect())
}

pub(super) async fn create(
    console: &Console,
    ctx: &RequestCtx,
    form: NewWebhookForm,
) -> Result<CreatedWebhookEndpoint, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    let types: Vec<String> = form
        .event_types
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let request = EndpointRequest {
        url: form.url,
        description: Some(form.description),
        authorizer_appids: None,
        event_types: (!types.is_empty()).then_some(types),
        mode: Some(form.mode),
    };
    let (endpoint, secret) = webhooks::create(
        &console.store,
        &who,
        &request,
        console.engine.webhook_sender.allow_private(),
        crate::now_ms(),
    )
    .await
    .map_err(op_error("a webhook endpoint could not be added"))?;
    Ok(CreatedWebhookEndpoint {
        endpoint: endpoint_view(endpoint),
        secret: secret.expose_secret().to_owned(),
    })
}

pub(super) async fn delete(console: &Console, ctx: &RequestCtx, id: &str) -> Result<(), AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    webhooks::delete(&console.store, &who, id, crate::now_ms())
        .await
        .map_err(op_error("a webhook endpoint could not be deleted"))
}

pub(super) async fn set_enabled(
    console: &Console,
    ctx: &RequestCtx,
    id: &str,
    enabled: bool,
) -> Result<(), AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    webhooks::set_enabled(&console.store, &who, id, enabled, crate::now_ms())
        .await
        .map_err(op_error("a webhook endpoint could not be changed"))
}

pub(super) async fn send_test(
    console: &Console,
    ctx: &RequestCtx,
    id: &str,
) -> Result<String, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    webhooks::send_test(&console.engine, &who, id, crate::now_ms())
        .await
        .map_err(op_error("a test event could not be sent"))
}

pub(super) async fn deliveries(
    console: &Console,
    ctx: &RequestCtx,
    id: &str,
    status: Option<String>,
) -> Result<Vec<WebhookDeliveryView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let status = status_filter(status)?;
    if !webhooks::endpoint_id_ok(id) {
        return Err(AppError::NotFound);
    }
    Ok(console
        .store
        .list_deliveries(&DeliveryFilter {
            tenant: Some(tenant),
            endpoint_public_id: Some(id),
            status,
            before_id: None,
            limit: LOG_ROWS,
        })
        .await
        .map_err(store_error("deliveries could not be read"))?
        .into_iter()
        .map(|d| delivery_view(d, None))
        .collect())
}

/// Every tenant's newest deliveries, for platform staff (the caller checked the role), each named
/// with its tenant.
pub(super) async fn all_deliveries(
    console: &Console,
    tenants: &std::collections::HashMap<crate::domain::TenantId, (String, String)>,
    status: Option<String>,
) -> Result<Vec<WebhookDeliveryView>, AppError> {
    let status = status_filter(status)?;
    Ok(console
        .store
        .list_deliveries(&DeliveryFilter {
            tenant: None,
            endpoint_public_id: None,
            status,
            before_id: None,
            limit: STAFF_ROWS,
        })
        .await
        .map_err(store_error("deliveries could not be read"))?
        .into_iter()
        .map(|d| {
            let tenant = tenants
                .get(&crate::domain::TenantId(d.tenant_id))
                .map(|(_, name)| name.clone());
            delivery_view(d, tenant)
        })
        .collect())
}

pub(super) async fn replay(
    console: &Console,
    ctx: &RequestCtx,
    id: &str,
    delivery: Option<i64>,
) -> Result<u64, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    let ids = delivery.map(|d| vec![d]);
    webhooks::replay(&console.engine, &who, id, ids.as_deref(), crate::now_ms())
        .await
        .map_err(op_error("deliveries could not be replayed"))
}

/// The text worth showing in a list: a text message's content, an event's key, or nothing.
fn message_summary(xml: &str) -> String {
    let Ok(m) = crate::wechat::xml::parse_account_message(xml.as_bytes()) else {
        return String::new();
    };
    let text = m
        .content()
        .or_else(|| m.root.child_text("EventKey"))
        .or_else(|| m.root.child_text("Title"))
        .or_else(|| m.root.child_text("Label"))
        .unwrap_or("");
    text.chars().take(120).collect()
}

pub(super) async fn account_messages(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<Vec<MessageView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let appid = crate::domain::AppId::parse("appid", appid).map_err(|_| AppError::NotFound)?;
    Ok(console
        .store
        .recent_messages(tenant, &appid, MESSAGE_ROWS)
        .await
        .map_err(store_error("messages could not be read"))?
        .into_iter()
        .map(|m| MessageView {
            summary: message_summary(&m.xml),
            id: m.id,
            msg_type: m.msg_type,
            event: m.event,
            from_user: m.from_user,
            received_at: m.received_at,
            xml: m.xml,
        })
        .collect())
}
