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
    let lang = crate::i18n::use_lang();
    let query = use_query_map();
    // The action's own error when submitted in place; the redirect's `?error=` after a plain post.
    let error = move || {
        auth.login
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| query.with(|q| q.get("error").and_then(|c| AppError::from_query_code(&c))))
            .map(|e| e.message(lang))
    };
    let pending = auth.login.pending();

    view! {
        <Title text=lang.t("Sign in", "登录")/>
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
                <div class="card-head"><div class="brand-large">"wxhub"</div><crate::pages::LangSwitch/></div>
                <p class="muted">{lang.t("WeChat third-party platform console", "微信第三方平台控制台")}</p>
                <ActionForm action=auth.login attr:class="form" attr:aria-label=lang.t("Sign in", "登录")>
                    <label for="email">{lang.t("Email", "邮箱")}</label>
                    <input id="email" type="email" name="email" autocomplete="username" required maxlength="254"/>
                    <label for="password">{lang.t("Password", "密码")}</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required maxlength="1024"/>
                    <Show when=move || error().is_some()>
                        <p class="error" role="alert" data-test="login-error">{error}</p>
                    </Show>
                    <button type="submit" class="button primary" disabled=pending>
                        {move || if pending.get() { lang.t("Signing in…", "登录中…") } else { lang.t("Sign in", "登录") }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
