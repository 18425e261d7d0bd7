//! Tenant API keys: creating and revoking one (tenant admins in the console, and the CLI). The key
//! itself is shown once, to the caller; only its hash and prefix are stored.
//!
//! A revocation is in the database at once; API instances keep verified keys in memory for at most
//! `api::keys::KEY_TTL`, and the console also drops the key from its own instance's memory.

use super::{OpError, TenantActor};
use crate::auth::api_keys::{self, MintedKey};
use crate::domain::{Actor, ApiKey, ApiKeyId, AuditKind, NewAuditEvent, Outcome};
use crate::store::{NewApiKey, Store};
use serde_json::json;

/// Mints a key for the acting tenant, audited as `api_key.created` (the store adds the key's id,
/// name and prefix as its detail) whoever asked.
pub async fn create(
    store: &Store,
    who: &TenantActor,
    name: &str,
    now: i64,
) -> Result<(ApiKey, MintedKey), OpError> {
    let name = app::validate::api_key_name(name)
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
                created_by,
            },
            audit,
            now,
        )
        .await?;
    Ok((key, minted))
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
            "two keys of this tenant share this prefix; revoke by id in the console",
            "该租户有两个密钥前缀相同，请在控制台按行撤销",
        ));
    }
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
