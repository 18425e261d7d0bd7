//! The console's menu section of an account: reading the history, reading the live menu now,
//! publishing an edit, rolling back, deleting a conditional menu. Thin: each decodes, checks the
//! user and the account's tenant, and calls one `ops::menus` operation.

use app::dto::{ConditionalMenuView, MenuOverview, MenuVersionDetail, MenuVersionView};
use app::error::AppError;
use app::menu::{self, ApiMenu, ClickMap, SelfMenu};
use app::services::RequestCtx;
use serde_json::Value;

use super::{internal, store_error, user_actor, Console};
use crate::domain::{AppId, Authorizer, AuthorizerStatus, TenantId};
use crate::ops::menus::{MenuAccount, MenuActor, MenuError, Publish};
use crate::store::{MenuSource, MenuVersion};

/// Permission set 15 (custom menus).
const MENU_PERMISSION: i64 = 15;

async fn account(console: &Console, tenant: TenantId, appid: &str) -> Result<Authorizer, AppError> {
    let appid = AppId::parse("appid", appid).map_err(|_| AppError::NotFound)?;
    console
        .store
        .authorizer(tenant, &appid)
        .await
        .map_err(store_error("an account could not be read"))?
        .ok_or(AppError::NotFound)
}

/// Why menus cannot be read or published for this account now, if they cannot.
fn unavailable(a: &Authorizer) -> Option<(String, String)> {
    if a.status != AuthorizerStatus::Authorized {
        Some((
            "The account is no longer authorized; its menu history is kept.".into(),
            "该账号已不再授权；菜单历史仍保留。".into(),
        ))
    } else if a.account_kind == "mini_program" {
        Some((
            "Mini programs have no custom menu.".into(),
            "小程序没有自定义菜单。".into(),
        ))
    } else if !a.func_ids.contains(&MENU_PERMISSION) {
        Some((
            "The account has not granted menu management (permission set 15) to this platform."
                .into(),
            "该账号未向本平台授权自定义菜单权限（权限集 15）。".into(),
        ))
    } else {
        None
    }
}

fn menu_account(tenant: TenantId, a: &Authorizer) -> MenuAccount {
    MenuAccount {
        tenant,
        component: a.component_id,
        appid: a.appid.clone(),
    }
}

/// A menu operation's failure as the UI's error: rule breaks name their field, WeChat's refusals
/// their errcode and meaning, storage failures are logged.
fn menu_error(context: &'static str) -> impl Fn(MenuError) -> AppError {
    move |e| {
        match e {
        MenuError::Invalid(problems) => match problems.into_iter().next() {
            Some(p) if p.path.is_empty() => {
                AppError::invalid_bilingual(&format!("menu.{}", p.field), p.en, p.zh)
            }
            Some(p) => AppError::invalid_bilingual(
                &format!("menu.{}.{}", p.path, p.field),
                format!("button {} ({}): {}", p.path, p.field, p.en),
                format!("菜单 {}（{}）：{}", p.path, p.field, p.zh),
            ),
            None => AppError::invalid("menu", "the menu is not valid"),
        },
        MenuError::NoPermission => AppError::invalid_bilingual(
            "appid",
            "the account has not granted menu management (permission set 15)",
            "该账号未授权自定义菜单权限（权限集 15）",
        ),
        MenuError::NoToken => AppError::invalid_bilingual(
            "appid",
            "the account has no access token yet; try again in a minute",
            "该账号暂无 access_token，请稍后再试",
        ),
        MenuError::NoSuchVersion => AppError::NotFound,
        MenuError::Stale { live } => AppError::invalid_bilingual(
            "base_version",
            format!("the live menu changed since you opened the editor (it is now version {live}); nothing was published. Review the new version and edit again."),
            format!("打开编辑器后当前菜单已变更（现为版本 {live}），未发布任何内容。请查看新版本后重新编辑。"),
        ),
        MenuError::Wechat(w) => match (w.errcode(), w.meaning()) {
            (Some(code), Some(m)) => AppError::invalid_bilingual(
                "wechat",
                format!("WeChat refused the menu: {code} {}", m.en),
                format!("微信拒绝了该菜单：{code} {}", m.zh),
            ),
            (Some(code), None) => AppError::invalid_bilingual(
                "wechat",
                format!("WeChat refused the menu: errcode {code}"),
                format!("微信拒绝了该菜单：错误码 {code}"),
            ),
            (None, _) => AppError::invalid_bilingual(
                "wechat",
                "WeChat could not be reached; nothing was changed. Try again.",
                "无法连接微信，未做任何更改，请重试。",
            ),
        },
        MenuError::Malformed(m) => internal(context, crate::ops::Boxed(m.into())),
        MenuError::Store(s) => internal(context, s),
    }
    }
}

fn version_view(v: &MenuVersion) -> MenuVersionView {
    let items = serde_json::from_str::<ApiMenu>(&v.menu_json)
        .map(|m| m.lines().len())
        .unwrap_or(0);
    MenuVersionView {
        version: v.version,
        source: v.source.as_str().to_owned(),
        actor: v.actor_label.clone(),
        note: v.note.clone(),
        created_at: v.created_at,
        based_on_version: v.based_on_version,
        items,
    }
}

fn version_detail(v: &MenuVersion) -> MenuVersionDetail {
    let backend: Option<SelfMenu> = v
        .selfmenu_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let dropped = backend
        .as_ref()
        .map(|b| menu::map_selfmenu(b).dropped)
        .unwrap_or_default();
    MenuVersionDetail {
        version: v.version,
        source: v.source.as_str().to_owned(),
        actor: v.actor_label.clone(),
        created_at: v.created_at,
        backend,
        menu: serde_json::from_str(&v.menu_json).unwrap_or_default(),
        click_map: serde_json::from_str::<ClickMap>(&v.click_map_json).unwrap_or_default(),
        dropped,
    }
}

/// The conditional menus `menu/get` listed in a read version.
fn conditional(v: &MenuVersion) -> Vec<ConditionalMenuView> {
    let Some(get) = v
        .menu_get_json
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return Vec::new();
    };
    get.get("conditionalmenu")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| {
                    let menuid = match c.get("menuid") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    let rule = c
                        .get("matchrule")
                        .and_then(Value::as_object)
                        .map(|r| {
                            r.iter()
                                .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
                                .map(|(k, v)| match v {
                                    Value::String(s) => format!("{k}={s}"),
                                    other => format!("{k}={other}"),
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    let buttons: ApiMenu = serde_json::from_value(
                        serde_json::json!({ "button": c.get("button").cloned().unwrap_or(Value::Null) }),
                    )
                    .unwrap_or_default();
                    ConditionalMenuView {
                        menuid,
                        rule,
                        lines: buttons.lines(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn account_menus(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<MenuOverview, AppError> {
    let (user, tenant) = console.tenant_user(ctx).await?;
    let a = account(console, tenant, appid).await?;
    let versions: Vec<MenuVersion> = console
        .store
        .menu_versions(tenant, a.component_id, &a.appid)
        .await
        .map_err(store_error("menu versions could not be read"))?;
    let original = console
        .store
        .first_menu_version(tenant, a.component_id, &a.appid)
        .await
        .map_err(store_error("a menu version could not be read"))?
        .map(|v| version_detail(&v));
    let unavailable = unavailable(&a);
    Ok(MenuOverview {
        appid: a.appid.clone(),
        name: a.nick_name.clone(),
        can_publish: unavailable.is_none() && user.role.can_write(),
        unavailable,
        live: versions.first().map(version_detail),
        conditional: versions
            .iter()
            .find(|v| v.source == MenuSource::Fetched)
            .map(conditional)
            .unwrap_or_default(),
        original,
        versions: versions.iter().map(version_view).collect(),
    })
}

/// The account, checked writable: a tenant admin's, authorized with set 15.
async fn writable(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<(MenuAccount, MenuActor), AppError> {
    let (user, tenant) = console.tenant_admin(ctx).await?;
    let a = account(console, tenant, appid).await?;
    if let Some((en, zh)) = unavailable(&a) {
        return Err(AppError::invalid_bilingual("appid", en, zh));
    }
    Ok((
        menu_account(tenant, &a),
        MenuActor {
            actor: user_actor(&user),
            ip: ctx.client_ip,
        },
    ))
}

pub(super) async fn read_menu_now(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<i64, AppError> {
    let (account, who) = writable(console, ctx, appid).await?;
    let label = crate::ops::named(&who.actor);
    crate::ops::menus::snapshot(&console.engine, &account, &label, "read on demand")
        .await
        .map(|v| v.version)
        .map_err(menu_error("the menu could not be read"))
}

pub(super) async fn publish_menu(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
    menu_json: &str,
    base_version: i64,
) -> Result<i64, AppError> {
    let (account, who) = writable(console, ctx, appid).await?;
    if menu_json.len() > 64 * 1024 {
        return Err(AppError::invalid_bilingual(
            "menu",
            "the menu is too large",
            "菜单内容过大",
        ));
    }
    let menu: ApiMenu = serde_json::from_str(menu_json).map_err(|e| {
        AppError::invalid_bilingual(
            "menu",
            format!("the menu is not a menu: {e}"),
            format!("菜单格式不正确：{e}"),
        )
    })?;
    if menu.button.is_empty() {
        return Err(AppError::invalid_bilingual(
            "menu.button",
            "a menu has 1 to 3 top-level buttons; to remove the menu, restore an original without one",
            "一级菜单须为 1 到 3 个",
        ));
    }
    crate::ops::menus::publish(
        &console.engine,
        &account,
        &who,
        Publish {
            menu,
            click_map: None,
            based_on_version: Some(base_version),
            expect_live_version: Some(base_version),
            note: format!("edited from version {base_version}"),
        },
    )
    .await
    .map(|v| v.version)
    .map_err(menu_error("the menu could not be published"))
}

pub(super) async fn roll_back_menu(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
    version: i64,
) -> Result<i64, AppError> {
    let (account, who) = writable(console, ctx, appid).await?;
    crate::ops::menus::roll_back(&console.engine, &account, &who, version)
        .await
        .map(|v| v.version)
        .map_err(menu_error("the menu could not be rolled back"))
}

pub(super) async fn delete_conditional_menu(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
    menuid: &str,
) -> Result<(), AppError> {
    let (account, who) = writable(console, ctx, appid).await?;
    let menuid = menuid.trim();
    if menuid.is_empty() || menuid.len() > 32 || !menuid.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::invalid_bilingual(
            "menuid",
            "a conditional menu's id is a number",
            "个性化菜单 ID 须为数字",
        ));
    }
    crate::ops::menus::delete_conditional(&console.engine, &account, &who, menuid)
        .await
        .map(drop)
        .map_err(menu_error("a conditional menu could not be deleted"))
}
