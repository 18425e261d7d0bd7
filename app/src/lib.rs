//! wxhub's UI: the HTML shell, the routes, the pages and the server functions behind them.
//!
//! Compiled twice: with `ssr` into the server (rendering, server functions, service traits) and with
//! `hydrate` into the wasm bundle. Shared input rules live in `validate` so the browser and the
//! server judge a form the same way.

// Leptos views are deeply nested types (see frontend/src/lib.rs).
#![recursion_limit = "256"]

pub mod api;
pub mod dto;
pub mod error;
pub mod i18n;
pub mod menu;
pub mod model;
pub mod page_data;
mod pages;
pub mod permissions;
mod routes;
#[cfg(feature = "ssr")]
pub mod services;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::api::{current_user, Login, Logout};
use crate::error::AppError;
use crate::model::SessionUser;

/// The whole HTML document; the server renders it around `App`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang=crate::i18n::detect().tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sign-in state shared by every page: the actions that change it and the resource that reads it.
#[derive(Clone, Copy)]
pub struct Auth {
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub user: crate::page_data::PageResource<Result<Option<SessionUser>, AppError>>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(i18n::detect());
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let user = crate::page_data::page_resource(
        move || (login.version().get(), logout.version().get()),
        |_| current_user(),
    );
    provide_context(Auth {
        login,
        logout,
        user,
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/wxhub.css"/>
        <Title formatter=|text: String| if text.is_empty() { "wxhub".to_owned() } else { format!("{text} · wxhub") }/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=routes::Page::Login ssr=SsrMode::Async/>
                <Route path=path!("/authorize/:link") view=routes::Page::Link ssr=SsrMode::Async/>
                <Route path=path!("/authorize/:link/done") view=routes::Page::Done ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=pages::Console ssr=SsrMode::Async>
                    <Route path=path!("") view=routes::Page::Dashboard/>
                    <Route path=path!("accounts") view=routes::Page::Accounts/>
                    <Route path=path!("accounts/:appid") view=routes::Page::Account/>
                    <Route path=path!("accounts/:appid/code") view=routes::Page::Code/>
                    <Route path=path!("accounts/:appid/menu") view=routes::Page::Menu/>
                    <Route path=path!("accounts/:appid/menu/edit") view=routes::Page::MenuEdit/>
                    <Route path=path!("releases") view=routes::Page::Releases/>
                    <Route path=path!("links") view=routes::Page::Links/>
                    <Route path=path!("components") view=routes::Page::Components/>
                    <Route path=path!("api-keys") view=routes::Page::ApiKeys/>
                    <Route path=path!("webhooks") view=routes::Page::Webhooks/>
                    <Route path=path!("alerts") view=routes::Page::Alerts/>
                    <Route path=path!("users") view=routes::Page::Users/>
                    <Route path=path!("tenants") view=routes::Page::Tenants/>
                    <Route path=path!("authorizations") view=routes::Page::Authorizations/>
                    <Route path=path!("authorizations/:component/:appid") view=routes::Page::Timeline/>
                    <Route path=path!("audit") view=routes::Page::Audit/>
                    <Route path=path!("platform/users") view=routes::Page::StaffUsers/>
                    <Route path=path!("platform/webhooks") view=routes::Page::PlatformDeliveries/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
