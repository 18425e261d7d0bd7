//! An account's menu takeover: the original menu (as the account's backend made it) beside the
//! mapped one the API can publish, each on a phone-like preview; an editor for the live menu that
//! judges every field by WeChat's rules as the operator types (`crate::menu::validate`, the same
//! rules the server applies); a diff against the live menu before publishing; the history, with a
//! roll-back to any version and "restore the original"; the conditional menus.

use leptos::prelude::*;

use crate::api::{DeleteConditionalMenu, PublishMenu, ReadMenuNow, RollBackMenu};
use crate::dto::{LiveMenu, MenuOverview, MenuVersionDetail};
use crate::i18n::{format_time, use_lang, Lang};
use crate::menu::{self, ApiMenu, Change, MenuItem, MenuLine, MenuProblem, SelfMenu};

/// The types the editor offers, with what they are called.
const EDITOR_TYPES: [(&str, &str, &str); 10] = [
    ("click", "Click (key)", "点击（key）"),
    ("view", "Web page", "跳转网页"),
    ("miniprogram", "Mini program", "跳转小程序"),
    ("media_id", "Material (media_id)", "发送素材（media_id）"),
    ("article_id", "Published article", "发布后的图文"),
    ("scancode_push", "Scan code", "扫码推事件"),
    ("scancode_waitmsg", "Scan code, wait", "扫码带提示"),
    ("pic_sysphoto", "Camera", "系统拍照发图"),
    ("pic_photo_or_album", "Camera or album", "拍照或相册发图"),
    ("location_select", "Location", "发送位置"),
];

fn source_text(lang: Lang, source: &str) -> &'static str {
    match source {
        "fetched" => lang.t("read from WeChat", "从微信读取"),
        "published" => lang.t("published", "已发布"),
        "deleted" => lang.t("menu deleted", "已删除菜单"),
        _ => lang.t("unknown", "未知"),
    }
}

fn type_label(kind: &str) -> String {
    if kind.is_empty() {
        "▸".to_owned()
    } else {
        kind.to_owned()
    }
}

/// A phone-like preview: the top buttons along the bottom, each with its sub-items above it.
/// Every text sits in an element of its own (no text next to an optional node), which keeps
/// hydration's walk through the server's markup unambiguous.
#[component]
fn Phone(lines: Vec<MenuLine>, #[prop(into)] label: String) -> impl IntoView {
    let lang = use_lang();
    let columns: Vec<(MenuLine, Vec<(String, MenuLine)>)> = lines
        .iter()
        .filter(|l| !l.path.contains('.'))
        .map(|top| {
            let prefix = format!("{}.", top.path);
            let subs = lines
                .iter()
                .filter(|l| l.path.starts_with(&prefix))
                .map(|s| {
                    let name = s.label.rsplit(" › ").next().unwrap_or_default().to_owned();
                    (name, s.clone())
                })
                .collect();
            (top.clone(), subs)
        })
        .collect();
    let empty_text = if columns.is_empty() {
        lang.t("No menu", "无菜单")
    } else {
        ""
    };
    view! {
        <div class="phone" data-test="phone" aria-label=label>
            <div class="phone-screen"><p class="muted small phone-empty">{empty_text}</p></div>
            <div class="phone-bar">
                {columns.into_iter().map(|(top, subs)| view! {
                    <div class="phone-col">
                        <ul class="phone-subs">
                            {subs.into_iter().map(|(name, s)| view! {
                                <li data-test="phone-item" data-kind=s.kind.clone() title=s.target.clone()>
                                    <span class="phone-name">{name}</span>
                                    <span class="phone-kind">{type_label(&s.kind)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                        <div class="phone-top" data-test="phone-item" data-kind=top.kind.clone() title=top.target.clone()>
                            <span class="phone-name">{top.label.clone()}</span>
                            <span class="phone-kind">{top.kind.clone()}</span>
                        </div>
                    </div>
                }).collect_view()}
            </div>
        </div>
    }
}

/// The click map: what each mapped key answers.
#[component]
fn ClickMapTable(detail: MenuVersionDetail) -> impl IntoView {
    let lang = use_lang();
    if detail.click_map.is_empty() {
        return view! { <p class="muted small">{lang.t("No item needed mapping.", "没有需要映射的菜单项。")}</p> }.into_any();
    }
    view! {
        <div class="table-wrap"><table class="table small" data-test="click-map">
            <thead><tr><th>{lang.t("Key", "Key")}</th><th>{lang.t("Was", "原菜单")}</th><th>{lang.t("Answers", "回复")}</th></tr></thead>
            <tbody>
                {detail.click_map.iter().map(|(key, c)| view! {
                    <tr data-key=key.clone()>
                        <td class="mono small">{key.clone()}</td>
                        <td>{c.name.clone()}<span class="muted small">{format!(" · {}", c.source_type)}</span></td>
                        <td data-test="mapped-reply">{c.reply.summary()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

fn backend_lines(backend: &Option<SelfMenu>) -> Vec<MenuLine> {
    backend.as_ref().map(SelfMenu::lines).unwrap_or_default()
}

/// The outcome of the menu action that finished last: (English, Chinese, result).
type Outcome = (
    &'static str,
    &'static str,
    Result<i64, crate::error::AppError>,
);

/// The menu page's actions (read now, roll back, delete a conditional menu), the outcome of the last
/// one, and a counter of successful ones (the key of the overview resource). The page owns them, so
/// the section renders inside the page's own Suspense with no nested one.
#[derive(Clone, Copy)]
pub struct MenuActions {
    pub read_now: ServerAction<ReadMenuNow>,
    pub roll_back: ServerAction<RollBackMenu>,
    pub delete_conditional: ServerAction<DeleteConditionalMenu>,
    latest: RwSignal<Option<Outcome>>,
    changed: RwSignal<usize>,
}

impl MenuActions {
    pub fn new() -> Self {
        let actions = Self {
            read_now: ServerAction::new(),
            roll_back: ServerAction::new(),
            delete_conditional: ServerAction::new(),
            latest: RwSignal::new(None),
            changed: RwSignal::new(0),
        };
        let (latest, changed) = (actions.latest, actions.changed);
        let watch = move |version: RwSignal<usize>,
                          value: MappedSignal<Option<Result<i64, crate::error::AppError>>>,
                          en: &'static str,
                          zh: &'static str| {
            Effect::new(move |_| {
                // Keyed on the action's version: each completion once, even when its value repeats.
                if version.get() == 0 {
                    return;
                }
                if let Some(r) = value.get_untracked() {
                    if r.is_ok() {
                        changed.update(|n| *n += 1);
                    }
                    latest.set(Some((en, zh, r)));
                }
            });
        };
        watch(
            actions.roll_back.version(),
            actions.roll_back.value(),
            "Published again as version",
            "已重新发布，版本",
        );
        watch(
            actions.read_now.version(),
            actions.read_now.value(),
            "The live menu is version",
            "当前菜单为版本",
        );
        let deleted = actions.delete_conditional;
        Effect::new(move |_| {
            if deleted.version().get() == 0 {
                return;
            }
            if let Some(r) = deleted.value().get_untracked() {
                if r.is_ok() {
                    changed.update(|n| *n += 1);
                }
                latest.set(Some((
                    "Conditional menu deleted; the live menu is version",
                    "已删除个性化菜单；当前菜单为版本",
                    r.map(|()| 0),
                )));
            }
        });
        actions
    }

    /// Changes whenever an action succeeded: the key of the overview resource.
    pub fn changed(&self) -> usize {
        self.changed.get()
    }
}

/// An Official Account's menu page (`/accounts/{appid}/menu`): the takeover and the editor. Its
/// own route, so the account page does not carry the editor's code (docs/benchmarks.md).
#[component]
pub fn MenuPage() -> impl IntoView {
    let lang = use_lang();
    let params = leptos_router::hooks::use_params_map();
    let appid = move || params.with(|p| p.get("appid").unwrap_or_default());
    let actions = MenuActions::new();
    let menus = crate::page_data::page_resource(
        move || (appid(), actions.changed()),
        |(a, _)| crate::api::account_menus(a),
    );
    view! {
        <leptos_meta::Title text=lang.t("Menu", "菜单")/>
        <p class="small"><a href=move || format!("/accounts/{}", appid()) data-test="back-to-account">{lang.t("← The account", "← 返回账号")}</a></p>
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                let overview = menus.await;
                let name = overview.as_ref().map(|o| o.name.clone()).unwrap_or_default();
                view! {
                    {menu_heading(lang, ("Menu", "自定义菜单"), name, appid())}
                    <MenuWorkbench overview=overview actions=actions/>
                }
            })}
        </Transition>
    }
}

/// The menu pages' heading: what the page is, the account's name once WeChat has told it, and
/// its appid.
fn menu_heading(
    lang: Lang,
    (en, zh): (&'static str, &'static str),
    name: String,
    appid: String,
) -> impl IntoView {
    view! {
        <h1>{lang.t(en, zh)}{(!name.is_empty()).then(|| format!(" · {name}"))} " " <code class="small">{appid}</code></h1>
    }
}

/// The live menu's editor (`/accounts/{appid}/menu/edit`). A page of its own, so neither the menu
/// page nor the editor carries the other's code (docs/benchmarks.md). A refused publication keeps
/// the draft: the menu is read again only after a publication WeChat took.
#[component]
pub fn MenuEditPage() -> impl IntoView {
    let lang = use_lang();
    let params = leptos_router::hooks::use_params_map();
    let appid = move || params.with(|p| p.get("appid").unwrap_or_default());
    let publish = ServerAction::<PublishMenu>::new();
    let published = RwSignal::new(0usize);
    Effect::new(move |_| {
        if publish.version().get() > 0 && matches!(publish.value().get_untracked(), Some(Ok(_))) {
            published.update(|n| *n += 1);
        }
    });
    let menus = crate::page_data::page_resource(
        move || (appid(), published.get()),
        |(a, _)| crate::api::menu_draft_base(a),
    );
    let outcome = move || {
        publish.value().get().map(|r| match r {
            Ok(version) => view! { <p class="notice" role="status" data-test="menu-outcome">{format!("{} {version}", lang.t("Published as version", "已发布，版本"))}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert" data-test="menu-error">{e.message(lang)}</p> }.into_any(),
        })
    };
    view! {
        <leptos_meta::Title text=lang.t("Edit the menu", "编辑菜单")/>
        <p class="small"><a href=move || format!("/accounts/{}/menu", appid()) data-test="back-to-menu">{lang.t("← The menu, its versions and the takeover", "← 返回菜单、版本与接管")}</a></p>
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match menus.await {
                    Err(e) => view! {
                        {menu_heading(lang, ("Edit the menu", "编辑菜单"), String::new(), appid())}
                        <p class="error" role="alert">{e.message(lang)}</p>
                    }.into_any(),
                    Ok(o) => view! {
                        {menu_heading(lang, ("Edit the menu", "编辑菜单"), o.name.clone(), o.appid.clone())}
                        <div class="menu-outcomes">{outcome}</div>
                        {match (o.can_publish, o.live) {
                        (true, Some(live)) => view! {
                            <section class="card"><MenuEditor appid=o.appid.clone() live=live publish=publish/></section>
                        }.into_any(),
                        (false, _) => view! { <p class="notice">{lang.t("Only an admin of an authorized account's tenant can edit its menu.", "只有已授权账号所属租户的管理员可以编辑菜单。")}</p> }.into_any(),
                        (true, None) => view! { <p class="notice" data-test="no-menu-versions">{lang.t("No menu has been read yet: read the live menu on the menu page first.", "尚未读取过菜单：请先在菜单页读取当前菜单。")}</p> }.into_any(),
                        }}
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The whole menu section of an account's menu page.
#[component]
pub fn MenuWorkbench(
    overview: Result<MenuOverview, crate::error::AppError>,
    actions: MenuActions,
) -> impl IntoView {
    let lang = use_lang();
    let MenuActions {
        read_now,
        roll_back,
        delete_conditional,
        latest,
        ..
    } = actions;
    let outcome = move || {
        latest.get().map(|(en, zh, r)| match r {
            Ok(version) if version > 0 => view! { <p class="notice" role="status" data-test="menu-outcome">{format!("{} {version}", lang.t(en, zh))}</p> }.into_any(),
            Ok(_) => view! { <p class="notice" role="status" data-test="menu-outcome">{lang.t("Done.", "已完成。")}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert" data-test="menu-error">{e.message(lang)}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" data-test="menu-takeover">
            <h2>{lang.t("Menu takeover", "菜单接管")}</h2>
            <p class="muted small">{lang.t(
                "Items made in the account's own backend (text, image, voice, video, news) stop answering once a platform handles its messages. wxhub maps each to a click item and answers the click with the same content.",
                "在公众号后台创建的文字、图片、语音、视频、图文菜单，在第三方平台接管消息后将不再回复。wxhub 将其映射为点击菜单，并以原内容回复点击。")}</p>
            <div class="menu-outcomes">{outcome}</div>
            {match overview {
                Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                Ok(o) => view! { <div class="menu-body"><MenuBody o=o read_now=read_now roll_back=roll_back delete_conditional=delete_conditional/></div> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn MenuBody(
    o: MenuOverview,
    read_now: ServerAction<ReadMenuNow>,
    roll_back: ServerAction<RollBackMenu>,
    delete_conditional: ServerAction<DeleteConditionalMenu>,
) -> impl IntoView {
    let lang = use_lang();
    let appid = o.appid.clone();
    let can = o.can_publish;
    let appid_read = appid.clone();
    let newest = o.versions.first().map(|v| v.version);
    let original_version = o.original.as_ref().map(|v| v.version);
    view! {
        {o.unavailable.clone().map(|(en, zh)| view! { <p class="notice" data-test="menu-unavailable">{lang.t(&en, &zh).to_owned()}</p> })}
        {can.then(|| view! {
            <p><button type="button" class="button small" data-test="read-menu-now" disabled=move || read_now.pending().get()
                on:click=move |_| { read_now.dispatch(ReadMenuNow { appid: appid_read.clone() }); }>
                {lang.t("Read the live menu now", "立即读取当前菜单")}
            </button></p>
        })}
        {match o.original.clone() {
            None => view! { <p class="muted" data-test="no-menu-versions">{lang.t("No menu has been read yet.", "尚未读取过菜单。")}</p> }.into_any(),
            Some(original) => view! {
                <div class="grid-2 menu-compare">
                    <div data-test="menu-original">
                        <h3>{lang.t("Original", "原菜单")}<span class="muted small">{format!(" · v{} · {}", original.version, format_time(original.created_at))}</span></h3>
                        <Phone lines=backend_lines(&original.backend) label="original"/>
                        {(!original.dropped.is_empty()).then(|| view! {
                            <ul class="small warn" data-test="menu-dropped">
                                {original.dropped.iter().map(|(name, en, zh)| view! { <li>{format!("{name}: {}", lang.t(en, zh))}</li> }).collect_view()}
                            </ul>
                        })}
                    </div>
                    <div data-test="menu-mapped">
                        <h3>{lang.t("Mapped for the menu API", "映射后的菜单")}</h3>
                        <Phone lines=original.menu.lines() label="mapped"/>
                        {(can && original.menu.button.is_empty()).then(|| view! {
                            <p class="muted small" data-test="mapped-empty">{lang.t(
                                "The original had no menu. Restoring it deletes the live menu and every conditional menu.",
                                "原菜单为空。恢复原菜单将删除当前菜单及所有个性化菜单。")}</p>
                        })}
                        {(can && !original.menu.button.is_empty()).then(|| {
                            let appid = appid.clone();
                            let version = original.version;
                            view! {
                                <p><button type="button" class="button primary small" data-test="publish-mapped" disabled=move || roll_back.pending().get()
                                    on:click=move |_| {
                                        if window().confirm_with_message(lang.t("Publish the mapped menu? Followers see it within 5 minutes, and its items answer as before.", "确定发布映射后的菜单？粉丝将在 5 分钟内看到，菜单项的回复与原来一致。")).unwrap_or(false) {
                                            roll_back.dispatch(RollBackMenu { appid: appid.clone(), version });
                                        }
                                    }>{lang.t("Publish the mapped menu", "发布映射后的菜单")}</button></p>
                            }
                        })}
                        <ClickMapTable detail=original.clone()/>
                    </div>
                </div>
            }.into_any(),
        }}
        {o.live.clone().filter(|l| Some(l.version) != o.original.as_ref().map(|x| x.version)).map(|live| view! {
            <div data-test="menu-live">
                <h3>{lang.t("Live now", "当前菜单")}<span class="muted small">{format!(" · v{} · {} · {}", live.version, source_text(lang, &live.source), live.actor)}</span></h3>
                <Phone lines=live.menu.lines() label="live"/>
            </div>
        })}
        {(can && o.live.is_some()).then(|| view! {
            <p><a class="button" data-test="menu-edit-link" href=format!("/accounts/{appid}/menu/edit")>{lang.t("Edit the live menu", "编辑当前菜单")}</a></p>
        })}
        <h3>{lang.t("History", "历史版本")}</h3>
        <div class="table-wrap"><table class="table" data-test="menu-history">
            <thead><tr><th>"v"</th><th>{lang.t("What", "类型")}</th><th>{lang.t("When", "时间")}</th><th>{lang.t("Who", "操作者")}</th><th>{lang.t("Note", "备注")}</th><th>{lang.t("Items", "菜单项")}</th><th></th></tr></thead>
            <tbody>
                {o.versions.iter().map(|v| {
                    let version = v.version;
                    let appid = appid.clone();
                    let label = if Some(version) == original_version { lang.t("Restore the original", "恢复原菜单") } else { lang.t("Roll back to this", "回滚到此版本") };
                    view! {
                        <tr data-version=version.to_string()>
                            <td>{version}</td>
                            <td>{source_text(lang, &v.source)}</td>
                            <td class="nowrap">{format_time(v.created_at)}</td>
                            <td>{v.actor.clone()}</td>
                            <td class="small">{v.note.clone()}</td>
                            <td>{v.items}</td>
                            <td class="actions">
                                {(can && (Some(version) == original_version || Some(version) != newest)).then(|| view! {
                                    <button type="button" class="button ghost small" data-test="roll-back" disabled=move || roll_back.pending().get()
                                        on:click=move |_| {
                                            if window().confirm_with_message(lang.t("Publish this version to WeChat? Followers see it within 5 minutes.", "确定将此版本发布到微信？粉丝将在 5 分钟内看到。")).unwrap_or(false) {
                                                roll_back.dispatch(RollBackMenu { appid: appid.clone(), version });
                                            }
                                        }>{label}</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
        <h3>{lang.t("Conditional menus", "个性化菜单")}</h3>
        {if o.conditional.is_empty() {
            view! { <p class="muted small" data-test="no-conditional">{lang.t("None.", "无。")}</p> }.into_any()
        } else {
            view! {
                <ul class="conditional" data-test="conditional-menus">
                    {o.conditional.iter().map(|c| {
                        let menuid = c.menuid.clone();
                        let appid = appid.clone();
                        view! {
                            <li data-menuid=c.menuid.clone()>
                                <strong class="mono">{c.menuid.clone()}</strong>" "<span class="muted small">{c.rule.clone()}</span>
                                <span class="small">{c.lines.iter().map(|l| l.label.clone()).collect::<Vec<_>>().join(" · ")}</span>
                                {can.then(|| view! {
                                    <button type="button" class="button ghost small danger" data-test="delete-conditional"
                                        on:click=move |_| {
                                            if window().confirm_with_message(lang.t("Delete this conditional menu?", "确定删除此个性化菜单？")).unwrap_or(false) {
                                                delete_conditional.dispatch(DeleteConditionalMenu { appid: appid.clone(), menuid: menuid.clone() });
                                            }
                                        }>{lang.t("Delete", "删除")}</button>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

/// Which item of the draft: a top-level index and, for a sub-item, its index.
#[derive(Clone, Copy, PartialEq, Eq)]
struct At(usize, Option<usize>);

impl At {
    fn path(self) -> String {
        match self.1 {
            None => format!("{}", self.0 + 1),
            Some(j) => format!("{}.{}", self.0 + 1, j + 1),
        }
    }
}

fn item_mut(m: &mut ApiMenu, at: At) -> Option<&mut MenuItem> {
    let top = m.button.get_mut(at.0)?;
    match at.1 {
        None => Some(top),
        Some(j) => top.sub_button.get_mut(j),
    }
}

fn item_ref(m: &ApiMenu, at: At) -> Option<&MenuItem> {
    let top = m.button.get(at.0)?;
    match at.1 {
        None => Some(top),
        Some(j) => top.sub_button.get(j),
    }
}

/// The fields an item of `kind` shows.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "view" => &["url"],
        "miniprogram" => &["url", "appid", "pagepath"],
        "media_id" | "view_limited" => &["media_id"],
        "article_id" | "article_view_limited" => &["article_id"],
        "" => &[],
        _ => &["key"],
    }
}

fn get_field(item: &MenuItem, field: &str) -> String {
    match field {
        "name" => Some(item.name.clone()),
        "key" => item.key.clone(),
        "url" => item.url.clone(),
        "media_id" => item.media_id.clone(),
        "article_id" => item.article_id.clone(),
        "appid" => item.appid.clone(),
        "pagepath" => item.pagepath.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

fn set_field(item: &mut MenuItem, field: &str, value: String) {
    let slot = match field {
        "name" => {
            item.name = value;
            return;
        }
        "key" => &mut item.key,
        "url" => &mut item.url,
        "media_id" => &mut item.media_id,
        "article_id" => &mut item.article_id,
        "appid" => &mut item.appid,
        "pagepath" => &mut item.pagepath,
        _ => return,
    };
    *slot = Some(value);
}

/// Keeps only the fields a type uses, so a changed type sends nothing stale.
fn retype(item: &mut MenuItem, kind: &str) {
    let keep = fields_of(kind);
    item.kind = kind.to_owned();
    for (field, slot) in [
        ("key", &mut item.key),
        ("url", &mut item.url),
        ("media_id", &mut item.media_id),
        ("article_id", &mut item.article_id),
        ("appid", &mut item.appid),
        ("pagepath", &mut item.pagepath),
    ] {
        if !keep.contains(&field) {
            *slot = None;
        }
    }
}

/// The shape of the draft (what the editor's rows are): re-rendered only when it changes, so
/// typing in a field never rebuilds the form under the cursor.
fn shape(m: &ApiMenu) -> Vec<(String, Vec<String>)> {
    m.button
        .iter()
        .map(|b| {
            (
                if b.is_parent() {
                    String::new()
                } else {
                    b.kind.clone()
                },
                b.sub_button.iter().map(|s| s.kind.clone()).collect(),
            )
        })
        .collect()
}

#[component]
fn MenuEditor(appid: String, live: LiveMenu, publish: ServerAction<PublishMenu>) -> impl IntoView {
    let lang = use_lang();
    let draft = RwSignal::new(live.menu.clone());
    let live_lines = live.menu.lines();
    let problems = Memo::new(move |_| draft.with(menu::validate));
    let shape = Memo::new(move |_| draft.with(shape));
    let reviewing = RwSignal::new(false);
    let base_version = live.version;
    let field_error = move |at: At, field: &'static str| {
        move || {
            problems.with(|ps: &Vec<MenuProblem>| {
                ps.iter()
                    .find(|p| p.path == at.path() && p.field == field)
                    .map(|p| view! { <span class="field-error" role="alert" data-field=format!("{}.{}", p.path, p.field)>{lang.t(&p.en, &p.zh).to_owned()}</span> })
            })
        }
    };
    let row = move |at: At| {
        let kind = draft.with_untracked(|m| {
            item_ref(m, at)
                .map(|i| {
                    if i.is_parent() {
                        String::new()
                    } else {
                        i.kind.clone()
                    }
                })
                .unwrap_or_default()
        });
        let parent = draft.with_untracked(|m| item_ref(m, at).is_some_and(MenuItem::is_parent));
        let id = format!("menu-{}", at.path().replace('.', "-"));
        view! {
            <div class=if at.1.is_some() { "menu-row sub" } else { "menu-row" } data-path=at.path()>
                <label class="small" for=format!("{id}-name")>{at.path()}</label>
                <input id=format!("{id}-name") class="menu-name" data-test="menu-name" maxlength="80"
                    prop:value=move || draft.with(|m| item_ref(m, at).map(|i| i.name.clone()).unwrap_or_default())
                    on:input=move |ev| { let v = event_target_value(&ev); draft.update(|m| if let Some(i) = item_mut(m, at) { i.name = v; }); }/>
                {field_error(at, "name")}
                {(!parent).then(|| view! {
                    <select data-test="menu-type" aria-label="type"
                        on:change=move |ev| { let v = event_target_value(&ev); draft.update(|m| if let Some(i) = item_mut(m, at) { retype(i, &v); }); }>
                        {(at.1.is_none()).then(|| view! { <option value="" selected=kind.is_empty()>{lang.t("— has sub-items —", "— 含子菜单 —")}</option> })}
                        {EDITOR_TYPES.iter().map(|(value, en, zh)| view! { <option value=*value selected=kind == *value>{lang.t(en, zh)}</option> }).collect_view()}
                        {(!kind.is_empty() && !EDITOR_TYPES.iter().any(|(v, ..)| *v == kind)).then(|| view! { <option value=kind.clone() selected=true>{kind.clone()}</option> })}
                    </select>
                })}
                {field_error(at, "type")}
                {fields_of(&kind).iter().map(|field| {
                    let field: &'static str = field;
                    view! {
                        <input class="menu-field" data-test=format!("menu-{field}") placeholder=field aria-label=field
                            prop:value=move || draft.with(|m| item_ref(m, at).map(|i| get_field(i, field)).unwrap_or_default())
                            on:input=move |ev| { let v = event_target_value(&ev); draft.update(|m| if let Some(i) = item_mut(m, at) { set_field(i, field, v); }); }/>
                        {field_error(at, field)}
                    }
                }).collect_view()}
                <button type="button" class="button ghost small danger" data-test="menu-remove" title=lang.t("Remove", "删除")
                    on:click=move |_| draft.update(|m| match at.1 {
                        None => { if at.0 < m.button.len() { m.button.remove(at.0); } }
                        Some(j) => if let Some(top) = m.button.get_mut(at.0) { if j < top.sub_button.len() { top.sub_button.remove(j); } },
                    })>"×"</button>
                {field_error(at, "sub_button")}
            </div>
        }
    };
    view! {
        <h3>{lang.t("Edit the live menu", "编辑当前菜单")}<span class="muted small">{format!(" · {} v{base_version}", lang.t("from", "基于"))}</span></h3>
        <div class="grid-2 menu-editor" data-test="menu-editor">
            <div>
                {move || {
                    let s = shape.get();
                    view! {
                        {problems.with(|ps| ps.iter().filter(|p| p.path.is_empty()).map(|p| view! { <p class="field-error" role="alert" data-field="menu">{lang.t(&p.en, &p.zh).to_owned()}</p> }).collect_view())}
                        {s.into_iter().enumerate().map(|(i, (kind, subs))| {
                            let is_parent = kind.is_empty();
                            view! {
                                <fieldset class="menu-top">
                                    {row(At(i, None))}
                                    {subs.into_iter().enumerate().map(|(j, _)| row(At(i, Some(j)))).collect_view()}
                                    {is_parent.then(|| view! {
                                        <button type="button" class="button ghost small" data-test="menu-add-sub"
                                            on:click=move |_| draft.update(|m| if let Some(top) = m.button.get_mut(i) {
                                                top.sub_button.push(MenuItem { name: String::new(), kind: "click".into(), key: Some(String::new()), ..MenuItem::default() });
                                            })>{lang.t("+ sub-item", "+ 子菜单")}</button>
                                    })}
                                </fieldset>
                            }
                        }).collect_view()}
                    }
                }}
                <button type="button" class="button ghost small" data-test="menu-add-top"
                    on:click=move |_| draft.update(|m| m.button.push(MenuItem { name: String::new(), kind: "click".into(), key: Some(String::new()), ..MenuItem::default() }))>
                    {lang.t("+ top-level button", "+ 一级菜单")}
                </button>
                <p>
                    <button type="button" class="button" data-test="menu-review" on:click=move |_| reviewing.set(true)>{lang.t("Review changes", "查看变更")}</button>
                    " "
                    <button type="button" class="button ghost small" on:click=move |_| { draft.set(live.menu.clone()); reviewing.set(false); }>{lang.t("Discard edits", "放弃修改")}</button>
                </p>
            </div>
            <div>
                {move || view! { <Phone lines=draft.with(ApiMenu::lines) label="draft"/> }}
            </div>
        </div>
        {move || reviewing.get().then(|| {
            let changes = menu::diff(&live_lines, &draft.with(ApiMenu::lines));
            let changed = changes.iter().filter(|d| d.change != Change::Same).count();
            let valid = problems.with(Vec::is_empty);
            let appid = appid.clone();
            view! {
                <div class="menu-diff" data-test="menu-diff">
                    <h4>{format!("{} {changed}", lang.t("Changes against the live menu:", "相对当前菜单的变更："))}</h4>
                    <ul>
                        {changes.into_iter().filter(|d| d.change != Change::Same).map(|d| {
                            let (class, word) = match d.change {
                                Change::Added => ("added", lang.t("added", "新增")),
                                Change::Removed => ("removed", lang.t("removed", "移除")),
                                _ => ("changed", lang.t("changed", "修改")),
                            };
                            let show = |l: &Option<MenuLine>| l.as_ref().map(|l| format!("{} [{}] {}", l.label, type_label(&l.kind), l.target)).unwrap_or_default();
                            view! { <li class=class data-change=class>{format!("{} {word}: {} → {}", d.path, show(&d.before), show(&d.after))}</li> }
                        }).collect_view()}
                    </ul>
                    {(!valid).then(|| view! { <p class="field-error" role="alert">{lang.t("Fix the fields marked above first.", "请先修正上面标出的字段。")}</p> })}
                    <button type="button" class="button primary" data-test="menu-publish" disabled=move || !valid || changed == 0 || publish.pending().get()
                        on:click=move |_| {
                            let menu_json = draft.with_untracked(|m| serde_json::to_string(m).unwrap_or_default());
                            publish.dispatch(PublishMenu { appid: appid.clone(), menu_json, base_version });
                            reviewing.set(false);
                        }>{lang.t("Publish to WeChat", "发布到微信")}</button>
                </div>
            }
        })}
    }
}
