//! Extractors: who is calling ([`ApiCaller`], from the `Authorization` header through the key
//! cache), a caller allowed one scope ([`Allowed`]) and a JSON body whose every rejection is the API's one error shape ([`ApiJson`]).

use std::sync::Arc;

use app::model::ApiScope;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use serde::de::DeserializeOwned;

use super::directory::TenantApi;
use super::error::ApiError;
use super::keys::ApiCaller;
use super::BODY_LIMIT;

/// Authenticates (and rate-limits) every API request.
impl<S> FromRequestParts<S> for ApiCaller
where
    S: Send + Sync,
    Arc<TenantApi>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let api = Arc::<TenantApi>::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = api.keys.authenticate(header).await?;
        // Counted once authenticated: the charts show a tenant's own use, not strangers' guesses.
        api.engine.rollups.count(
            crate::rollups::Counted::ApiCall,
            Some(caller.tenant),
            "",
            crate::now_ms(),
        );
        Ok(caller)
    }
}

/// A caller whose key holds the scope `S` names. Checked with the key, before any body is read, so
/// a key without the scope learns nothing about its request's content (403 whatever it sent).
pub struct Allowed<S> {
    pub caller: ApiCaller,
    scope: std::marker::PhantomData<S>,
}

/// Names the scope an [`Allowed`] extractor requires.
pub trait Scope {
    const SCOPE: ApiScope;
}

macro_rules! scopes {
    ($($name:ident => $scope:expr),* $(,)?) => {
        $(
            #[doc = concat!("The `", stringify!($scope), "` scope, for [`Allowed`].")]
            pub struct $name;
            impl Scope for $name {
                const SCOPE: ApiScope = $scope;
            }
        )*
    };
}

scopes! {
    TokensRead => ApiScope::TokensRead,
    WechatCall => ApiScope::WechatCall,
    LinksWrite => ApiScope::LinksWrite,
    WebhooksManage => ApiScope::WebhooksManage,
}

impl<S, T> FromRequestParts<S> for Allowed<T>
where
    S: Send + Sync,
    T: Scope,
    Arc<TenantApi>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        caller.require(T::SCOPE)?;
        Ok(Allowed {
            caller,
            scope: std::marker::PhantomData,
        })
    }
}

/// A JSON body whose every failure is an [`ApiError`]: malformed JSON, wrong types and unknown
/// fields are 422 with serde's description, a body over the limit is 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::invalid("body", e.body_text())),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(ApiError::invalid("body", "the body is not valid JSON"))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::invalid(
                "content-type",
                "send the body as application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge { limit: BODY_LIMIT })
            }
            Err(e) => Err(ApiError::invalid("body", e.body_text())),
        }
    }
}
