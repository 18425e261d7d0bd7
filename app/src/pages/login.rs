use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;

use crate::Auth;

/// Sign-in form. Works without JavaScript (a plain form POST to the server function, which
/// redirects); hydrated, it submits in place and shows the error under the form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let query = use_query_map();
    // The action's own error when submitted in place; the redirect's `?error=` after a plain post.
    let error = move || {
        auth.login
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| query.with(|q| q.get("error").and_then(|c| AppError::from_query_code(&c))))
            .map(|e| e.to_string())
    };
    let pending = auth.login.pending();

    view! {
        <Title text="Sign in"/>
        <Suspense>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(_)) => view! { <Redirect path="/"/> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
        <main class="centered">
            <div class="card narrow login">
                <div class="brand-large">"wxhub"</div>
                <p class="muted">"WeChat third-party platform console"</p>
                <ActionForm action=auth.login attr:class="form" attr:aria-label="Sign in">
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required maxlength="254"/>
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required maxlength="1024"/>
                    <Show when=move || error().is_some()>
                        <p class="error" role="alert" data-test="login-error">{error}</p>
                    </Show>
                    <button type="submit" class="button primary" disabled=pending>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
