//! Components (third-party platforms): registering one, a tenant's own or a shared one, from the
//! console (tenant admins, platform admins) or the CLI.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::OpError;
use crate::domain::{
    Actor, AuditKind, Component, ComponentId, ComponentOwner, ComponentSecrets, NewAuditEvent,
    NewComponent, Outcome,
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
    let valid = validate(
        None,
        input.appid,
        input.name,
        [
            Some(input.token),
            Some(input.appsecret),
            Some(input.encoding_aes_key),
        ],
    )?;
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
        AuditKind::ComponentCreated,
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

/// A change to a registered component: its name, and whichever secrets are given (the others are
/// kept). The appid is said again so that a form edited for another component cannot land here.
pub struct ComponentChange<'a> {
    pub id: ComponentId,
    pub appid: &'a str,
    pub name: &'a str,
    pub token: Option<&'a SecretString>,
    pub appsecret: Option<&'a SecretString>,
    pub encoding_aes_key: Option<&'a SecretString>,
}

/// Renames a component of `scope` and replaces the secrets given, audited as `component.updated`
/// with `{appid, name, replaced}` (the names of the replaced secrets, never their values) whoever
/// asked. A shared component is seen by tenants but changed only by platform admins (forbidden);
/// another tenant's is not found. The caller drops the engine's cached copy of the component.
pub async fn update(
    store: &Store,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    scope: ComponentOwner,
    change: ComponentChange<'_>,
    now: i64,
) -> Result<Component, OpError> {
    let valid = validate(
        Some(change.id),
        change.appid,
        change.name,
        [change.token, change.appsecret, change.encoding_aes_key],
    )?;
    let existing = store
        .component_by_id(change.id)
        .await?
        .ok_or(OpError::NotFound)?;
    match (scope, existing.owner) {
        (s, o) if s == o => {}
        (ComponentOwner::Tenant(_), ComponentOwner::Platform) => return Err(OpError::Forbidden),
        _ => return Err(OpError::NotFound),
    }
    if existing.appid != valid.appid {
        return Err(OpError::invalid(
            "appid",
            "the appid of a component cannot change; add a new component instead",
            "第三方平台的 appid 不能修改，请新增",
        ));
    }
    let replaced: Vec<&str> = [
        ("token", valid.token.is_some()),
        ("appsecret", valid.appsecret.is_some()),
        ("encoding_aes_key", valid.encoding_aes_key.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect();
    let audit = NewAuditEvent::new(
        actor.clone(),
        AuditKind::ComponentUpdated,
        Outcome::Ok,
        format!(
            "{} updated the component {} (secrets replaced: {replaced:?})",
            super::named(actor),
            existing.appid
        ),
        now,
    )
    .tenant(scope.tenant_id())
    .ip(ip)
    .detail(json!({ "appid": existing.appid, "name": valid.name, "replaced": replaced }));
    let secret = |v: Option<String>| v.map(SecretString::from);
    store
        .update_component(
            scope,
            existing.id,
            &valid.name,
            secret(valid.token).as_ref(),
            secret(valid.appsecret).as_ref(),
            secret(valid.encoding_aes_key).as_ref(),
            audit,
            now,
        )
        .await?
        .ok_or(OpError::NotFound)
}

/// The console form's rules (`app::validate::component_form`) over typed input. The secrets are
/// the message Token, the appsecret and the EncodingAESKey; one left out is missing (a create
/// refuses that) or kept (an update).
fn validate(
    id: Option<ComponentId>,
    appid: &str,
    name: &str,
    [token, appsecret, aes]: [Option<&SecretString>; 3],
) -> Result<app::validate::ValidComponentForm, OpError> {
    let shown = |s: Option<&SecretString>| s.map(|s| s.expose_secret().to_owned());
    let form = app::dto::ComponentForm {
        id: id.map(|i| i.0.to_string()).unwrap_or_default(),
        appid: appid.to_owned(),
        name: name.to_owned(),
        token: shown(token).unwrap_or_default(),
        appsecret: shown(appsecret).unwrap_or_default(),
        encoding_aes_key: shown(aes).unwrap_or_default(),
    };
    app::validate::component_form(&form).map_err(|(field, en, zh)| OpError::invalid(field, en, zh))
}
