//! The tenant API's one error type and its one JSON shape: `{"error": {"code", "message"}}`.
//!
//! Codes are stable strings a client can branch on; messages are for people. Nothing from the
//! database or from WeChat is passed through: an internal failure is logged here, once, and the
//! client gets `internal` with no detail.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key, a malformed key, an unknown key or a revoked key: one answer for all of them.
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    /// The key is valid but lacks the scope this endpoint needs.
    #[error("this API key lacks the scope {scope}")]
    Forbidden { scope: app::model::ApiScope },
    /// Unknown account, or another tenant's: the answer never says which.
    #[error("no such authorizer")]
    NotFound,
    /// No such webhook endpoint of this tenant.
    #[error("no such webhook endpoint")]
    NoSuchWebhookEndpoint,
    /// No such route under /api/v1.
    #[error("no such endpoint")]
    NoRoute,
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// The account revoked its authorization (or its refresh token is lost for good).
    #[error("{0}")]
    Revoked(String),
    /// The request is well-formed HTTP but its content breaks a rule; `field` names the culprit.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("request body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("rate limit exceeded; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The account is authorized but no valid token (or ticket) is there yet.
    #[error("{message}")]
    NotReady { message: String, retry_after_s: u64 },
    /// WeChat refused an operation wxhub made for the tenant (code management); `errcode` is
    /// WeChat's, the message its documented meaning (never WeChat's own errmsg).
    #[error("{message}")]
    WechatRefused { errcode: i64, message: String },
    /// The WeChat gateway could not reach WeChat (the message says how, never the URL).
    #[error("{0}")]
    Upstream(String),
    /// Logged with its cause; the client learns nothing more.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// An internal failure, with its whole cause chain for the log (the client sees none of it).
    pub fn internal(context: &str, cause: impl std::error::Error + 'static) -> Self {
        Self::Internal(format!("{context}: {}", crate::report::Chain(&cause)))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRoute | Self::NoSuchWebhookEndpoint => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Revoked(_) => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::WechatRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "insufficient_scope",
            Self::NotFound | Self::NoSuchWebhookEndpoint => "not_found",
            Self::NoRoute => "no_such_endpoint",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Revoked(_) => "authorizer_revoked",
            Self::Invalid { .. } => "invalid_request",
            Self::TooLarge { .. } => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::NotReady { .. } => "not_ready",
            Self::WechatRefused { .. } => "wechat_refused",
            Self::Upstream(_) => "wechat_unreachable",
            Self::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The scope a 403 needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    /// WeChat's errcode when WeChat refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    errcode: Option<i64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "tenant API request failed");
        }
        let status = self.status();
        let retry_after = match &self {
            Self::RateLimited { retry_after_s } => Some(*retry_after_s),
            Self::NotReady { retry_after_s, .. } => Some(*retry_after_s),
            _ => None,
        };
        let body = Body {
            error: Inner {
                code: self.code(),
                message: self.to_string(),
                field: match &self {
                    Self::Invalid { field, .. } => Some(field),
                    _ => None,
                },
                scope: match &self {
                    Self::Forbidden { scope } => Some(scope.as_str()),
                    _ => None,
                },
                errcode: match &self {
                    Self::WechatRefused { errcode, .. } => Some(*errcode),
                    _ => None,
                },
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wxhub\""),
            );
        }
        response
    }
}

/// A storage failure as a logged 500, said in the words of what was being done.
pub(super) fn store_error(context: &'static str) -> impl Fn(crate::store::StoreError) -> ApiError {
    move |e| ApiError::internal(context, e)
}
