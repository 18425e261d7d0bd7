//! Recording what WeChat says an account's menu is, as a version when it changed: the original on
//! authorization (called by the engine's `fetch_menu` job), on demand and before each publish
//! (called by `ops::menus`). It needs only the store, so the engine's jobs can call it without
//! the operations that call the engine.

use app::menu::{self, SelfMenu};
use serde_json::{json, Value};

use crate::domain::{Actor, AuditKind, ComponentId, NewAuditEvent, Outcome, TenantId};
use crate::store::{MenuSource, MenuVersion, NewMenuVersion, Store, StoreError};

/// The account a menu operation is for, already checked to be the tenant's.
#[derive(Debug, Clone)]
pub struct MenuAccount {
    pub tenant: TenantId,
    pub component: ComponentId,
    pub appid: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// WeChat's answer was not a menu.
    #[error("WeChat's menu could not be read: {0}")]
    Malformed(String),
}

/// Records a fetched menu unless the newest version already holds it.
pub async fn record_fetched(
    store: &Store,
    account: &MenuAccount,
    selfmenu_raw: &Value,
    menu_get: Option<&Value>,
    actor_label: &str,
    note: &str,
) -> Result<MenuVersion, RecordError> {
    let selfmenu: SelfMenu = serde_json::from_value(selfmenu_raw.clone())
        .map_err(|e| RecordError::Malformed(e.to_string()))?;
    let mapped = menu::map_selfmenu(&selfmenu);
    let menu_json = to_json(&mapped.menu);
    let selfmenu_json = selfmenu_raw.to_string();
    let menu_get_json = menu_get.map(Value::to_string);
    let (tenant, component, appid) = (account.tenant, account.component, &account.appid);
    let newest = store
        .latest_menu_version(tenant, component, appid, None)
        .await?;
    if let Some(newest) = newest {
        // The conditional menus are only in read versions: compare with the newest of those.
        let last_read = match newest.source {
            MenuSource::Fetched => Some(newest.clone()),
            _ => {
                store
                    .latest_menu_version(tenant, component, appid, Some(MenuSource::Fetched))
                    .await?
            }
        };
        let same_menu = newest.menu_json == menu_json;
        let same_conditional = conditional_menus(menu_get_json.as_deref())
            == conditional_menus(last_read.as_ref().and_then(|v| v.menu_get_json.as_deref()));
        let same_reads = newest.source != MenuSource::Fetched
            || (newest.selfmenu_json.as_deref() == Some(selfmenu_json.as_str())
                && newest.menu_get_json == menu_get_json);
        if same_menu && same_conditional && same_reads {
            return Ok(newest);
        }
    }
    let now = crate::now_ms();
    let click_map_json = to_json(&mapped.click_map);
    let audit = NewAuditEvent::new(
        Actor::System,
        AuditKind::MenuSnapshotTaken,
        Outcome::Ok,
        format!(
            "the menu of {} was read from WeChat ({} items, {} mapped)",
            account.appid,
            selfmenu.lines().len(),
            mapped.click_map.len()
        ),
        now,
    )
    .tenant(Some(account.tenant))
    .component(account.component)
    .authorizer(&account.appid)
    .detail(json!({ "mapped_keys": mapped.click_map.len(), "dropped": mapped.dropped.len(), "why": note }));
    Ok(store
        .record_menu_version(
            &NewMenuVersion {
                tenant: account.tenant,
                component: account.component,
                appid: &account.appid,
                source: MenuSource::Fetched,
                selfmenu_json: Some(&selfmenu_json),
                menu_get_json: menu_get_json.as_deref(),
                menu_json: &menu_json,
                click_map_json: &click_map_json,
                based_on_version: None,
                actor_label,
                note,
            },
            Some(audit),
            now,
        )
        .await?)
}

/// The conditional menus in a `menu/get` answer (none when there is no answer).
fn conditional_menus(menu_get_json: Option<&str>) -> Value {
    menu_get_json
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v.get("conditionalmenu").cloned())
        .unwrap_or(Value::Null)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Menus and maps are plain data; serialising them cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}
