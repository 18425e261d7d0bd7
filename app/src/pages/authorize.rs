//! The pages an account owner sees, without signing in: the link page (QR code for phones, a
//! button to WeChat's PC page) and the page WeChat redirects back to.
//!
//! Both render completely on the server (`SsrMode::Async`): the QR `<svg>` and the PC link are in
//! the first HTML, so a phone without JavaScript still works. Hydration adds what needs a clock:
//! the link page fetches a fresh pre_auth_code before the current one expires and asks every two
//! seconds whether an account has authorized through it.

use std::time::Duration;

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{authorization_done, public_link, public_link_landed};
use crate::dto::{AccountKindLabel, AuthorizedAccount, DoneOutcome, PublicLink, ReadyLink};
use crate::i18n::{use_lang, Lang};
use crate::pages::LangSwitch;
use crate::permissions;

fn auth_type_text(lang: Lang, auth_type: u8) -> &'static str {
    match auth_type {
        1 => lang.t("an Official Account", "公众号"),
        2 => lang.t("a Mini Program", "小程序"),
        _ => lang.t("an Official Account or a Mini Program", "公众号或小程序"),
    }
}

pub fn kind_text(lang: Lang, kind: AccountKindLabel) -> &'static str {
    match kind {
        AccountKindLabel::Service => lang.t("Service account", "服务号"),
        AccountKindLabel::Subscription => lang.t("Subscription account", "订阅号"),
        AccountKindLabel::MiniProgram => lang.t("Mini Program", "小程序"),
        AccountKindLabel::Unknown => lang.t("Account", "账号"),
    }
}

/// Permission set names in the page's language.
pub fn permission_name(lang: Lang, id: i64) -> String {
    match lang {
        Lang::En => permissions::name_en(id),
        Lang::Zh => permissions::name_zh(id),
    }
}

#[component]
fn PublicFrame(children: Children) -> impl IntoView {
    view! {
        <main class="public">
            <div class="public-top"><span class="brand">"wxhub"</span><LangSwitch/></div>
            {children()}
        </main>
    }
}

#[component]
fn Landed(account: AuthorizedAccount) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="card landed" data-test="landed" role="status">
            <h2>{lang.t("Authorized", "授权成功")}</h2>
            <p>
                <strong data-test="landed-name">{if account.name.is_empty() { account.appid.clone() } else { account.name.clone() }}</strong>
                " · " {kind_text(lang, account.kind)} " · " <code>{account.appid.clone()}</code>
            </p>
            <p class="muted">{lang.t("Permission sets granted:", "已授权的权限集：")}</p>
            <ul class="chips" data-test="landed-permissions">
                {account.permissions.iter().map(|id| view! { <li class="chip">{permission_name(lang, *id)}</li> }).collect_view()}
            </ul>
            <p class="muted">{lang.t("You can close this page.", "可以关闭此页面了。")}</p>
        </section>
    }
}

/// `/authorize/{link}`.
#[component]
pub fn LinkPage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let public_id = move || params.with(|p| p.get("link").unwrap_or_default());
    let link = page_resource(public_id, public_link);
    let (landed, set_landed) = signal(None::<AuthorizedAccount>);
    // The server's sealed note of when this page was opened: an authorization counts as "through
    // this page" from then on (the first one is kept across code renewals).
    let opened_at = StoredValue::new(None::<String>);

    // Renew the code before it expires, for as long as the page is open.
    Effect::new(move |_| {
        if let Some(Ok(PublicLink::Ready(ready))) = link.get() {
            if opened_at.get_value().is_none() {
                opened_at.set_value(Some(ready.landing_ticket.clone()));
            }
            let delay = (ready.renew_at - ready.server_now).max(5_000) as u64;
            set_timeout(move || link.refetch(), Duration::from_millis(delay));
        } else if let Some(Ok(PublicLink::Unavailable)) = link.get() {
            set_timeout(move || link.refetch(), Duration::from_secs(20));
        }
    });
    // Ask whether an account has authorized through this link.
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        let poll = move || {
            if landed.get_untracked().is_some() {
                return;
            }
            let Some(ticket) = opened_at.get_value() else {
                return;
            };
            let id = public_id();
            leptos::task::spawn_local(async move {
                if let Ok(Some(account)) = public_link_landed(id, ticket).await {
                    set_landed.set(Some(account));
                }
            });
        };
        set_interval(poll, Duration::from_secs(2));
        true
    });

    view! {
        <Title text=lang.t("Authorize", "授权")/>
        <PublicFrame>
            <Suspense fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok(PublicLink::Ready(ready)) => view! { <ReadyView ready landed/> }.into_any(),
                        Ok(PublicLink::Expired) => gone(lang, lang.t("This link has expired", "此授权链接已过期"),
                            lang.t("Ask whoever sent it for a new one.", "请联系发送链接的人获取新的链接。")).into_any(),
                        Ok(PublicLink::Revoked) => gone(lang, lang.t("This link has been withdrawn", "此授权链接已停用"),
                            lang.t("Ask whoever sent it for a new one.", "请联系发送链接的人获取新的链接。")).into_any(),
                        Ok(PublicLink::Unknown) => {
                            #[cfg(feature = "ssr")]
                            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                                response.set_status(http::StatusCode::NOT_FOUND);
                            }
                            gone(lang, lang.t("No such authorization link", "授权链接不存在"),
                                lang.t("Check that the address was copied completely.", "请检查链接是否完整复制。")).into_any()
                        }
                        Ok(PublicLink::Unavailable) => gone(lang, lang.t("Authorization is briefly unavailable", "暂时无法发起授权"),
                            lang.t("WeChat could not be reached just now. This page tries again by itself; you can also reload it in a minute.",
                                "暂时无法连接微信。本页面会自动重试，你也可以稍后刷新。")).into_any(),
                        Err(e) => gone(lang, lang.t("Something went wrong", "出错了"), &e.message(lang)).into_any(),
                    }
                })}
            </Suspense>
        </PublicFrame>
    }
}

fn gone(_lang: Lang, title: &str, text: &str) -> impl IntoView {
    view! {
        <section class="card narrow center" data-test="link-problem">
            <h1>{title.to_owned()}</h1>
            <p class="muted">{text.to_owned()}</p>
        </section>
    }
}

#[component]
fn ReadyView(ready: ReadyLink, landed: ReadSignal<Option<AuthorizedAccount>>) -> impl IntoView {
    let lang = use_lang();
    let what = auth_type_text(lang, ready.auth_type);
    view! {
        <section class="card authorize" data-test="link-ready">
            <h1>{lang.t("Authorize ", "授权给 ")}{ready.platform_name.clone()}</h1>
            <p class="muted">
                {match lang {
                    Lang::En => format!("Authorize {} to manage {what} on your behalf. Only an administrator of the account can confirm.", ready.platform_name),
                    Lang::Zh => format!("授权后，{} 将代为管理你的{what}。需由账号管理员扫码确认。", ready.platform_name),
                }}
            </p>
            <Show when=move || landed.get().is_some()>
                {move || landed.get().map(|account| view! { <Landed account/> })}
            </Show>
            <div class="authorize-ways">
                <div class="way">
                    <h2>{lang.t("On your phone", "手机扫码")}</h2>
                    <div class="qr" data-test="qr" inner_html=ready.qr_svg.clone()></div>
                    <p class="muted small">{lang.t("Scan with WeChat and confirm.", "使用微信扫一扫，并在手机上确认。")}</p>
                    <a class="small" href=ready.mobile_url.clone() data-test="mobile-link">{lang.t("Already inside WeChat? Tap here.", "已在微信中打开？点此授权")}</a>
                </div>
                <div class="way">
                    <h2>{lang.t("On a computer", "电脑端")}</h2>
                    <p class="muted small">{lang.t("Open WeChat's authorization page and scan the code it shows with the administrator's WeChat.",
                        "打开微信公众平台授权页，用管理员微信扫码确认。")}</p>
                    <a class="button primary" href=ready.pc_url.clone() data-test="pc-link">{lang.t("Authorize on WeChat's page", "前往微信授权页")}</a>
                </div>
            </div>
            <p class="muted small" data-test="code-expiry">
                {lang.t("This page renews itself while it stays open.", "页面保持打开时会自动更新授权码。")}
            </p>
        </section>
    }
}

/// `/authorize/{link}/done` — where WeChat sends the owner back with `auth_code`.
#[component]
pub fn DonePage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let query = use_query_map();
    let outcome = page_resource(
        move || {
            (
                params.with(|p| p.get("link").unwrap_or_default()),
                query.with(|q| q.get("auth_code")),
            )
        },
        |(link, code)| authorization_done(link, code),
    );
    // Still being exchanged: look again shortly.
    Effect::new(move |_| {
        if let Some(Ok(DoneOutcome::Pending)) = outcome.get() {
            set_timeout(move || outcome.refetch(), Duration::from_secs(2));
        }
    });
    view! {
        <Title text=lang.t("Authorization", "授权结果")/>
        <PublicFrame>
            <Suspense fallback=move || view! { <p class="loading">{lang.t("Checking with WeChat…", "正在向微信确认…")}</p> }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")]
                    let status = |code: u16| {
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            if let Ok(s) = http::StatusCode::from_u16(code) { response.set_status(s); }
                        }
                    };
                    #[cfg(not(feature = "ssr"))]
                    let status = |_code: u16| {};
                    let body = match outcome.await {
                        Ok(DoneOutcome::Authorized(account)) => view! {
                            <section class="card narrow" data-test="done" data-outcome="authorized">
                                <h1>{lang.t("All done", "授权完成")}</h1>
                                <Landed account/>
                            </section>
                        }.into_any(),
                        Ok(DoneOutcome::Pending) => {
                            status(202);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="pending">
                                    <h1>{lang.t("Almost there", "即将完成")}</h1>
                                    <p class="muted">{lang.t("WeChat confirmed the authorization and we are finishing it. This page updates by itself.",
                                        "微信已确认授权，正在处理中，本页面会自动更新。")}</p>
                                </section>
                            }.into_any()
                        }
                        Ok(DoneOutcome::Failed) => {
                            status(502);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="failed">
                                    <h1>{lang.t("The authorization did not go through", "授权未完成")}</h1>
                                    <p>{lang.t("WeChat did not accept this authorization (the code may have expired or been used).",
                                        "微信未接受此次授权（授权码可能已过期或已使用）。")}</p>
                                    <p class="muted">{lang.t("Go back to the authorization page you were given and scan again.",
                                        "请回到收到的授权页面重新扫码。")}</p>
                                </section>
                            }.into_any()
                        }
                        Ok(DoneOutcome::MissingCode) => {
                            status(400);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="missing-code">
                                    <h1>{lang.t("No authorization arrived", "没有收到授权")}</h1>
                                    <p class="muted">{lang.t("This address is where WeChat sends you after you confirm. Start from the authorization page you were given.",
                                        "此页面用于微信确认授权后的跳转。请从收到的授权页面开始。")}</p>
                                </section>
                            }.into_any()
                        }
                        Ok(DoneOutcome::UnknownLink) => {
                            status(404);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="unknown-link">
                                    <h1>{lang.t("No such authorization link", "授权链接不存在")}</h1>
                                    <p class="muted">{lang.t("Check that the address was copied completely.", "请检查链接是否完整复制。")}</p>
                                </section>
                            }.into_any()
                        }
                        Ok(DoneOutcome::LinkRevoked) => {
                            status(410);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="link-revoked">
                                    <h1>{lang.t("This link has been withdrawn", "此授权链接已停用")}</h1>
                                    <p class="muted">{lang.t("Nothing was done. Ask whoever sent it for a new one.", "未做任何处理。请联系发送链接的人获取新的链接。")}</p>
                                </section>
                            }.into_any()
                        }
                        Ok(DoneOutcome::LinkExpired) => {
                            status(410);
                            view! {
                                <section class="card narrow" data-test="done" data-outcome="link-expired">
                                    <h1>{lang.t("This link has expired", "此授权链接已过期")}</h1>
                                    <p class="muted">{lang.t("Nothing was done here. Ask whoever sent it for a new one.", "此处未做任何处理。请联系发送链接的人获取新的链接。")}</p>
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! {
                            <section class="card narrow" data-test="done" data-outcome="error">
                                <h1>{lang.t("Something went wrong", "出错了")}</h1>
                                <p class="muted">{e.message(lang)}</p>
                            </section>
                        }.into_any(),
                    };
                    body
                })}
            </Suspense>
        </PublicFrame>
    }
}
