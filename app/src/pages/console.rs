use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect, A};

use crate::model::{Role, SessionUser};
use crate::Auth;

/// The signed-in frame. Anonymous visitors are redirected to /login (a real 302 on first load:
/// console routes render in `SsrMode::Async`).
#[component]
pub fn Console() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => view! { <Frame user/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! {
                        <main class="centered"><div class="card narrow"><p class="error" role="alert">{e.to_string()}</p></div></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Frame(user: SessionUser) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let context_label = match &user.tenant {
        Some(t) => t.name.clone(),
        None => "Platform".to_owned(),
    };
    let nav: &[(&str, &str)] = if user.role.is_platform() {
        &[
            ("/", "Overview"),
            ("/tenants", "Tenants"),
            ("/authorizations", "Authorizations"),
            ("/audit", "Audit log"),
            ("/components", "Shared components"),
            ("/users", "Users"),
        ]
    } else {
        &[
            ("/", "Dashboard"),
            ("/accounts", "Accounts"),
            ("/links", "Authorization links"),
            ("/components", "Components"),
            ("/api-keys", "API keys"),
            ("/users", "Users"),
        ]
    };
    provide_context(user.clone());
    view! {
        <div class="frame">
            <header class="topbar">
                <a class="brand" href="/">"wxhub"</a>
                <span class="context" data-test="context">{context_label}</span>
                <span class="spacer"></span>
                <span class="who" data-test="who">{user.email.clone()}</span>
                <span class="badge">{user.role.label()}</span>
                <ActionForm action=auth.logout attr:class="inline">
                    <button type="submit" class="button ghost" data-test="logout">"Sign out"</button>
                </ActionForm>
            </header>
            <nav class="sidebar" aria-label="Main">
                {nav.iter().map(|(href, label)| view! { <A href=*href exact=true>{*label}</A> }).collect_view()}
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let user = expect_context::<SessionUser>();
    let scope = match (&user.tenant, user.role) {
        (Some(t), _) => format!("You are signed in to {} ({}).", t.name, t.slug),
        (None, Role::PlatformAdmin) => {
            "You administer the whole platform: tenants, users and shared components.".to_owned()
        }
        (None, _) => "You can read everything on this platform and change nothing.".to_owned(),
    };
    view! {
        <Title text="Dashboard"/>
        <h1>"Welcome"</h1>
        <section class="card">
            <p data-test="welcome">{format!("Signed in as {} · {}", user.email, user.role.label())}</p>
            <p class="muted">{scope}</p>
        </section>
        <section class="card empty">
            <h2>"Nothing to show yet"</h2>
            <p class="muted">"Component health, accounts by status and recent events appear here once the token engine and the authorization pages are in place."</p>
        </section>
    }
}

/// A section of the console that has not been built yet. Says so, instead of pretending.
pub fn not_built(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <h1>{title}</h1>
        <section class="card empty" data-test="not-built">
            <p>{what}</p>
            <p class="muted">"This section is not available yet."</p>
        </section>
    }
}
