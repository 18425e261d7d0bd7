//! Tenant API keys: creating and revoking one (tenant admins in the console, and the CLI). The key
//! itself is shown once, to the caller; only its hash and prefix are stored.
//!
//! A revocation is in the database at once; API instances keep verified keys in memory for at most
//! `api::keys::KEY_TTL`, and the console also drops the key from its own instance's memory.

use super::{OpError, TenantActor};
use crate::auth::api_keys::{self, MintedKey};
use crate::domain::{Actor, ApiKey, ApiKeyId, AuditKind, NewAuditEvent, Outcome};
use crate::store::{NewApiKey, Store};
use app::model::ApiScope;
use serde_json::json;

/// Mints a key for the acting tenant with the named scopes, audited as `api_key.created` (the
/// store adds the key's id, name, prefix and scopes as its detail) whoever asked.
pub async fn create(
    store: &Store,
    who: &TenantActor,
    name: &str,
    scopes: &[String],
    now: i64,
) -> Result<(ApiKey, MintedKey), OpError> {
    let name = app::validate::api_key_name(name)
        .map_err(|(field, en, zh)| OpError::invalid(field, en, zh))?;
    let scopes = app::validate::api_key_scopes(scopes)
        .map_err(|(field, en, zh)| OpError::invalid(field, en, zh))?;
    let minted = api_keys::mint();
    let created_by = match &who.actor {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    };
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::ApiKeyCreated,
        Outcome::Ok,
        format!("{} created the API key {name:?}", super::named(&who.actor)),
        now,
    )
    .tenant(Some(who.tenant))
    .ip(who.ip);
    let key = store
        .create_api_key(
            &NewApiKey {
                tenant_id: who.tenant,
                name: &name,
                prefix: &minted.prefix,
                key_hash: &minted.hash,
                scopes: &scopes,
                created_by,
            },
            audit,
            now,
        )
        .await?;
    Ok((key, minted))
}

/// Replaces the scopes of a live key of the acting tenant, audited as `api_key.scopes_changed`
/// with `{api_key_id, name, prefix, before, after}`. API instances apply the change within
/// `api::keys::KEY_TTL` (this instance at once, through `KeyRevocations::forget`).
pub async fn set_scopes(
    store: &Store,
    who: &TenantActor,
    key: KeyRef<'_>,
    scopes: &[String],
    now: i64,
) -> Result<ApiKey, OpError> {
    let scopes = app::validate::api_key_scopes(scopes)
        .map_err(|(field, en, zh)| OpError::invalid(field, en, zh))?;
    let found = find(store, who, key).await?;
    if found.revoked_at.is_some() {
        return Err(OpError::invalid(
            "scopes",
            "this key is revoked; make a new one",
            "该密钥已撤销，请新建一个",
        ));
    }
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::ApiKeyScopesChanged,
        Outcome::Ok,
        format!(
            "{} set the scopes of the API key {:?} ({}) to {}",
            super::named(&who.actor),
            found.name,
            found.prefix,
            ApiScope::join(&scopes)
        ),
        now,
    )
    .tenant(Some(who.tenant))
    .ip(who.ip)
    .detail(json!({
        "api_key_id": found.id.0,
        "name": found.name,
        "prefix": found.prefix,
        "before": ApiScope::join(&found.scopes),
        "after": ApiScope::join(&scopes),
    }));
    if !store
        .set_api_key_scopes(who.tenant, found.id, &scopes, audit)
        .await?
    {
        // Revoked in between.
        return Err(OpError::NotFound);
    }
    Ok(ApiKey { scopes, ..found })
}

/// The tenant's key named by id or prefix; a prefix two keys share is refused.
async fn find(store: &Store, who: &TenantActor, key: KeyRef<'_>) -> Result<ApiKey, OpError> {
    let keys = store.list_api_keys(who.tenant).await?;
    let mut matching = keys.into_iter().filter(|k| match key {
        KeyRef::Id(id) => k.id == id,
        KeyRef::Prefix(p) => k.prefix == p,
    });
    let Some(found) = matching.next() else {
        return Err(OpError::NotFound);
    };
    if matching.next().is_some() {
        return Err(OpError::invalid(
            "prefix",
            "two keys of this tenant share this prefix; use the console",
            "该租户有两个密钥前缀相同，请在控制台操作",
        ));
    }
    Ok(found)
}

/// Which key to revoke: by id (the console's rows) or by the prefix shown in lists (the CLI).
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    Id(ApiKeyId),
    Prefix(&'a str),
}

/// Revokes a key of the acting tenant, audited as `api_key.revoked` with `{api_key_id, name,
/// prefix}` whoever asked. Revoking a revoked key changes nothing and is not an error; another
/// tenant's key is not found.
pub async fn revoke(
    store: &Store,
    who: &TenantActor,
    key: KeyRef<'_>,
    now: i64,
) -> Result<ApiKey, OpError> {
    let found = find(store, who, key).await?;
    if found.revoked_at.is_some() {
        return Ok(found);
    }
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::ApiKeyRevoked,
        Outcome::Ok,
        format!(
            "{} revoked the API key {:?} ({})",
            super::named(&who.actor),
            found.name,
            found.prefix
        ),
        now,
    )
    .tenant(Some(who.tenant))
    .ip(who.ip)
    .detail(json!({ "api_key_id": found.id.0, "name": found.name, "prefix": found.prefix }));
    // False only when it was revoked in between: the same end state.
    store
        .revoke_api_key(who.tenant, found.id, audit, now)
        .await?;
    Ok(ApiKey {
        revoked_at: Some(found.revoked_at.unwrap_or(now)),
        ..found
    })
}
