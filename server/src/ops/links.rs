//! Authorization links: creating one, for the console (a tenant admin) and the tenant API (a key),
//! and revoking one (the console).

use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;

use super::{OpError, TenantActor};
use crate::domain::{AuditKind, AuthorizationLink, ComponentId, LinkId, NewAuditEvent, Outcome};
use crate::store::{LinkRecord, Store};

/// The shortest and longest a link may live.
pub const MIN_LIFETIME_MS: i64 = 60_000;
pub const MAX_LIFETIME_MS: i64 = app::validate::LINK_MAX_HOURS as i64 * 3_600_000;

/// Which component the link is for.
#[derive(Debug, Clone)]
pub enum ComponentRef {
    /// As the console's form names it.
    Id(ComponentId),
    /// As the tenant API names it.
    Appid(String),
    /// The tenant's only usable component (the API lets callers leave it out).
    TheOnlyOne,
}

/// A link to create.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub component: ComponentRef,
    /// 1 Official Accounts, 2 Mini Programs, 3 both.
    pub auth_type: u8,
    pub biz_appid: Option<String>,
    pub note: String,
    /// How long until it expires; `None`: it does not.
    pub expires_in_ms: Option<i64>,
}

/// Creates a link of the acting tenant on a component it may use (its own or a shared one, active),
/// audited as `link.created` with the same detail from every edge.
pub async fn create(
    store: &Store,
    who: &TenantActor,
    new: NewLink,
    now: i64,
) -> Result<AuthorizationLink, OpError> {
    if !(1..=3).contains(&new.auth_type) {
        return Err(OpError::invalid(
            "auth_type",
            "1 (Official Accounts), 2 (Mini Programs) or 3 (both)",
            "应为 1（公众号）、2（小程序）或 3（两者）",
        ));
    }
    let biz_appid = app::validate::link_biz_appid(new.biz_appid.as_deref().unwrap_or(""))
        .map_err(|(en, zh)| OpError::invalid("biz_appid", en, zh))?;
    let note =
        app::validate::link_note(&new.note).map_err(|(en, zh)| OpError::invalid("note", en, zh))?;
    if let Some(ms) = new.expires_in_ms {
        if !(MIN_LIFETIME_MS..=MAX_LIFETIME_MS).contains(&ms) {
            return Err(OpError::invalid(
                "expires_in",
                format!(
                    "seconds from {} to {}, or none for a link that does not expire",
                    MIN_LIFETIME_MS / 1000,
                    MAX_LIFETIME_MS / 1000
                ),
                format!(
                    "有效期应为 {} 到 {} 秒，或不设（不过期）",
                    MIN_LIFETIME_MS / 1000,
                    MAX_LIFETIME_MS / 1000
                ),
            ));
        }
    }
    let usable: Vec<_> = store
        .list_components_for_tenant(who.tenant)
        .await?
        .into_iter()
        .filter(|c| c.active)
        .collect();
    let component = match &new.component {
        ComponentRef::Id(id) => usable.iter().find(|c| c.id == *id).ok_or_else(|| {
            OpError::invalid("component_id", "choose a component", "请选择第三方平台")
        })?,
        ComponentRef::Appid(appid) => {
            usable.iter().find(|c| c.appid == *appid).ok_or_else(|| {
                OpError::invalid(
                    "component_appid",
                    "not a component this tenant may use (its own or a shared one, active)",
                    "不是本租户可用的第三方平台（自有或共享，且已启用）",
                )
            })?
        }
        ComponentRef::TheOnlyOne => match usable.as_slice() {
            [only] => only,
            [] => {
                return Err(OpError::invalid(
                    "component_appid",
                    "the tenant has no active component to authorize",
                    "本租户没有可用于授权的第三方平台",
                ))
            }
            _ => {
                return Err(OpError::invalid(
                    "component_appid",
                    "the tenant may use several components; name one",
                    "本租户可用多个第三方平台，请指定一个",
                ))
            }
        },
    };
    let expires_at = new.expires_in_ms.map(|ms| now + ms);
    let public_id = Alphanumeric.sample_string(&mut rand::thread_rng(), 22);
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::LinkCreated,
        Outcome::Ok,
        format!(
            "{} created an authorization link for {}",
            super::named(&who.actor),
            component.appid
        ),
        now,
    )
    .tenant(Some(who.tenant))
    .component(component.id)
    .ip(who.ip)
    .detail(json!({
        "component_appid": component.appid,
        "auth_type": new.auth_type,
        "biz_appid": biz_appid,
        "expires_at": expires_at,
        "note": note,
    }));
    Ok(store
        .create_link(
            who.tenant,
            component.id,
            &public_id,
            new.auth_type,
            biz_appid.as_deref(),
            &note,
            expires_at,
            &audit,
            now,
        )
        .await?)
}

/// Revokes a link of the acting tenant, audited as `link.revoked` with `{link_id, public_id}`
/// whoever asked. Revoking twice is not an error (the link is revoked either way, and audited
/// once); another tenant's link is not found.
pub async fn revoke(
    store: &Store,
    who: &TenantActor,
    id: LinkId,
    now: i64,
) -> Result<LinkRecord, OpError> {
    let record = store.link(who.tenant, id).await?.ok_or(OpError::NotFound)?;
    if record.link.revoked_at.is_some() {
        return Ok(record);
    }
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::LinkRevoked,
        Outcome::Ok,
        format!(
            "{} revoked the authorization link {}",
            super::named(&who.actor),
            record.link.public_id
        ),
        now,
    )
    .tenant(Some(who.tenant))
    .component(record.link.component_id)
    .ip(who.ip)
    .detail(json!({ "link_id": id.0, "public_id": record.link.public_id }));
    store.revoke_link(who.tenant, id, &audit, now).await?;
    Ok(record)
}
