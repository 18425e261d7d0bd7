//! Custom menus (PROTOCOL.md §12a) as WeChat keeps them for each Official Account: the menu made in
//! the account's own backend (`AccountSeed::menu`, in `get_current_selfmenu_info` form), the
//! default menu made with `menu/create` and the conditional menus made with `menu/addconditional`
//! ([`AccountMenus`]). This module owns WeChat's validation of a menu sent to the API with its
//! errcodes, the menu APIs themselves, the conversion from the API's format to the backend's, and
//! what a tap on an item of the live menu does on a user's phone ([`TapAction`]).

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::state::{SimState, WxErr};
use app::permissions::AccountKind;

/// Top-level buttons at most.
const MAX_TOP: usize = 3;
/// Sub-buttons under one top-level button at most.
const MAX_SUB: usize = 5;
const MAX_KEY: usize = 128;
const MAX_URL: usize = 1024;
/// Conditional menus per account at most.
const MAX_CONDITIONAL: usize = 20;

/// The types `menu/create` accepts. Written out again rather than taken from `app::menu`: the
/// simulator stands for WeChat, and `tests/menus.rs` checks the editor's rules against it, which
/// would prove nothing if both read one list.
const API_TYPES: [&str; 13] = [
    "click",
    "view",
    "miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "view_limited",
    "article_id",
    "article_view_limited",
];

/// The types whose item carries a `key` (and whose tap is an event with it).
fn needs_key(kind: &str) -> bool {
    matches!(
        kind,
        "click"
            | "scancode_push"
            | "scancode_waitmsg"
            | "pic_sysphoto"
            | "pic_photo_or_album"
            | "pic_weixin"
            | "location_select"
    )
}

/// The fields WeChat keeps of an API menu item (anything else sent is dropped).
const ITEM_FIELDS: [&str; 8] = [
    "type",
    "name",
    "key",
    "url",
    "appid",
    "pagepath",
    "media_id",
    "article_id",
];

/// What WeChat remembers about one account's menus besides the backend menu.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountMenus {
    /// The last menu `menu/create` accepted, as `{"button": […]}` in `menu/get` form.
    pub api_menu: Option<Value>,
    pub conditional: Vec<ConditionalMenu>,
    /// `menu/delete` removed the backend menu too (kept so a restart from the seed does not bring
    /// it back).
    pub backend_deleted: bool,
}

impl AccountMenus {
    fn is_empty(&self) -> bool {
        self.api_menu.is_none() && self.conditional.is_empty() && !self.backend_deleted
    }
}

/// A menu made with `menu/addconditional`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConditionalMenu {
    pub menuid: String,
    pub button: Vec<Value>,
    pub matchrule: Value,
}

/// The errcodes of one level of the menu: top-level buttons or sub-buttons.
struct Level {
    kind: i64,
    name: i64,
    key: i64,
    url_len: i64,
    url_domain: i64,
    max_name: usize,
}

const TOP: Level = Level {
    kind: 40017,
    name: 40018,
    key: 40019,
    url_len: 40020,
    url_domain: 40055,
    max_name: 16,
};

const SUB: Level = Level {
    kind: 40024,
    name: 40025,
    key: 40026,
    url_len: 40027,
    url_domain: 40054,
    max_name: 60,
};

fn string<'a>(item: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    item.get(field).and_then(Value::as_str)
}

/// A required field that must be a non-blank string.
fn present<'a>(item: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    string(item, field).filter(|s| !s.trim().is_empty())
}

fn check_name<'a>(item: &'a Map<String, Value>, level: &Level) -> Result<&'a str, WxErr> {
    present(item, "name")
        .filter(|n| n.len() <= level.max_name)
        .ok_or(WxErr(level.name))
}

fn check_url(item: &Map<String, Value>, level: &Level) -> Result<(), WxErr> {
    let url = present(item, "url")
        .filter(|u| u.len() <= MAX_URL)
        .ok_or(WxErr(level.url_len))?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(WxErr(level.url_domain));
    }
    Ok(())
}

/// Checks one item with a type of its own; returns it as WeChat keeps it.
fn check_item(item: &Map<String, Value>, level: &Level) -> Result<Value, WxErr> {
    let kind = string(item, "type")
        .filter(|k| API_TYPES.contains(k))
        .ok_or(WxErr(level.kind))?;
    check_name(item, level)?;
    match kind {
        k if needs_key(k) => {
            present(item, "key")
                .filter(|k| k.len() <= MAX_KEY)
                .ok_or(WxErr(level.key))?;
        }
        "view" => check_url(item, level)?,
        "miniprogram" => {
            // The URL is what clients too old for mini programs open instead.
            check_url(item, level)?;
            present(item, "appid").ok_or(WxErr(40097))?;
            present(item, "pagepath").ok_or(WxErr(40097))?;
        }
        "media_id" | "view_limited" => {
            present(item, "media_id").ok_or(WxErr(40097))?;
        }
        _ => {
            present(item, "article_id").ok_or(WxErr(40097))?;
        }
    }
    let mut kept: Map<String, Value> = ITEM_FIELDS
        .iter()
        .filter_map(|f| item.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    kept.insert("sub_button".into(), json!([]));
    Ok(Value::Object(kept))
}

/// Is this `sub_button` value a list with something in it (or anything else but an empty list)?
fn has_children(sub: Option<&Value>) -> bool {
    match sub {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

/// WeChat's checks of a `{"button": […]}` body for `menu/create` and `menu/addconditional`
/// (PROTOCOL.md §12a). Returns the buttons as WeChat keeps them: known fields only, and every
/// item with an empty `sub_button`, as `menu/get` shows them.
pub fn validate_buttons(body: &Value) -> Result<Vec<Value>, WxErr> {
    let buttons = body
        .get("button")
        .and_then(Value::as_array)
        .ok_or(WxErr(47001))?;
    if buttons.is_empty() || buttons.len() > MAX_TOP {
        return Err(WxErr(40016));
    }
    let mut kept = Vec::with_capacity(buttons.len());
    for button in buttons {
        let button = button.as_object().ok_or(WxErr(47001))?;
        match button.get("sub_button") {
            Some(Value::Array(subs)) if !subs.is_empty() => {
                if subs.len() > MAX_SUB {
                    return Err(WxErr(40023));
                }
                let name = check_name(button, &TOP)?;
                let mut children = Vec::with_capacity(subs.len());
                for sub in subs {
                    let sub = sub.as_object().ok_or(WxErr(47001))?;
                    if has_children(sub.get("sub_button")) {
                        return Err(WxErr(40022));
                    }
                    children.push(check_item(sub, &SUB)?);
                }
                kept.push(json!({ "name": name, "sub_button": children }));
            }
            None | Some(Value::Null) | Some(Value::Array(_)) => {
                if button.get("type").is_none_or(Value::is_null) {
                    return Err(WxErr(41007));
                }
                kept.push(check_item(button, &TOP)?);
            }
            Some(_) => return Err(WxErr(47001)),
        }
    }
    Ok(kept)
}

/// An API menu's buttons in `get_current_selfmenu_info` form: sub-buttons nested as
/// `{"sub_button": {"list": […]}}`, no empty `sub_button` on items.
fn to_selfmenu(buttons: &[Value]) -> Value {
    let strip = |item: &Value| {
        let mut item = item.clone();
        if let Some(map) = item.as_object_mut() {
            map.remove("sub_button");
        }
        item
    };
    let converted: Vec<Value> = buttons
        .iter()
        .map(|b| match b.get("sub_button").and_then(Value::as_array) {
            Some(subs) if !subs.is_empty() => json!({
                "name": b.get("name").cloned().unwrap_or(Value::Null),
                "sub_button": { "list": subs.iter().map(strip).collect::<Vec<_>>() },
            }),
            _ => strip(b),
        })
        .collect();
    json!({ "button": converted })
}

/// One item of a menu in either format, for the phone.
#[derive(Debug, Clone)]
pub struct MenuItem {
    pub name: String,
    /// The type; empty for a parent.
    pub kind: String,
    pub item: Map<String, Value>,
    pub children: Vec<MenuItem>,
}

/// Reads the buttons of a menu in the API's form (`sub_button: […]`) or the backend's
/// (`sub_button: {"list": […]}`).
pub fn menu_items(menu: &Value) -> Vec<MenuItem> {
    fn read(v: &Value) -> Option<MenuItem> {
        let item = v.as_object()?;
        let subs = match item.get("sub_button") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(Value::Object(o)) => o
                .get("list")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
            _ => &[],
        };
        Some(MenuItem {
            name: string(item, "name").unwrap_or_default().to_owned(),
            kind: string(item, "type").unwrap_or_default().to_owned(),
            item: item.clone(),
            children: subs.iter().filter_map(read).collect(),
        })
    }
    menu.get("button")
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(read).collect())
        .unwrap_or_default()
}

/// Where the live menu comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuSource {
    Api,
    Backend,
}

impl MenuSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MenuSource::Api => "api",
            MenuSource::Backend => "backend",
        }
    }
}

/// What a tap on a menu item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapAction {
    /// An event goes to the platform's message URL.
    Event { event: String, key: String },
    /// WeChat answers by itself (a backend-only item while no platform holds message management,
    /// or a material item): the reply's type and what the user sees.
    Wechat { kind: &'static str, content: String },
    /// A backend-only item while a platform holds message management: nothing answers.
    Unanswered { content: String },
    /// A parent: it opens its sub-items, nothing is sent.
    Parent,
}

/// What a tap on `item` does, given whether a platform holds message management (set 1).
pub fn tap_action(item: &MenuItem, messages_taken_over: bool) -> TapAction {
    if !item.children.is_empty() || item.kind.is_empty() {
        return TapAction::Parent;
    }
    let field = |f: &str| string(&item.item, f).unwrap_or_default().to_owned();
    let event = |event: &str, key: String| TapAction::Event {
        event: event.to_owned(),
        key,
    };
    let wechat = |kind: &'static str, content: String| TapAction::Wechat { kind, content };
    match item.kind.as_str() {
        "click" => event("CLICK", field("key")),
        "view" => event("VIEW", field("url")),
        "miniprogram" => event("view_miniprogram", field("pagepath")),
        // WeChat names these events after the item type.
        k if needs_key(k) => event(k, field("key")),
        // Material items: WeChat sends the material or opens the article itself.
        "media_id" => wechat(
            "material",
            format!("[material media_id {}]", field("media_id")),
        ),
        "view_limited" => wechat(
            "view",
            format!("(opens the material {})", field("media_id")),
        ),
        "article_id" => wechat("news", format!("[article {}]", field("article_id"))),
        "article_view_limited" => wechat(
            "view",
            format!("(opens the article {})", field("article_id")),
        ),
        "text" | "img" | "voice" | "video" | "news" if messages_taken_over => {
            TapAction::Unanswered {
                content: format!(
                    "(no answer: “{}” only works while WeChat answers this account's messages)",
                    item.name
                ),
            }
        }
        "text" => wechat("text", field("value")),
        "img" => wechat("image", format!("[image media_id {}]", field("value"))),
        "voice" => wechat("voice", format!("[voice media_id {}]", field("value"))),
        "video" => wechat("video", field("value")),
        "news" => wechat(
            "news",
            item.item
                .get("news_info")
                .and_then(|n| n.get("list"))
                .and_then(|l| l.get(0))
                .and_then(|a| a.get("title"))
                .and_then(Value::as_str)
                .unwrap_or("(news)")
                .to_owned(),
        ),
        other => TapAction::Unanswered {
            content: format!("(nothing happens: WeChat does not know the item type “{other}”)"),
        },
    }
}

/// Finds the item called `name`: top-level items first, then sub-items, in order.
pub fn find_by_name<'a>(items: &'a [MenuItem], name: &str) -> Option<&'a MenuItem> {
    items.iter().find(|i| i.name == name).or_else(|| {
        items
            .iter()
            .flat_map(|i| &i.children)
            .find(|i| i.name == name)
    })
}

/// Finds the item at `path`: `"2"` is the third top-level item, `"1.0"` the first sub-item of the
/// second.
pub fn find_by_path<'a>(items: &'a [MenuItem], path: &str) -> Option<&'a MenuItem> {
    let mut parts = path.split('.');
    let top: usize = parts.next()?.parse().ok()?;
    let item = items.get(top)?;
    match parts.next() {
        None => Some(item),
        Some(sub) => {
            let sub: usize = sub.parse().ok()?;
            if parts.next().is_some() {
                return None;
            }
            item.children.get(sub)
        }
    }
}

/// A match rule with nothing to match on.
fn rule_is_empty(rule: &Map<String, Value>) -> bool {
    rule.values().all(|v| match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    })
}

impl SimState {
    fn menus_mut(&mut self, appid: &str) -> &mut AccountMenus {
        self.menus.entry(appid.to_owned()).or_default()
    }

    /// Does a platform hold message management (set 1) for the account? Then WeChat no longer
    /// answers its messages, nor its backend-only menu items.
    pub fn messages_taken_over(&self, appid: &str) -> bool {
        self.components.values().any(|c| {
            c.authorizations
                .get(appid)
                .is_some_and(|a| !a.revoked && a.func_ids.contains(&1))
        })
    }

    /// The menu the account's followers see: the API menu if there is one, else the backend menu.
    pub fn live_menu(&self, appid: &str) -> Option<(MenuSource, Vec<MenuItem>)> {
        if let Some(api) = self.menus.get(appid).and_then(|m| m.api_menu.as_ref()) {
            return Some((MenuSource::Api, menu_items(api)));
        }
        let backend = self.accounts.get(appid)?.menu.as_ref()?;
        Some((MenuSource::Backend, menu_items(backend)))
    }

    /// `{"backend", "api", "conditional"}` for the control API; none for an unknown account.
    pub fn menu_view(&self, appid: &str) -> Option<Value> {
        let account = self.accounts.get(appid)?;
        let menus = self.menus.get(appid);
        Some(json!({
            "backend": account.menu,
            "api": menus.and_then(|m| m.api_menu.clone()),
            "conditional": menus.map(|m| m.conditional.clone()).unwrap_or_default(),
        }))
    }

    /// Menus need an Official Account with permission set 15 (custom menus); returns its appid.
    fn check_menu_access(&self, token: Option<&str>, now: i64) -> Result<String, WxErr> {
        let (component, authorizer) = self.check_authorizer_token(token, now)?;
        let account = self.accounts.get(&authorizer).ok_or(WxErr(48001))?;
        if account.kind != AccountKind::OfficialAccount
            || !self.granted(&component, &authorizer, &[15])
        {
            return Err(WxErr(48001));
        }
        Ok(authorizer)
    }

    /// `get_current_selfmenu_info`: the API menu in the backend's form if there is one, else the
    /// backend menu, else `is_menu_open: 0`.
    pub fn api_selfmenu(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        let api = self.menus.get(&appid).and_then(|m| m.api_menu.as_ref());
        if let Some(buttons) = api.and_then(|m| m.get("button")).and_then(Value::as_array) {
            return Ok(json!({ "is_menu_open": 1, "selfmenu_info": to_selfmenu(buttons) }));
        }
        Ok(
            match self.accounts.get(&appid).and_then(|a| a.menu.as_ref()) {
                Some(menu) => json!({ "is_menu_open": 1, "selfmenu_info": menu }),
                None => json!({ "is_menu_open": 0 }),
            },
        )
    }

    /// `menu/create`: a valid menu replaces the default API menu; conditional menus stay.
    pub fn api_menu_create(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        let buttons = validate_buttons(body)?;
        self.menus_mut(&appid).api_menu = Some(json!({ "button": buttons }));
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// `menu/get`: the API menu and the conditional ones; 46003 without an API menu.
    pub fn api_menu_get(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        let menus = self.menus.get(&appid).ok_or(WxErr(46003))?;
        let api = menus.api_menu.as_ref().ok_or(WxErr(46003))?;
        let mut answer =
            json!({ "menu": { "button": api.get("button").cloned().unwrap_or(json!([])) } });
        if !menus.conditional.is_empty() {
            answer["conditionalmenu"] = menus
                .conditional
                .iter()
                .map(
                    |c| json!({ "button": c.button, "matchrule": c.matchrule, "menuid": c.menuid }),
                )
                .collect();
        }
        Ok(answer)
    }

    /// `menu/delete`: the API menu, the backend menu and every conditional menu go.
    pub fn api_menu_delete(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        let had_backend = self
            .accounts
            .get_mut(&appid)
            .and_then(|a| a.menu.take())
            .is_some();
        let menus = self.menus_mut(&appid);
        menus.api_menu = None;
        menus.conditional.clear();
        menus.backend_deleted |= had_backend;
        if menus.is_empty() {
            self.menus.remove(&appid);
        }
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// `menu/addconditional`: needs a default menu (API or backend) first.
    pub fn api_menu_addconditional(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        if !body.get("button").is_some_and(Value::is_array) {
            return Err(WxErr(47001));
        }
        if self.live_menu(&appid).is_none() {
            return Err(WxErr(65303));
        }
        let matchrule = body
            .get("matchrule")
            .and_then(Value::as_object)
            .filter(|r| !rule_is_empty(r))
            .ok_or(WxErr(65304))?
            .clone();
        let buttons = validate_buttons(body)?;
        let menus = self.menus_mut(&appid);
        if menus.conditional.len() >= MAX_CONDITIONAL {
            return Err(WxErr(65305));
        }
        let menuid = loop {
            let id = rand::thread_rng()
                .gen_range(100_000_000u64..1_000_000_000)
                .to_string();
            if !menus.conditional.iter().any(|c| c.menuid == id) {
                break id;
            }
        };
        menus.conditional.push(ConditionalMenu {
            menuid: menuid.clone(),
            button: buttons,
            matchrule: Value::Object(matchrule),
        });
        Ok(json!({ "menuid": menuid }))
    }

    /// `menu/delconditional` `{"menuid"}`: 65301 for a menu the account does not have.
    pub fn api_menu_delconditional(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let appid = self.check_menu_access(token, now)?;
        let menuid = match body.get("menuid") {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(WxErr(65301)),
        };
        let menus = self.menus.get_mut(&appid).ok_or(WxErr(65301))?;
        let before = menus.conditional.len();
        menus.conditional.retain(|c| c.menuid != menuid);
        if menus.conditional.len() == before {
            return Err(WxErr(65301));
        }
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: Value) -> i64 {
        match validate_buttons(&body) {
            Ok(_) => 0,
            Err(WxErr(c)) => c,
        }
    }

    #[test]
    fn the_api_menu_reads_back_in_the_backend_form() {
        let buttons = validate_buttons(&json!({ "button": [
            { "type": "click", "name": "A", "key": "K", "extra": 1 },
            { "name": "B", "sub_button": [{ "type": "view", "name": "C", "url": "https://x.example" }] },
        ]}))
        .unwrap_or_default();
        assert_eq!(
            buttons[0],
            json!({ "type": "click", "name": "A", "key": "K", "sub_button": [] })
        );
        let selfmenu = to_selfmenu(&buttons);
        assert_eq!(
            selfmenu,
            json!({ "button": [
                { "type": "click", "name": "A", "key": "K" },
                { "name": "B", "sub_button": { "list": [{ "type": "view", "name": "C", "url": "https://x.example" }] } },
            ]})
        );
        let items = menu_items(&selfmenu);
        assert_eq!(
            find_by_path(&items, "1.0").map(|i| i.name.as_str()),
            Some("C")
        );
        assert_eq!(
            find_by_name(&items, "C").map(|i| i.kind.as_str()),
            Some("view")
        );
        assert!(find_by_path(&items, "1.0.0").is_none());
    }

    #[test]
    fn a_type_of_its_own_is_needed_below_the_top_too() {
        assert_eq!(
            code(
                json!({ "button": [{ "name": "P", "sub_button": [{ "name": "x", "key": "K" }] }] })
            ),
            40024
        );
        assert_eq!(
            code(json!({ "button": [{ "name": "P", "sub_button": "x" }] })),
            47001
        );
        assert_eq!(
            code(
                json!({ "button": [{ "type": "click", "name": "A", "key": "K", "sub_button": [] }] })
            ),
            0
        );
    }
}
