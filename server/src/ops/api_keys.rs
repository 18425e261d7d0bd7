//! Tenant API keys: creating one (tenant admins in the console, and the CLI). The key itself is
//! shown once, to the caller; only its hash and prefix are stored.

use super::{OpError, TenantActor};
use crate::auth::api_keys::{self, MintedKey};
use crate::domain::{Actor, ApiKey, NewAuditEvent, Outcome};
use crate::store::{NewApiKey, Store};

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
        "api_key.created",
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
