//! Components (third-party platforms): registering one, a tenant's own or a shared one, from the
//! console (tenant admins, platform admins) or the CLI.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::OpError;
use crate::domain::{
    Actor, Component, ComponentOwner, ComponentSecrets, NewAuditEvent, NewComponent, Outcome,
};
use crate::store::Store;

/// What registering a component needs; every secret is required.
pub struct NewComponentInput<'a> {
    pub appid: &'a str,
    pub name: &'a str,
    pub token: &'a SecretString,
    pub appsecret: &'a SecretString,
    pub encoding_aes_key: &'a SecretString,
}

/// Registers a component for `owner`, audited as `component.created` with `{appid, shared}`
/// whoever asked. The rules are the console form's (`app::validate::component_form`).
pub async fn create(
    store: &Store,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    owner: ComponentOwner,
    input: NewComponentInput<'_>,
    now: i64,
) -> Result<Component, OpError> {
    let form = app::dto::ComponentForm {
        id: String::new(),
        appid: input.appid.to_owned(),
        name: input.name.to_owned(),
        token: input.token.expose_secret().to_owned(),
        appsecret: input.appsecret.expose_secret().to_owned(),
        encoding_aes_key: input.encoding_aes_key.expose_secret().to_owned(),
    };
    let valid = app::validate::component_form(&form)
        .map_err(|(field, en, zh)| OpError::invalid(field, en, zh))?;
    let (Some(token), Some(appsecret), Some(aes)) =
        (valid.token, valid.appsecret, valid.encoding_aes_key)
    else {
        return Err(OpError::invalid(
            "token",
            "every secret is required",
            "所有密钥均为必填",
        ));
    };
    let shared = owner == ComponentOwner::Platform;
    let audit = NewAuditEvent::new(
        actor.clone(),
        "component.created",
        Outcome::Ok,
        format!(
            "{} added the component {}{}",
            super::named(actor),
            valid.appid,
            if shared { " (shared)" } else { "" }
        ),
        now,
    )
    .tenant(owner.tenant_id())
    .ip(ip)
    .detail(json!({ "appid": valid.appid, "shared": shared }));
    store
        .create_component(
            &NewComponent {
                appid: valid.appid.clone(),
                owner,
                name: valid.name,
                secrets: ComponentSecrets {
                    message_token: SecretString::from(token),
                    appsecret: SecretString::from(appsecret),
                    encoding_aes_key: SecretString::from(aes),
                    previous_encoding_aes_key: None,
                },
            },
            audit,
            now,
        )
        .await
        .map_err(|e| {
            if e.is_conflict_on("appid") {
                OpError::Conflict {
                    field: "appid",
                    en: format!(
                        "a component with appid {} is already registered",
                        valid.appid
                    ),
                    zh: "该 appid 已登记".into(),
                }
            } else {
                e.into()
            }
        })
}
