//! The pages. `Console` is the signed-in frame (top bar, navigation by role); the section pages
//! inside it are filled by later work and say so plainly until then.

mod console;
mod login;

pub use console::{not_built, Console, Dashboard};
pub use login::LoginPage;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <main class="centered">
            <div class="card narrow">
                <h1>"Page not found"</h1>
                <p class="muted">"There is nothing at this address."</p>
                <a class="button" href="/">"Go to the console"</a>
            </div>
        </main>
    }
}
