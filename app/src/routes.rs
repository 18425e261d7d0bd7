//! One lazily loaded route per page. In the browser each page's code is split out of the main wasm
//! (cargo-leptos `--split`) and fetched when the page is first shown: a phone opening an
//! authorization link never downloads the console, and the main bundle carries only the runtime,
//! the router and the console frame. On the server the same routes render synchronously into the
//! HTML, so nothing changes for a visitor without JavaScript.
//!
//! Each route is written out by hand rather than by a macro: `#[lazy_route]` names the split-out
//! chunk after the type and the source position, which a macro would make the same for all.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages;

#[derive(Debug)]
pub struct LoginRoute;
#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::LoginPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct LinkRoute;
#[lazy_route]
impl LazyRoute for LinkRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::LinkPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct DoneRoute;
#[lazy_route]
impl LazyRoute for DoneRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::DonePage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct DashboardRoute;
#[lazy_route]
impl LazyRoute for DashboardRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::Dashboard/> }.into_any()
    }
}

#[derive(Debug)]
pub struct AccountsRoute;
#[lazy_route]
impl LazyRoute for AccountsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::AccountsPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct AccountRoute;
#[lazy_route]
impl LazyRoute for AccountRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::AccountPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct MenuRoute;
#[lazy_route]
impl LazyRoute for MenuRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::MenuPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct MenuEditRoute;
#[lazy_route]
impl LazyRoute for MenuEditRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::MenuEditPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct LinksRoute;
#[lazy_route]
impl LazyRoute for LinksRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::LinksPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct ComponentsRoute;
#[lazy_route]
impl LazyRoute for ComponentsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::ComponentsPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct ApiKeysRoute;
#[lazy_route]
impl LazyRoute for ApiKeysRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::ApiKeysPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct WebhooksRoute;
#[lazy_route]
impl LazyRoute for WebhooksRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::WebhooksPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct AlertsRoute;
#[lazy_route]
impl LazyRoute for AlertsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::AlertsPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct PlatformDeliveriesRoute;
#[lazy_route]
impl LazyRoute for PlatformDeliveriesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::PlatformDeliveriesPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct UsersRoute;
#[lazy_route]
impl LazyRoute for UsersRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::UsersPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct TenantsRoute;
#[lazy_route]
impl LazyRoute for TenantsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::TenantsPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct AuthorizationsRoute;
#[lazy_route]
impl LazyRoute for AuthorizationsRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::AuthorizationsPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct TimelineRoute;
#[lazy_route]
impl LazyRoute for TimelineRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::TimelinePage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct AuditRoute;
#[lazy_route]
impl LazyRoute for AuditRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::AuditPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct StaffUsersRoute;
#[lazy_route]
impl LazyRoute for StaffUsersRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::StaffUsersPage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct CodeRoute;
#[lazy_route]
impl LazyRoute for CodeRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::CodePage/> }.into_any()
    }
}

#[derive(Debug)]
pub struct ReleasesRoute;
#[lazy_route]
impl LazyRoute for ReleasesRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <pages::ReleasesPage/> }.into_any()
    }
}
