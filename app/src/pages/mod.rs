//! The pages. `Console` is the signed-in frame (top bar, navigation by role); the public pages
//! (`authorize`) have their own light frame. Every label is bilingual (see `i18n`).

mod accounts;
mod alerts;
mod authorize;
mod charts;
mod code;
mod components;
mod console;
mod links;
mod login;
mod menus;
mod overview;
mod platform;
mod team;
mod webhooks;

pub use accounts::{AccountPage, AccountsPage};
pub use alerts::AlertsPage;
pub use authorize::{DonePage, LinkPage};
pub use code::{CodePage, ReleasesPage};
pub use components::ComponentsPage;
pub use console::{Console, Dashboard};
pub use links::LinksPage;
pub use login::LoginPage;
pub use menus::{MenuEditPage, MenuPage};
pub use platform::{AuditPage, AuthorizationsPage, StaffUsersPage, TenantsPage, TimelinePage};
pub use team::{ApiKeysPage, UsersPage};
pub use webhooks::{PlatformDeliveriesPage, WebhooksPage};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::i18n::use_lang;

/// A link to the same page in the other language (a plain link: works without JavaScript).
#[component]
pub fn LangSwitch() -> impl IntoView {
    let lang = use_lang();
    let location = use_location();
    let href = move || {
        // The router's `search` has no leading `?` (the browser's does; accept either).
        let search = location.search.get();
        let search = search.trim_start_matches('?');
        let here = if search.is_empty() {
            location.pathname.get()
        } else {
            format!("{}?{search}", location.pathname.get())
        };
        format!(
            "/lang/{}?next={}",
            lang.other().code(),
            encode_component(&here)
        )
    };
    view! {
        <a class="lang-switch" href=href rel="external nofollow" data-test="lang-switch" hreflang=lang.other().tag()>
            {lang.other().own_name()}
        </a>
    }
}

/// What is wrong with a form: the field (empty for the whole form) and the message to show.
pub type FormProblem = Option<(String, String)>;

/// A server's answer as a form problem: an invalid field names itself, anything else is the
/// form's.
pub fn form_problem(lang: crate::i18n::Lang, e: &crate::error::AppError) -> (String, String) {
    match e {
        crate::error::AppError::Invalid { field, .. } => (field.clone(), e.message(lang)),
        other => (String::new(), other.message(lang)),
    }
}

/// The message beside a form field, when the form's problem is about that field.
#[component]
pub fn FieldError(problem: ReadSignal<FormProblem>, field: &'static str) -> impl IntoView {
    move || {
        problem.get().filter(|(f, _)| f == field).map(
            |(_, m)| view! { <span class="field-error" role="alert" data-field=field>{m}</span> },
        )
    }
}

/// `encodeURIComponent` for a query value.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[component]
pub fn NotFound() -> impl IntoView {
    let lang = use_lang();
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=lang.t("Not found", "页面不存在")/>
        <main class="centered">
            <div class="card narrow">
                <h1>{lang.t("Page not found", "页面不存在")}</h1>
                <p class="muted">{lang.t("There is nothing at this address.", "这个地址没有内容。")}</p>
                <a class="button" href="/">{lang.t("Go to the console", "返回控制台")}</a>
            </div>
        </main>
    }
}

/// What a page shows while its data loads: one function every `Transition` takes as its fallback,
/// so the fallback's code is compiled once per page rather than once per call site.
pub fn loading() -> impl leptos::prelude::IntoView {
    use leptos::prelude::*;
    let lang = crate::i18n::use_lang();
    view! { <p class="loading">{lang.t("Loading…", "加载中…")}</p> }
}
