//! The console's authorization links: the components a link may use, the tenant's links, creating
//! and revoking one (the operations in `ops::links`), and the URLs and QR code the public pages
//! show for a link.

use app::dto::{AuthorizedAccount, ComponentChoice, LinkState, LinkView, NewLinkForm};
use app::error::AppError;
use app::services::RequestCtx;

use super::accounts::kind_label;
use super::{bilingual, op_error, store_error, Console, PublicUrls};
use crate::domain::{AuthorizationLink, Authorizer, ComponentOwner, LinkId};
use crate::store::LinkRecord;
use crate::wechat::links::{AuthType, AuthorizationRequest};

fn link_view(console: &Console, r: LinkRecord, now: i64) -> LinkView {
    let state = if r.link.revoked_at.is_some() {
        LinkState::Revoked
    } else if r.link.expires_at.is_some_and(|at| at <= now) {
        LinkState::Expired
    } else {
        LinkState::Active
    };
    LinkView {
        id: r.link.id.0,
        component_name: if r.component_name.is_empty() {
            r.component_appid.clone()
        } else {
            r.component_name
        },
        url: console.urls.link_url(&r.link.public_id),
        public_id: r.link.public_id,
        component_appid: r.component_appid,
        component_shared: r.component_shared,
        auth_type: r.link.auth_type,
        biz_appid: r.link.biz_appid,
        note: r.link.note,
        created_at: r.link.created_at,
        expires_at: r.link.expires_at,
        revoked_at: r.link.revoked_at,
        state,
        authorizations: r.authorizations,
        last_authorized_at: r.last_authorized_at,
    }
}

pub(super) async fn link_components(
    console: &Console,
    ctx: &RequestCtx,
) -> Result<Vec<ComponentChoice>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    Ok(console
        .store
        .list_components_for_tenant(tenant)
        .await
        .map_err(store_error("components could not be read"))?
        .into_iter()
        .filter(|c| c.active)
        .map(|c| ComponentChoice {
            id: c.id.0,
            shared: c.owner == ComponentOwner::Platform,
            name: if c.name.is_empty() {
                c.appid.clone()
            } else {
                c.name
            },
            appid: c.appid,
        })
        .collect())
}

pub(super) async fn links(console: &Console, ctx: &RequestCtx) -> Result<Vec<LinkView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let now = crate::now_ms();
    Ok(console
        .store
        .list_links(tenant, 500)
        .await
        .map_err(store_error("links could not be read"))?
        .into_iter()
        .map(|r| link_view(console, r, now))
        .collect())
}

pub(super) async fn create_link(
    console: &Console,
    ctx: &RequestCtx,
    form: NewLinkForm,
) -> Result<LinkView, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    // The form's own rules first (hours, and what the browser checks too), then the operation.
    let valid = app::validate::link_form(&form).map_err(bilingual)?;
    let now = crate::now_ms();
    let new = crate::ops::links::NewLink {
        component: crate::ops::links::ComponentRef::Id(crate::domain::ComponentId(
            valid.component_id,
        )),
        auth_type: valid.auth_type,
        biz_appid: valid.biz_appid,
        note: valid.note,
        expires_in_ms: valid.expires_in_hours.map(|h| i64::from(h) * 3_600_000),
    };
    let link = crate::ops::links::create(&console.store, &who, new, now)
        .await
        .map_err(op_error("a link could not be created"))?;
    let record = console
        .store
        .link(who.tenant, link.id)
        .await
        .map_err(store_error("a link could not be read"))?
        .ok_or(AppError::Internal)?;
    Ok(link_view(console, record, now))
}

pub(super) async fn revoke_link(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
) -> Result<(), AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    crate::ops::links::revoke(&console.store, &who, LinkId(id), crate::now_ms())
        .await
        .map_err(op_error("a link could not be revoked"))?;
    Ok(())
}

pub(super) fn authorized_account(a: &Authorizer) -> AuthorizedAccount {
    AuthorizedAccount {
        appid: a.appid.clone(),
        name: a.nick_name.clone(),
        head_img: a.head_img.clone(),
        kind: kind_label(a),
        permissions: a.func_ids.clone(),
        authorized_at: a.authorized_at,
    }
}

/// The PC page and the mobile link for a code, both returning to the link's done page.
pub(super) fn authorization_urls(
    urls: &PublicUrls,
    link: &AuthorizationLink,
    component_appid: &str,
    pre_auth_code: &str,
) -> (String, String) {
    let redirect = format!("{}/done", urls.link_url(&link.public_id));
    let request = AuthorizationRequest {
        component_appid,
        pre_auth_code,
        redirect_uri: &redirect,
        auth_type: AuthType::from_code(link.auth_type),
        biz_appid: link.biz_appid.as_deref(),
    };
    (
        request.pc_url(&urls.wechat_mp_base),
        request.mobile_url(&urls.wechat_open_base),
    )
}

/// The QR code of `text` as an SVG document sized by its viewBox (CSS decides the size).
pub(super) fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#111827"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_of_the_link() {
        let svg = qr_svg("https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid=wx0de0c0de0000d001&pre_auth_code=preauthcode%40%40%40abc#wechat_redirect").unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("viewBox"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        assert!(
            qr_svg(&"x".repeat(5000)).is_err(),
            "too long for any QR version"
        );
    }
}
