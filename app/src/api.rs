//! Server functions: thin adapters (decode → session → one service call → DTO). Their URLs are
//! fixed (`/ui/…`) so tests and the docs can name them.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::SessionUser;

#[server(prefix = "/ui", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<SessionUser, AppError> {
    use crate::services::{context, fail, is_plain_form_post};
    let (services, ctx) = context().map_err(fail)?;
    match services.auth.sign_in(&ctx, &email, &password).await {
        Ok(user) => {
            leptos_axum::redirect("/");
            Ok(user)
        }
        // Without JavaScript the browser shows whatever the redirect leads to, so the error
        // travels in the URL.
        Err(e) if is_plain_form_post() => {
            leptos_axum::redirect(&format!("/login?error={}", e.to_query_code()));
            Err(e)
        }
        Err(e) => Err(fail(e)),
    }
}

#[server(prefix = "/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.auth.sign_out(&ctx).await.map_err(fail)?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/ui", endpoint = "me")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.auth.current_user(&ctx).await.map_err(fail)
}
