//! Custom menus (PROTOCOL.md §12a) as wxhub keeps them, with no I/O: the menu `menu/create` takes
//! ([`ApiMenu`]), the menu an account made in its own backend (`get_current_selfmenu_info`,
//! [`SelfMenu`]), the mapping from the second to the first ([`map_selfmenu`]), WeChat's rules with
//! a message per field in both languages ([`validate`]), and a diff between two menus ([`diff`]).
//!
//! It lives in `app` so that the editor in the browser and the server judge a menu the same way:
//! the browser shows the problems as the operator types, the server refuses the same menu before
//! any call to WeChat.
//!
//! Why a mapping at all: backend-made items of the types `text`, `img`, `voice`, `video` and `news`
//! only work while WeChat answers the account's messages. Once a platform holds message
//! management they stop answering, and `menu/create` cannot make them. Each becomes a `click` item
//! with a key of wxhub's own (or a `view` item for a video given by URL), and the [`ClickMap`]
//! remembers what the item used to answer, so the message relay can answer the CLICK the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Top-level buttons at most.
pub const MAX_TOP: usize = 3;
/// Sub-buttons under one top-level button at most.
pub const MAX_SUB: usize = 5;
/// Bytes (UTF-8) in a top-level name at most.
pub const MAX_TOP_NAME: usize = 16;
/// Bytes in a sub-button name at most.
pub const MAX_SUB_NAME: usize = 60;
pub const MAX_KEY: usize = 128;
pub const MAX_URL: usize = 1024;
/// The prefix of the keys wxhub gives mapped items; `menu/create` accepts any key, this one says
/// whose it is in the tenant's webhook payloads.
pub const MAPPED_KEY_PREFIX: &str = "wxhub_menu_";

/// The item types `menu/create` accepts, and what each needs.
pub const API_TYPES: [&str; 13] = [
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

/// Types that need a `key`.
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

/// One button of an API menu: a parent (no type, `sub_button`) or an item of one of [`API_TYPES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuItem {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<MenuItem>,
}

impl MenuItem {
    pub fn is_parent(&self) -> bool {
        !self.sub_button.is_empty()
    }

    /// What the item leads to, for lists and diffs: its key, URL, media or page.
    pub fn target(&self) -> String {
        match self.kind.as_str() {
            "view" => self.url.clone().unwrap_or_default(),
            "miniprogram" => format!(
                "{} {}",
                self.appid.as_deref().unwrap_or(""),
                self.pagepath.as_deref().unwrap_or("")
            )
            .trim()
            .to_owned(),
            "media_id" | "view_limited" => self.media_id.clone().unwrap_or_default(),
            "article_id" | "article_view_limited" => self.article_id.clone().unwrap_or_default(),
            _ => self.key.clone().unwrap_or_default(),
        }
    }
}

/// A menu as `menu/create` takes it and `menu/get` returns it (`menu.button`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiMenu {
    #[serde(default)]
    pub button: Vec<MenuItem>,
}

/// One item of a backend-made menu, as `get_current_selfmenu_info` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfMenuItem {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    /// text: the text; img/voice: a media_id; video: a URL (or a media_id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub news_info: Option<NewsInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_button: Option<SelfSubButtons>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfSubButtons {
    #[serde(default)]
    pub list: Vec<SelfMenuItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewsInfo {
    #[serde(default)]
    pub list: Vec<NewsArticle>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewsArticle {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub show_cover: i64,
    #[serde(default)]
    pub cover_url: String,
    #[serde(default)]
    pub content_url: String,
    #[serde(default)]
    pub source_url: String,
}

/// A number WeChat may send as a number or as a numeric string; anything else reads as 0, so an
/// odd flag never makes a whole menu unreadable.
fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        serde_json::Value::Bool(b) => i64::from(b),
        _ => 0,
    })
}

/// `get_current_selfmenu_info`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfMenu {
    #[serde(default, deserialize_with = "lenient_i64")]
    pub is_menu_open: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selfmenu_info: Option<SelfMenuButtons>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfMenuButtons {
    #[serde(default)]
    pub button: Vec<SelfMenuItem>,
}

impl SelfMenu {
    /// The buttons, or none when the menu is closed or absent.
    pub fn buttons(&self) -> &[SelfMenuItem] {
        match &self.selfmenu_info {
            Some(info) if self.is_menu_open == 1 => &info.button,
            _ => &[],
        }
    }
}

/// What a mapped key answers: the reply its backend item used to give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MappedReply {
    Text { content: String },
    Image { media_id: String },
    Voice { media_id: String },
    Video { media_id: String },
    News { articles: Vec<MappedArticle> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedArticle {
    pub title: String,
    pub description: String,
    pub pic_url: String,
    pub url: String,
}

/// One key of the click map: the item's name (for people) and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedClick {
    /// The backend item's name and type it replaces ("联系 Contact", "text").
    pub name: String,
    pub source_type: String,
    pub reply: MappedReply,
}

impl MappedReply {
    /// A one-line summary for lists.
    pub fn summary(&self) -> String {
        match self {
            MappedReply::Text { content } => content.clone(),
            MappedReply::Image { media_id } => format!("image {media_id}"),
            MappedReply::Voice { media_id } => format!("voice {media_id}"),
            MappedReply::Video { media_id } => format!("video {media_id}"),
            MappedReply::News { articles } => articles
                .iter()
                .map(|a| a.title.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
        }
    }
}

/// Key → what the CLICK answers.
pub type ClickMap = BTreeMap<String, MappedClick>;

/// A backend-made menu turned into one `menu/create` accepts, and what each new key answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedMenu {
    pub menu: ApiMenu,
    pub click_map: ClickMap,
    /// Items that could not be kept, with why (English, Chinese); empty when all were.
    pub dropped: Vec<(String, String, String)>,
}

/// Maps a backend-made menu (PROTOCOL.md §12a): API types are kept as they are; `text`, `img`,
/// `voice`, `news` and a `video` given by media id become `click` items keyed
/// `wxhub_menu_{top}_{sub}` whose CLICK answers the old content; a `video` given by URL becomes a
/// `view` of that URL. An item with nothing to answer (an empty text, a news with no article) is
/// dropped and said so.
pub fn map_selfmenu(selfmenu: &SelfMenu) -> MappedMenu {
    let mut out = MappedMenu::default();
    for (i, top) in selfmenu.buttons().iter().enumerate() {
        match &top.sub_button {
            Some(subs) if !subs.list.is_empty() || top.kind.is_empty() => {
                let mut parent = MenuItem {
                    name: top.name.clone(),
                    ..MenuItem::default()
                };
                for (j, sub) in subs.list.iter().enumerate() {
                    if let Some(item) = map_item(sub, format!("{}_{}", i + 1, j + 1), &mut out) {
                        parent.sub_button.push(item);
                    }
                }
                if parent.sub_button.is_empty() {
                    out.dropped.push((
                        top.name.clone(),
                        "a parent with no sub-item left".into(),
                        "没有可保留子菜单的父菜单".into(),
                    ));
                } else {
                    out.menu.button.push(parent);
                }
            }
            _ => {
                if let Some(item) = map_item(top, format!("{}", i + 1), &mut out) {
                    out.menu.button.push(item);
                }
            }
        }
    }
    out
}

fn map_item(item: &SelfMenuItem, position: String, out: &mut MappedMenu) -> Option<MenuItem> {
    let value = item.value.clone().unwrap_or_default();
    let mapped_click = |reply: MappedReply, out: &mut MappedMenu| {
        let key = format!("{MAPPED_KEY_PREFIX}{position}");
        out.click_map.insert(
            key.clone(),
            MappedClick {
                name: item.name.clone(),
                source_type: item.kind.clone(),
                reply,
            },
        );
        Some(MenuItem {
            name: item.name.clone(),
            kind: "click".into(),
            key: Some(key),
            ..MenuItem::default()
        })
    };
    let drop = |out: &mut MappedMenu, en: &str, zh: &str| {
        out.dropped
            .push((item.name.clone(), en.to_owned(), zh.to_owned()));
        None
    };
    match item.kind.as_str() {
        "text" if !value.trim().is_empty() => {
            mapped_click(MappedReply::Text { content: value }, out)
        }
        "img" if !value.is_empty() => mapped_click(MappedReply::Image { media_id: value }, out),
        "voice" if !value.is_empty() => mapped_click(MappedReply::Voice { media_id: value }, out),
        "video" if value.starts_with("http://") || value.starts_with("https://") => {
            Some(MenuItem {
                name: item.name.clone(),
                kind: "view".into(),
                url: Some(value),
                ..MenuItem::default()
            })
        }
        "video" if !value.is_empty() => mapped_click(MappedReply::Video { media_id: value }, out),
        "news" => {
            let articles: Vec<MappedArticle> = item
                .news_info
                .iter()
                .flat_map(|n| n.list.iter())
                .take(8)
                .map(|a| MappedArticle {
                    title: a.title.clone(),
                    description: a.digest.clone(),
                    pic_url: a.cover_url.clone(),
                    url: a.content_url.clone(),
                })
                .collect();
            if articles.is_empty() {
                drop(out, "a news item with no article", "没有图文的图文消息菜单")
            } else {
                mapped_click(MappedReply::News { articles }, out)
            }
        }
        "text" | "img" | "voice" | "video" => {
            drop(out, "an item with nothing to answer", "没有回复内容的菜单")
        }
        kind if API_TYPES.contains(&kind) => Some(MenuItem {
            name: item.name.clone(),
            kind: kind.to_owned(),
            key: item.key.clone(),
            url: item.url.clone(),
            // The backend names a media or article item's id `value`.
            media_id: matches!(kind, "media_id" | "view_limited")
                .then(|| item.value.clone())
                .flatten(),
            article_id: matches!(kind, "article_id" | "article_view_limited")
                .then(|| item.value.clone())
                .flatten(),
            appid: item.appid.clone(),
            pagepath: item.pagepath.clone(),
            sub_button: Vec::new(),
        }),
        _ => drop(
            out,
            "a type the menu API does not know",
            "菜单接口不支持的类型",
        ),
    }
}

/// One broken rule: where (`path` "2" is the second top-level button, "2.3" its third sub-item,
/// "" the whole menu), which field, the messages, and the errcode WeChat answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuProblem {
    pub path: String,
    pub field: String,
    pub en: String,
    pub zh: String,
    pub errcode: i64,
}

/// Every rule of PROTOCOL.md §12a the menu breaks, in order; empty when `menu/create` would take it.
pub fn validate(menu: &ApiMenu) -> Vec<MenuProblem> {
    let mut problems = Vec::new();
    let mut add = |path: &str, field: &str, en: String, zh: String, errcode: i64| {
        problems.push(MenuProblem {
            path: path.to_owned(),
            field: field.to_owned(),
            en,
            zh,
            errcode,
        })
    };
    if menu.button.is_empty() || menu.button.len() > MAX_TOP {
        add(
            "",
            "button",
            format!("a menu has 1 to {MAX_TOP} top-level buttons"),
            format!("一级菜单须为 1 到 {MAX_TOP} 个"),
            40016,
        );
    }
    for (i, top) in menu.button.iter().enumerate() {
        let path = format!("{}", i + 1);
        if top.is_parent() {
            check_name(&path, &top.name, MAX_TOP_NAME, 40018, &mut add);
            if top.sub_button.len() > MAX_SUB {
                add(
                    &path,
                    "sub_button",
                    format!("at most {MAX_SUB} sub-items under one button"),
                    format!("每个一级菜单最多 {MAX_SUB} 个子菜单"),
                    40023,
                );
            }
            for (j, sub) in top.sub_button.iter().enumerate() {
                let path = format!("{}.{}", i + 1, j + 1);
                if sub.is_parent() {
                    add(
                        &path,
                        "sub_button",
                        "a sub-item cannot have sub-items of its own".into(),
                        "子菜单不能再有下级菜单".into(),
                        40022,
                    );
                }
                check_item(&path, sub, false, &mut add);
            }
        } else if top.kind.is_empty() {
            check_name(&path, &top.name, MAX_TOP_NAME, 40018, &mut add);
            add(
                &path,
                "type",
                "choose a type, or add sub-items".into(),
                "请选择类型，或添加子菜单".into(),
                41007,
            );
        } else {
            check_item(&path, top, true, &mut add);
        }
    }
    problems
}

fn check_name(
    path: &str,
    name: &str,
    max: usize,
    errcode: i64,
    add: &mut impl FnMut(&str, &str, String, String, i64),
) {
    if name.trim().is_empty() || name.len() > max {
        add(
            path,
            "name",
            format!(
                "a name has 1 to {max} bytes (this one has {}; a Chinese character is 3)",
                name.len()
            ),
            format!(
                "名称须为 1 到 {max} 个字节（当前 {} 个；一个汉字占 3 个）",
                name.len()
            ),
            errcode,
        );
    }
}

fn check_item(
    path: &str,
    item: &MenuItem,
    top: bool,
    add: &mut impl FnMut(&str, &str, String, String, i64),
) {
    let code = |top_code: i64, sub_code: i64| if top { top_code } else { sub_code };
    check_name(
        path,
        &item.name,
        if top { MAX_TOP_NAME } else { MAX_SUB_NAME },
        code(40018, 40025),
        add,
    );
    let kind = item.kind.as_str();
    if !API_TYPES.contains(&kind) {
        add(
            path,
            "type",
            format!("{kind:?} is not a type the menu API can create"),
            format!("菜单接口不能创建类型 {kind:?}"),
            code(40017, 40024),
        );
        return;
    }
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if needs_key(kind) {
        let len = item.key.as_deref().map_or(0, str::len);
        if !present(&item.key) || len > MAX_KEY {
            add(
                path,
                "key",
                format!("a key has 1 to {MAX_KEY} bytes"),
                format!("key 须为 1 到 {MAX_KEY} 个字节"),
                code(40019, 40026),
            );
        }
    }
    if matches!(kind, "view" | "miniprogram") {
        let url = item.url.as_deref().unwrap_or("");
        if !present(&item.url) || url.len() > MAX_URL {
            add(
                path,
                "url",
                format!("a URL has 1 to {MAX_URL} bytes"),
                format!("URL 须为 1 到 {MAX_URL} 个字节"),
                code(40020, 40027),
            );
        } else if !(url.starts_with("http://") || url.starts_with("https://")) {
            add(
                path,
                "url",
                "the URL must start with http:// or https://".into(),
                "URL 须以 http:// 或 https:// 开头".into(),
                code(40055, 40054),
            );
        }
    }
    if kind == "miniprogram" {
        for (field, value) in [("appid", &item.appid), ("pagepath", &item.pagepath)] {
            if !present(value) {
                add(
                    path,
                    field,
                    format!("a mini-program item needs its {field}"),
                    format!("小程序菜单须填写 {field}"),
                    40097,
                );
            }
        }
    }
    if matches!(kind, "media_id" | "view_limited") && !present(&item.media_id) {
        add(
            path,
            "media_id",
            "this type needs a permanent material's media_id".into(),
            "该类型须填写永久素材的 media_id".into(),
            40097,
        );
    }
    if matches!(kind, "article_id" | "article_view_limited") && !present(&item.article_id) {
        add(
            path,
            "article_id",
            "this type needs a published article's article_id".into(),
            "该类型须填写已发布图文的 article_id".into(),
            40097,
        );
    }
}

/// The menu as lines, one per button, for lists and diffs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuLine {
    /// "2" or "2.3", as in [`MenuProblem::path`].
    pub path: String,
    /// "会员 Members › 积分 Points".
    pub label: String,
    /// The type ("click", "text", …), empty for a parent.
    pub kind: String,
    pub target: String,
}

impl ApiMenu {
    pub fn lines(&self) -> Vec<MenuLine> {
        let mut lines = Vec::new();
        for (i, top) in self.button.iter().enumerate() {
            lines.push(MenuLine {
                path: format!("{}", i + 1),
                label: top.name.clone(),
                kind: if top.is_parent() {
                    String::new()
                } else {
                    top.kind.clone()
                },
                target: if top.is_parent() {
                    String::new()
                } else {
                    top.target()
                },
            });
            for (j, sub) in top.sub_button.iter().enumerate() {
                lines.push(MenuLine {
                    path: format!("{}.{}", i + 1, j + 1),
                    label: format!("{} › {}", top.name, sub.name),
                    kind: sub.kind.clone(),
                    target: sub.target(),
                });
            }
        }
        lines
    }
}

impl SelfMenu {
    pub fn lines(&self) -> Vec<MenuLine> {
        let target = |item: &SelfMenuItem| match item.kind.as_str() {
            "news" => item
                .news_info
                .iter()
                .flat_map(|n| n.list.iter())
                .map(|a| a.title.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
            "view" => item.url.clone().unwrap_or_default(),
            "miniprogram" => format!(
                "{} {}",
                item.appid.as_deref().unwrap_or(""),
                item.pagepath.as_deref().unwrap_or("")
            )
            .trim()
            .to_owned(),
            "click" | "scancode_push" | "scancode_waitmsg" | "pic_sysphoto"
            | "pic_photo_or_album" | "pic_weixin" | "location_select" => {
                item.key.clone().unwrap_or_default()
            }
            _ => item.value.clone().unwrap_or_default(),
        };
        let mut lines = Vec::new();
        for (i, top) in self.buttons().iter().enumerate() {
            let subs = top
                .sub_button
                .as_ref()
                .map(|s| s.list.as_slice())
                .unwrap_or(&[]);
            let parent = !subs.is_empty() || top.kind.is_empty();
            lines.push(MenuLine {
                path: format!("{}", i + 1),
                label: top.name.clone(),
                kind: if parent {
                    String::new()
                } else {
                    top.kind.clone()
                },
                target: if parent { String::new() } else { target(top) },
            });
            for (j, sub) in subs.iter().enumerate() {
                lines.push(MenuLine {
                    path: format!("{}.{}", i + 1, j + 1),
                    label: format!("{} › {}", top.name, sub.name),
                    kind: sub.kind.clone(),
                    target: target(sub),
                });
            }
        }
        lines
    }
}

/// How one position changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Same,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub path: String,
    pub change: Change,
    pub before: Option<MenuLine>,
    pub after: Option<MenuLine>,
}

/// The menu `after` against `before`, position by position (what a follower would see change).
pub fn diff(before: &[MenuLine], after: &[MenuLine]) -> Vec<DiffLine> {
    let mut paths: Vec<&str> = before
        .iter()
        .chain(after.iter())
        .map(|l| l.path.as_str())
        .collect();
    let order = |p: &str| -> (u32, u32) {
        let mut parts = p.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    };
    paths.sort_by_key(|p| order(p));
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let b = before.iter().find(|l| l.path == path).cloned();
            let a = after.iter().find(|l| l.path == path).cloned();
            let change = match (&b, &a) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(b), Some(a)) if b == a => Change::Same,
                _ => Change::Changed,
            };
            DiffLine {
                path: path.to_owned(),
                change,
                before: b,
                after: a,
            }
        })
        .collect()
}

/// The click map of `menu`: the entries of `map` whose key is still in it.
pub fn keep_mapped_keys(menu: &ApiMenu, map: &ClickMap) -> ClickMap {
    let keys: Vec<&str> = menu
        .button
        .iter()
        .flat_map(|b| std::iter::once(b).chain(b.sub_button.iter()))
        .filter_map(|b| b.key.as_deref())
        .collect();
    map.iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selfmenu(v: serde_json::Value) -> SelfMenu {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_backend_type_is_mapped() {
        let menu = selfmenu(json!({ "is_menu_open": 1, "selfmenu_info": { "button": [
            { "type": "text", "name": "联系 Contact", "value": "客服电话 400" },
            { "name": "更多 More", "sub_button": { "list": [
                { "type": "img", "name": "海报", "value": "MEDIA_IMG" },
                { "type": "voice", "name": "问候", "value": "MEDIA_VOICE" },
                { "type": "video", "name": "视频", "value": "http://v.qq.com/x.mp4" },
                { "type": "video", "name": "短片", "value": "MEDIA_VIDEO" },
                { "type": "news", "name": "新品", "news_info": { "list": [
                    { "title": "春季新品", "digest": "d", "cover_url": "https://c/1.jpg", "content_url": "https://a/1" }
                ]}},
            ]}},
            { "name": "商城", "sub_button": { "list": [
                { "type": "view", "name": "官网", "url": "https://shop.example.com" },
                { "type": "click", "name": "积分", "key": "POINTS" },
                { "type": "miniprogram", "name": "小程序", "url": "https://m.example.com", "appid": "wx123", "pagepath": "pages/index" },
                { "type": "text", "name": "空", "value": "  " },
            ]}},
        ]}}));
        let mapped = map_selfmenu(&menu);
        assert_eq!(
            validate(&mapped.menu),
            vec![],
            "the mapped menu is one menu/create takes"
        );
        let b = &mapped.menu.button;
        assert_eq!(
            (b[0].kind.as_str(), b[0].key.as_deref()),
            ("click", Some("wxhub_menu_1"))
        );
        let more = &b[1].sub_button;
        assert_eq!(
            more.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
            ["click", "click", "view", "click", "click"]
        );
        assert_eq!(more[2].url.as_deref(), Some("http://v.qq.com/x.mp4"));
        assert_eq!(b[2].sub_button.len(), 3, "the empty text is dropped");
        assert_eq!(
            b[2].sub_button[1].key.as_deref(),
            Some("POINTS"),
            "API items are kept as they are"
        );
        assert_eq!(b[2].sub_button[2].pagepath.as_deref(), Some("pages/index"));
        assert_eq!(mapped.dropped.len(), 1);
        let m = &mapped.click_map;
        assert_eq!(
            m["wxhub_menu_1"].reply,
            MappedReply::Text {
                content: "客服电话 400".into()
            }
        );
        assert_eq!(
            m["wxhub_menu_2_1"].reply,
            MappedReply::Image {
                media_id: "MEDIA_IMG".into()
            }
        );
        assert_eq!(
            m["wxhub_menu_2_2"].reply,
            MappedReply::Voice {
                media_id: "MEDIA_VOICE".into()
            }
        );
        assert_eq!(
            m["wxhub_menu_2_4"].reply,
            MappedReply::Video {
                media_id: "MEDIA_VIDEO".into()
            }
        );
        match &m["wxhub_menu_2_5"].reply {
            MappedReply::News { articles } => {
                assert_eq!(articles[0].title, "春季新品");
                assert_eq!(articles[0].url, "https://a/1");
                assert_eq!(articles[0].pic_url, "https://c/1.jpg");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.len(), 5);
        // WeChat's flags as strings read the same; odd ones read as 0.
        let stringy = selfmenu(
            json!({ "is_menu_open": "1", "selfmenu_info": { "button": [{ "type": "news", "name": "n", "news_info": { "list": [{ "title": "t", "show_cover": "1" }] } }] } }),
        );
        assert_eq!(map_selfmenu(&stringy).menu.button.len(), 1);
        assert_eq!(selfmenu(json!({ "is_menu_open": [1] })).is_menu_open, 0);
        // A closed menu maps to nothing.
        let closed = selfmenu(
            json!({ "is_menu_open": 0, "selfmenu_info": { "button": [{ "type": "text", "name": "x", "value": "y" }] } }),
        );
        assert_eq!(map_selfmenu(&closed).menu.button, vec![]);
    }

    fn item(v: serde_json::Value) -> MenuItem {
        serde_json::from_value(v).unwrap()
    }

    fn codes(menu: &ApiMenu) -> Vec<(String, String, i64)> {
        validate(menu)
            .into_iter()
            .map(|p| (p.path, p.field, p.errcode))
            .collect()
    }

    #[test]
    fn the_rules_of_the_menu_api() {
        let ok = item(json!({ "type": "click", "name": "好", "key": "K" }));
        assert_eq!(
            codes(&ApiMenu { button: vec![] }),
            [("".into(), "button".into(), 40016)]
        );
        assert_eq!(
            codes(&ApiMenu {
                button: vec![ok.clone(); 4]
            })[0]
                .2,
            40016
        );
        let long_top = "一二三四五六".to_owned(); // 18 bytes
        let cases: Vec<(MenuItem, (&str, &str, i64))> = vec![
            (
                item(json!({ "type": "click", "name": long_top, "key": "K" })),
                ("1", "name", 40018),
            ),
            (
                item(json!({ "type": "click", "name": "", "key": "K" })),
                ("1", "name", 40018),
            ),
            (
                item(json!({ "type": "text", "name": "a" })),
                ("1", "type", 40017),
            ),
            (
                item(json!({ "type": "click", "name": "a" })),
                ("1", "key", 40019),
            ),
            (
                item(json!({ "type": "click", "name": "a", "key": "k".repeat(129) })),
                ("1", "key", 40019),
            ),
            (
                item(json!({ "type": "view", "name": "a" })),
                ("1", "url", 40020),
            ),
            (
                item(
                    json!({ "type": "view", "name": "a", "url": format!("https://{}", "u".repeat(1020)) }),
                ),
                ("1", "url", 40020),
            ),
            (
                item(json!({ "type": "view", "name": "a", "url": "javascript:alert(1)" })),
                ("1", "url", 40055),
            ),
            (
                item(
                    json!({ "type": "miniprogram", "name": "a", "url": "https://x", "appid": "wx1" }),
                ),
                ("1", "pagepath", 40097),
            ),
            (
                item(json!({ "type": "media_id", "name": "a" })),
                ("1", "media_id", 40097),
            ),
            (
                item(json!({ "type": "article_view_limited", "name": "a" })),
                ("1", "article_id", 40097),
            ),
            (item(json!({ "name": "a" })), ("1", "type", 41007)),
        ];
        for (bad, want) in cases {
            let got = codes(&ApiMenu {
                button: vec![bad.clone()],
            });
            assert_eq!(
                got,
                [(want.0.to_owned(), want.1.to_owned(), want.2)],
                "{bad:?}"
            );
        }
        let sub = |s: MenuItem| ApiMenu {
            button: vec![MenuItem {
                name: "父".into(),
                sub_button: vec![s],
                ..MenuItem::default()
            }],
        };
        assert_eq!(
            codes(&sub(item(
                json!({ "type": "click", "name": "子".repeat(21), "key": "K" })
            ))),
            [("1.1".into(), "name".into(), 40025)]
        );
        assert_eq!(
            codes(&sub(item(
                json!({ "type": "click", "name": "子".repeat(20), "key": "K" })
            ))),
            [],
            "60 bytes is allowed"
        );
        assert_eq!(
            codes(&sub(item(json!({ "type": "voice", "name": "a" })))),
            [("1.1".into(), "type".into(), 40024)]
        );
        assert_eq!(
            codes(&sub(item(
                json!({ "type": "click", "name": "a", "key": "" })
            ))),
            [("1.1".into(), "key".into(), 40026)]
        );
        assert_eq!(
            codes(&sub(item(
                json!({ "type": "view", "name": "a", "url": "" })
            ))),
            [("1.1".into(), "url".into(), 40027)]
        );
        assert_eq!(
            codes(&sub(item(
                json!({ "type": "view", "name": "a", "url": "ftp://x" })
            ))),
            [("1.1".into(), "url".into(), 40054)]
        );
        let nested = item(
            json!({ "name": "a", "sub_button": [{ "type": "click", "name": "b", "key": "K" }] }),
        );
        assert_eq!(
            codes(&sub(nested))[0],
            ("1.1".into(), "sub_button".into(), 40022)
        );
        let six = ApiMenu {
            button: vec![MenuItem {
                name: "父".into(),
                sub_button: vec![ok.clone(); 6],
                ..MenuItem::default()
            }],
        };
        assert_eq!(codes(&six), [("1".into(), "sub_button".into(), 40023)]);
        assert_eq!(
            codes(&ApiMenu {
                button: vec![ok.clone(); 3]
            }),
            []
        );
        // Garbage JSON fields are read as absent, not as a panic.
        let odd: Result<ApiMenu, _> = serde_json::from_value(json!({ "button": [{ "name": 5 }] }));
        assert!(odd.is_err());
    }

    #[test]
    fn diffs_by_position() {
        let before = ApiMenu {
            button: vec![
                item(json!({ "type": "click", "name": "A", "key": "1" })),
                item(json!({ "type": "view", "name": "B", "url": "https://b" })),
            ],
        };
        let after = ApiMenu {
            button: vec![
                item(json!({ "type": "click", "name": "A", "key": "1" })),
                item(json!({ "type": "view", "name": "B", "url": "https://c" })),
                item(json!({ "type": "click", "name": "C", "key": "3" })),
            ],
        };
        let d = diff(&before.lines(), &after.lines());
        assert_eq!(
            d.iter().map(|l| l.change).collect::<Vec<_>>(),
            [Change::Same, Change::Changed, Change::Added]
        );
        let d = diff(&after.lines(), &before.lines());
        assert_eq!(d[2].change, Change::Removed);
        let map: ClickMap = [
            (
                "1".to_owned(),
                MappedClick {
                    name: "A".into(),
                    source_type: "text".into(),
                    reply: MappedReply::Text {
                        content: "x".into(),
                    },
                },
            ),
            (
                "9".to_owned(),
                MappedClick {
                    name: "Z".into(),
                    source_type: "text".into(),
                    reply: MappedReply::Text {
                        content: "z".into(),
                    },
                },
            ),
        ]
        .into();
        assert_eq!(
            keep_mapped_keys(&before, &map).keys().collect::<Vec<_>>(),
            ["1"]
        );
    }
}
