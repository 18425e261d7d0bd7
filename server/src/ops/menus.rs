//! An account's custom menu: taking a snapshot of what WeChat holds, publishing a menu (an edit, a
//! roll-back to any version, the original restored as far as the API can), deleting a conditional
//! menu. Every write to WeChat is preceded by a snapshot of the live menu, so a menu someone made
//! in the account's backend since the last look is in the history before wxhub replaces it.
//!
//! Versions are never deleted; the click map of the newest published one is what the message relay
//! answers mapped CLICKs with (`Store::active_click_map`).

use app::menu::{self, ApiMenu, ClickMap, MenuProblem};
use secrecy::ExposeSecret;
use serde_json::json;

use super::menu_snapshots::to_json;
pub use super::menu_snapshots::{record_fetched, MenuAccount, RecordError};
use super::named;
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use crate::engine::Engine;
use crate::store::{MenuSource, MenuVersion, NewMenuVersion, StoreError};
use crate::wechat::api::WechatError;

/// Who acts, from where.
#[derive(Debug, Clone)]
pub struct MenuActor {
    pub actor: Actor,
    pub ip: Option<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum MenuError {
    /// The menu breaks WeChat's rules; nothing was sent.
    #[error("the menu breaks {} rule(s)", .0.len())]
    Invalid(Vec<MenuProblem>),
    /// The account has not granted menu management (set 15), or is a mini program.
    #[error("the account has not granted menu management (permission set 15)")]
    NoPermission,
    /// No access token yet (just authorized, or its refresh is failing).
    #[error("the account has no access token yet")]
    NoToken,
    #[error("no such menu version")]
    NoSuchVersion,
    /// The live menu changed since the edit began.
    #[error("the live menu is now version {live}")]
    Stale { live: i64 },
    /// WeChat refused or could not be reached.
    #[error(transparent)]
    Wechat(#[from] WechatError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// WeChat's answer was not a menu.
    #[error("WeChat's menu could not be read: {0}")]
    Malformed(String),
}

impl From<RecordError> for MenuError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Store(s) => MenuError::Store(s),
            RecordError::Malformed(m) => MenuError::Malformed(m),
        }
    }
}

async fn token(engine: &Engine, account: &MenuAccount) -> Result<String, MenuError> {
    engine
        .authorizer_token(account.component, &account.appid, crate::now_ms() + 5_000)
        .await
        .map_err(MenuError::from)?
        .map(|t| t.value.expose_secret().to_owned())
        .ok_or(MenuError::NoToken)
}

fn no_permission(e: WechatError) -> MenuError {
    match e.errcode() {
        Some(48001 | 61007) => MenuError::NoPermission,
        _ => MenuError::Wechat(e),
    }
}

/// Reads the live menu (`get_current_selfmenu_info` and `menu/get`) and records it as the next
/// version when it differs from the newest one; returns the version that holds it.
pub async fn snapshot(
    engine: &Engine,
    account: &MenuAccount,
    actor_label: &str,
    note: &str,
) -> Result<MenuVersion, MenuError> {
    let token = token(engine, account).await?;
    let selfmenu_raw = engine
        .client
        .get_current_selfmenu_info(&token)
        .await
        .map_err(no_permission)?
        .raw;
    let menu_get = engine
        .client
        .menu_get(&token)
        .await
        .map_err(no_permission)?;
    Ok(record_fetched(
        &engine.store,
        account,
        &selfmenu_raw,
        menu_get.as_ref(),
        actor_label,
        note,
    )
    .await?)
}

/// What a publish starts from.
#[derive(Debug, Clone)]
pub struct Publish {
    pub menu: ApiMenu,
    /// What mapped keys answer (entries whose key is not in `menu` are dropped); `None`: what
    /// the account's history knows of each key, the newest version first.
    pub click_map: Option<ClickMap>,
    pub based_on_version: Option<i64>,
    /// An edit: refused when the live menu is no longer this version (someone published, or the
    /// account's backend changed it, since the editor was opened).
    pub expect_live_version: Option<i64>,
    pub note: String,
}

/// Validates and publishes a menu (`menu/create`), after a snapshot of the live one; records the
/// new version with `menu.published`, or audits `menu.publish_failed` with WeChat's errcode. An
/// empty menu is published as `menu/delete`.
pub async fn publish(
    engine: &Engine,
    account: &MenuAccount,
    who: &MenuActor,
    publish: Publish,
) -> Result<MenuVersion, MenuError> {
    let delete = publish.menu.button.is_empty();
    if !delete {
        let problems = menu::validate(&publish.menu);
        if !problems.is_empty() {
            return Err(MenuError::Invalid(problems));
        }
    }
    let before = snapshot(engine, account, "wxhub", "read before a publish").await?;
    if let Some(expected) = publish.expect_live_version {
        if before.version != expected {
            return Err(MenuError::Stale {
                live: before.version,
            });
        }
    }
    let live: ApiMenu = serde_json::from_str(&before.menu_json).unwrap_or_default();
    let changes = menu::diff(&live.lines(), &publish.menu.lines())
        .into_iter()
        .filter(|d| d.change != menu::Change::Same)
        .count();
    let token = token(engine, account).await?;
    let menu_value =
        serde_json::to_value(&publish.menu).map_err(|e| MenuError::Malformed(e.to_string()))?;
    let sent = if delete {
        engine.client.menu_delete(&token).await
    } else {
        engine.client.menu_create(&token, menu_value).await
    };
    let now = crate::now_ms();
    let label = named(&who.actor);
    let base = |kind, outcome, summary: String| {
        NewAuditEvent::new(who.actor.clone(), kind, outcome, summary, now)
            .tenant(Some(account.tenant))
            .component(account.component)
            .authorizer(&account.appid)
            .ip(who.ip)
    };
    if let Err(e) = sent {
        let audit = base(
            AuditKind::MenuPublishFailed,
            Outcome::Failed,
            format!(
                "{label} could not publish a menu to {}: WeChat answered {}",
                account.appid,
                e.errcode().map_or_else(|| e.to_string(), |c| c.to_string())
            ),
        )
        .detail(json!({ "errcode": e.errcode(), "based_on_version": publish.based_on_version }));
        engine.store.append_audit(&audit).await?;
        return Err(MenuError::Wechat(e));
    }
    // The given map first; what the history knows for the keys it lacks (a version read back
    // after wxhub published it holds wxhub's keys with no map of its own).
    let mut click_map = known_click_map(engine, account, &publish.menu).await?;
    if let Some(map) = &publish.click_map {
        click_map.extend(menu::keep_mapped_keys(&publish.menu, map));
    }
    let audit = base(
        AuditKind::MenuPublished,
        Outcome::Ok,
        if delete {
            format!("{label} deleted the menu of {}", account.appid)
        } else {
            format!(
                "{label} published a menu to {} ({changes} change(s) against the live menu)",
                account.appid
            )
        },
    )
    .detail(json!({
        "based_on_version": publish.based_on_version,
        "changes": changes,
        "mapped_keys": click_map.len(),
        "note": publish.note,
    }));
    Ok(engine
        .store
        .record_menu_version(
            &NewMenuVersion {
                tenant: account.tenant,
                component: account.component,
                appid: &account.appid,
                source: if delete {
                    MenuSource::Deleted
                } else {
                    MenuSource::Published
                },
                selfmenu_json: None,
                menu_get_json: None,
                menu_json: &to_json(&publish.menu),
                click_map_json: &to_json(&click_map),
                based_on_version: publish.based_on_version,
                actor_label: &label,
                note: &publish.note,
            },
            Some(audit),
            now,
        )
        .await?)
}

/// What the keys of `menu` answer, from the newest version of the account that mapped each.
async fn known_click_map(
    engine: &Engine,
    account: &MenuAccount,
    menu: &ApiMenu,
) -> Result<ClickMap, MenuError> {
    let mut known = ClickMap::new();
    for version in engine
        .store
        .menu_versions(account.tenant, account.component, &account.appid)
        .await?
    {
        let Ok(map) = serde_json::from_str::<ClickMap>(&version.click_map_json) else {
            continue;
        };
        for (key, click) in map {
            known.entry(key).or_insert(click);
        }
    }
    Ok(menu::keep_mapped_keys(menu, &known))
}

/// Publishes an earlier version again: its menu and its click map. The first version is the
/// original; publishing it restores the original as far as the API can (backend-only items as
/// their mapped clicks, which answer the same; no menu at all as `menu/delete`).
pub async fn roll_back(
    engine: &Engine,
    account: &MenuAccount,
    who: &MenuActor,
    version: i64,
) -> Result<MenuVersion, MenuError> {
    let target = engine
        .store
        .menu_version(account.tenant, account.component, &account.appid, version)
        .await?
        .ok_or(MenuError::NoSuchVersion)?;
    let original = engine
        .store
        .first_menu_version(account.tenant, account.component, &account.appid)
        .await?
        .map(|v| v.version);
    let menu: ApiMenu =
        serde_json::from_str(&target.menu_json).map_err(|e| MenuError::Malformed(e.to_string()))?;
    let click_map: ClickMap = serde_json::from_str(&target.click_map_json)
        .map_err(|e| MenuError::Malformed(e.to_string()))?;
    let note = if Some(version) == original {
        "restore the original".to_owned()
    } else {
        format!("roll back to version {version}")
    };
    publish(
        engine,
        account,
        who,
        Publish {
            menu,
            click_map: Some(click_map),
            based_on_version: Some(version),
            expect_live_version: None,
            note,
        },
    )
    .await
}

/// Deletes one conditional menu, then records the menu as it is now.
pub async fn delete_conditional(
    engine: &Engine,
    account: &MenuAccount,
    who: &MenuActor,
    menuid: &str,
) -> Result<MenuVersion, MenuError> {
    let token = token(engine, account).await?;
    engine
        .client
        .menu_delete_conditional(&token, menuid)
        .await
        .map_err(no_permission)?;
    let now = crate::now_ms();
    let audit = NewAuditEvent::new(
        who.actor.clone(),
        AuditKind::MenuConditionalDeleted,
        Outcome::Ok,
        format!(
            "{} deleted the conditional menu {menuid} of {}",
            named(&who.actor),
            account.appid
        ),
        now,
    )
    .tenant(Some(account.tenant))
    .component(account.component)
    .authorizer(&account.appid)
    .ip(who.ip)
    .detail(json!({ "menuid": menuid }));
    engine.store.append_audit(&audit).await?;
    snapshot(
        engine,
        account,
        &named(&who.actor),
        "read after deleting a conditional menu",
    )
    .await
}
