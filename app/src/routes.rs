//! One lazily loaded route per page. In the browser each page's code is split out of the main wasm
//! (cargo-leptos `--split`) and fetched when the page is first shown: a phone opening an
//! authorization link never downloads the console, and the main bundle carries only the runtime,
//! the router and the console frame. On the server the same routes render synchronously into the
//! HTML, so nothing changes for a visitor without JavaScript.
//!
//! Every route's view is the one type [`Page`], not a `Lazy<…Route>` type per page: the router's
//! matching code is generic over each route's view type, so 22 view types compiled 22 copies of
//! it into the main wasm that every page downloads. One type leaves one copy per path shape
//! (`docs/benchmarks.md`). Each page's view function is a `#[lazy]` split point of its own; its
//! name (`…_route_view`) becomes the name of the page's file.

use leptos::prelude::*;
use leptos_router::ChooseView;

use crate::pages;

/// The pages of the console and the public pages, as the router's view for each path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Login,
    Link,
    Done,
    Dashboard,
    Accounts,
    Account,
    Code,
    Menu,
    MenuEdit,
    Releases,
    Links,
    Components,
    ApiKeys,
    Webhooks,
    Alerts,
    Users,
    Tenants,
    Authorizations,
    Timeline,
    Audit,
    StaffUsers,
    PlatformDeliveries,
}

impl ChooseView for Page {
    async fn choose(self) -> AnyView {
        match self {
            Page::Login => login_route_view().await,
            Page::Link => link_route_view().await,
            Page::Done => done_route_view().await,
            Page::Dashboard => dashboard_route_view().await,
            Page::Accounts => accounts_route_view().await,
            Page::Account => account_route_view().await,
            Page::Code => code_route_view().await,
            Page::Menu => menu_route_view().await,
            Page::MenuEdit => menu_edit_route_view().await,
            Page::Releases => releases_route_view().await,
            Page::Links => links_route_view().await,
            Page::Components => components_route_view().await,
            Page::ApiKeys => api_keys_route_view().await,
            Page::Webhooks => webhooks_route_view().await,
            Page::Alerts => alerts_route_view().await,
            Page::Users => users_route_view().await,
            Page::Tenants => tenants_route_view().await,
            Page::Authorizations => authorizations_route_view().await,
            Page::Timeline => timeline_route_view().await,
            Page::Audit => audit_route_view().await,
            Page::StaffUsers => staff_users_route_view().await,
            Page::PlatformDeliveries => platform_deliveries_route_view().await,
        }
    }

    /// Fetches the page's code ahead of showing it (the router calls it when it is about to).
    async fn preload(&self) {
        // The preload functions exist only where the code is split: in the browser.
        #[cfg(target_arch = "wasm32")]
        match self {
            Page::Login => __preload_login_route_view().await,
            Page::Link => __preload_link_route_view().await,
            Page::Done => __preload_done_route_view().await,
            Page::Dashboard => __preload_dashboard_route_view().await,
            Page::Accounts => __preload_accounts_route_view().await,
            Page::Account => __preload_account_route_view().await,
            Page::Code => __preload_code_route_view().await,
            Page::Menu => __preload_menu_route_view().await,
            Page::MenuEdit => __preload_menu_edit_route_view().await,
            Page::Releases => __preload_releases_route_view().await,
            Page::Links => __preload_links_route_view().await,
            Page::Components => __preload_components_route_view().await,
            Page::ApiKeys => __preload_api_keys_route_view().await,
            Page::Webhooks => __preload_webhooks_route_view().await,
            Page::Alerts => __preload_alerts_route_view().await,
            Page::Users => __preload_users_route_view().await,
            Page::Tenants => __preload_tenants_route_view().await,
            Page::Authorizations => __preload_authorizations_route_view().await,
            Page::Timeline => __preload_timeline_route_view().await,
            Page::Audit => __preload_audit_route_view().await,
            Page::StaffUsers => __preload_staff_users_route_view().await,
            Page::PlatformDeliveries => __preload_platform_deliveries_route_view().await,
        }
    }
}

#[lazy]
fn login_route_view() -> AnyView {
    view! { <pages::LoginPage/> }.into_any()
}

#[lazy]
fn link_route_view() -> AnyView {
    view! { <pages::LinkPage/> }.into_any()
}

#[lazy]
fn done_route_view() -> AnyView {
    view! { <pages::DonePage/> }.into_any()
}

#[lazy]
fn dashboard_route_view() -> AnyView {
    view! { <pages::Dashboard/> }.into_any()
}

#[lazy]
fn accounts_route_view() -> AnyView {
    view! { <pages::AccountsPage/> }.into_any()
}

#[lazy]
fn account_route_view() -> AnyView {
    view! { <pages::AccountPage/> }.into_any()
}

#[lazy]
fn code_route_view() -> AnyView {
    view! { <pages::CodePage/> }.into_any()
}

#[lazy]
fn menu_route_view() -> AnyView {
    view! { <pages::MenuPage/> }.into_any()
}

#[lazy]
fn menu_edit_route_view() -> AnyView {
    view! { <pages::MenuEditPage/> }.into_any()
}

#[lazy]
fn releases_route_view() -> AnyView {
    view! { <pages::ReleasesPage/> }.into_any()
}

#[lazy]
fn links_route_view() -> AnyView {
    view! { <pages::LinksPage/> }.into_any()
}

#[lazy]
fn components_route_view() -> AnyView {
    view! { <pages::ComponentsPage/> }.into_any()
}

#[lazy]
fn api_keys_route_view() -> AnyView {
    view! { <pages::ApiKeysPage/> }.into_any()
}

#[lazy]
fn webhooks_route_view() -> AnyView {
    view! { <pages::WebhooksPage/> }.into_any()
}

#[lazy]
fn alerts_route_view() -> AnyView {
    view! { <pages::AlertsPage/> }.into_any()
}

#[lazy]
fn users_route_view() -> AnyView {
    view! { <pages::UsersPage/> }.into_any()
}

#[lazy]
fn tenants_route_view() -> AnyView {
    view! { <pages::TenantsPage/> }.into_any()
}

#[lazy]
fn authorizations_route_view() -> AnyView {
    view! { <pages::AuthorizationsPage/> }.into_any()
}

#[lazy]
fn timeline_route_view() -> AnyView {
    view! { <pages::TimelinePage/> }.into_any()
}

#[lazy]
fn audit_route_view() -> AnyView {
    view! { <pages::AuditPage/> }.into_any()
}

#[lazy]
fn staff_users_route_view() -> AnyView {
    view! { <pages::StaffUsersPage/> }.into_any()
}

#[lazy]
fn platform_deliveries_route_view() -> AnyView {
    view! { <pages::PlatformDeliveriesPage/> }.into_any()
}
