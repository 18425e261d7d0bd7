//! Menu versions of an account: what wxhub read from WeChat and what it published, numbered per
//! (component, account), never deleted (an unauthorized account keeps its history). The message
//! relay reads the click map in effect from here; the console reads the history.

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{ComponentId, NewAuditEvent, TenantId};

const COLUMNS: &str =
    "id, tenant_id, component_id, authorizer_appid, version, source, selfmenu_json, \
     menu_get_json, menu_json, click_map_json, based_on_version, actor_label, note, created_at";

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuSource {
    /// Read from WeChat.
    Fetched,
    /// Sent with `menu/create` by wxhub.
    Published,
    /// Removed with `menu/delete` by wxhub (restoring an original that had no menu).
    Deleted,
}

impl MenuSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MenuSource::Fetched => "fetched",
            MenuSource::Published => "published",
            MenuSource::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "fetched" => Ok(MenuSource::Fetched),
            "published" => Ok(MenuSource::Published),
            "deleted" => Ok(MenuSource::Deleted),
            other => Err(StoreError::Corrupt(format!("menu source {other:?}"))),
        }
    }
}

/// One version of an account's menu. The JSON columns are kept as text: the store does not judge
/// menus, `app::menu` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuVersion {
    pub id: i64,
    pub tenant_id: TenantId,
    pub component_id: ComponentId,
    pub authorizer_appid: String,
    pub version: i64,
    pub source: MenuSource,
    pub selfmenu_json: Option<String>,
    pub menu_get_json: Option<String>,
    pub menu_json: String,
    pub click_map_json: String,
    pub based_on_version: Option<i64>,
    pub actor_label: String,
    pub note: String,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct MenuVersionRow {
    id: i64,
    tenant_id: i64,
    component_id: i64,
    authorizer_appid: String,
    version: i64,
    source: String,
    selfmenu_json: Option<String>,
    menu_get_json: Option<String>,
    menu_json: String,
    click_map_json: String,
    based_on_version: Option<i64>,
    actor_label: String,
    note: String,
    created_at: i64,
}

impl TryFrom<MenuVersionRow> for MenuVersion {
    type Error = StoreError;

    fn try_from(r: MenuVersionRow) -> Result<Self, StoreError> {
        Ok(MenuVersion {
            id: r.id,
            tenant_id: TenantId(r.tenant_id),
            component_id: ComponentId(r.component_id),
            authorizer_appid: r.authorizer_appid,
            version: r.version,
            source: MenuSource::parse(&r.source)?,
            selfmenu_json: r.selfmenu_json,
            menu_get_json: r.menu_get_json,
            menu_json: r.menu_json,
            click_map_json: r.click_map_json,
            based_on_version: r.based_on_version,
            actor_label: r.actor_label,
            note: r.note,
            created_at: r.created_at,
        })
    }
}

/// A version to record.
#[derive(Debug, Clone)]
pub struct NewMenuVersion<'a> {
    pub tenant: TenantId,
    pub component: ComponentId,
    pub appid: &'a str,
    pub source: MenuSource,
    pub selfmenu_json: Option<&'a str>,
    pub menu_get_json: Option<&'a str>,
    pub menu_json: &'a str,
    pub click_map_json: &'a str,
    pub based_on_version: Option<i64>,
    pub actor_label: &'a str,
    pub note: &'a str,
}

/// Versions an account's history shows at most.
pub const MENU_HISTORY_LIMIT: i64 = 200;

impl Store {
    /// Records the next version of an account's menu, with its audit event in the same
    /// transaction. Two instances recording at once both succeed (the loser of the version number
    /// takes the next one).
    pub async fn record_menu_version(
        &self,
        new: &NewMenuVersion<'_>,
        audit: Option<NewAuditEvent>,
        now: i64,
    ) -> Result<MenuVersion, StoreError> {
        let sql = format!(
            "INSERT INTO menu_versions (tenant_id, component_id, authorizer_appid, version, source, \
             selfmenu_json, menu_get_json, menu_json, click_map_json, based_on_version, actor_label, note, created_at) \
             SELECT $1, $2, $3, COALESCE(MAX(version), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
             FROM menu_versions WHERE component_id = $2 AND authorizer_appid = $3 \
             RETURNING {COLUMNS}"
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result: Result<MenuVersionRow, StoreError> = write!(self, |pool| {
                let mut tx = pool.begin().await?;
                let row: MenuVersionRow = sqlx::query_as(&sql)
                    .bind(new.tenant.0)
                    .bind(new.component.0)
                    .bind(new.appid)
                    .bind(new.source.as_str())
                    .bind(new.selfmenu_json)
                    .bind(new.menu_get_json)
                    .bind(new.menu_json)
                    .bind(new.click_map_json)
                    .bind(new.based_on_version)
                    .bind(new.actor_label)
                    .bind(new.note)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                if let Some(audit) = &audit {
                    let mut audit = audit.clone();
                    if let serde_json::Value::Object(detail) = &mut audit.detail {
                        detail.insert("version".into(), row.version.into());
                    }
                    bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok::<_, StoreError>(row)
            });
            match result {
                Err(StoreError::Conflict(_)) if attempt < 5 => continue,
                other => return other?.try_into(),
            }
        }
    }

    /// An account's versions under one component in `tenant`, newest first.
    pub async fn menu_versions(
        &self,
        tenant: TenantId,
        component: ComponentId,
        appid: &str,
    ) -> Result<Vec<MenuVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM menu_versions WHERE tenant_id = $1 AND component_id = $2 AND authorizer_appid = $3 \
             ORDER BY version DESC LIMIT $4"
        );
        let rows: Vec<MenuVersionRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(component.0)
            .bind(appid)
            .bind(MENU_HISTORY_LIMIT)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(MenuVersion::try_from).collect()
    }

    /// One version of an account in `tenant`.
    pub async fn menu_version(
        &self,
        tenant: TenantId,
        component: ComponentId,
        appid: &str,
        version: i64,
    ) -> Result<Option<MenuVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM menu_versions WHERE tenant_id = $1 AND component_id = $2 AND authorizer_appid = $3 AND version = $4"
        );
        let row: Option<MenuVersionRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(component.0)
            .bind(appid)
            .bind(version)
            .fetch_optional(pool)
            .await)?;
        row.map(MenuVersion::try_from).transpose()
    }

    /// The oldest version `tenant` holds of an account: its original. (An account that came from
    /// another tenant starts its history in this tenant with its first read here.)
    pub async fn first_menu_version(
        &self,
        tenant: TenantId,
        component: ComponentId,
        appid: &str,
    ) -> Result<Option<MenuVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM menu_versions WHERE tenant_id = $1 AND component_id = $2 AND authorizer_appid = $3 \
             ORDER BY version LIMIT 1"
        );
        let row: Option<MenuVersionRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(component.0)
            .bind(appid)
            .fetch_optional(pool)
            .await)?;
        row.map(MenuVersion::try_from).transpose()
    }

    /// The newest version of an account (of one source, or any), for "did it change".
    pub async fn latest_menu_version(
        &self,
        tenant: TenantId,
        component: ComponentId,
        appid: &str,
        source: Option<MenuSource>,
    ) -> Result<Option<MenuVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM menu_versions WHERE tenant_id = $1 AND component_id = $2 AND authorizer_appid = $3 \
             AND ($4 IS NULL OR source = $4) ORDER BY version DESC LIMIT 1"
        );
        let row: Option<MenuVersionRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(component.0)
            .bind(appid)
            .bind(source.map(MenuSource::as_str))
            .fetch_optional(pool)
            .await)?;
        row.map(MenuVersion::try_from).transpose()
    }

    /// The click map in effect: that of the newest version wxhub published, unless wxhub deleted
    /// the menu after it. `None` when wxhub never published (the account's own menu answers).
    pub async fn active_click_map(
        &self,
        tenant: TenantId,
        component: ComponentId,
        appid: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String, String)> = read!(self, |pool| {
            sqlx::query_as(
            "SELECT source, click_map_json FROM menu_versions \
             WHERE tenant_id = $1 AND component_id = $2 AND authorizer_appid = $3 AND source IN ('published', 'deleted') \
             ORDER BY version DESC LIMIT 1"
        )
        .bind(tenant.0)
        .bind(component.0)
        .bind(appid)
        .fetch_optional(pool)
        .await
        })?;
        Ok(row.and_then(|(source, map)| (source == "published").then_some(map)))
    }
}
