//! The one error type the UI sees. Server functions return it; the server maps its own errors into
//! it at the edge, so nothing raw from the database or from WeChat ever reaches a browser.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The only answer a failed sign-in ever gets, whatever the reason.
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("Too many failed sign-in attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    /// Too many requests from one address (or for one link) on a public page.
    #[error("Too many requests. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("You do not have access to this.")]
    Forbidden,
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        message: String,
        /// The same message in Chinese.
        #[serde(default)]
        message_zh: String,
    },
    #[error("Not found.")]
    NotFound,
    #[error("Something went wrong on our side. It has been logged; please try again.")]
    Internal,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Invalid {
            field: field.to_owned(),
            message_zh: message.clone(),
            message,
        }
    }

    /// A field error with its message in both languages.
    pub fn invalid_bilingual(field: &str, en: impl Into<String>, zh: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.to_owned(),
            message: en.into(),
            message_zh: zh.into(),
        }
    }

    /// The message in the page's language; every variant has both.
    pub fn message(&self, lang: crate::i18n::Lang) -> String {
        use crate::i18n::Lang;
        match (self, lang) {
            (_, Lang::En) => self.to_string(),
            (AppError::InvalidCredentials, Lang::Zh) => "邮箱或密码错误。".into(),
            (AppError::Throttled { retry_after_secs }, Lang::Zh) => {
                format!("登录失败次数过多，请 {retry_after_secs} 秒后再试。")
            }
            (AppError::RateLimited { retry_after_secs }, Lang::Zh) => {
                format!("请求过于频繁，请 {retry_after_secs} 秒后再试。")
            }
            (AppError::Unauthenticated, Lang::Zh) => "请先登录。".into(),
            (AppError::Forbidden, Lang::Zh) => "你没有权限访问此内容。".into(),
            (AppError::Invalid { message_zh, .. }, Lang::Zh) => message_zh.clone(),
            (AppError::NotFound, Lang::Zh) => "未找到。".into(),
            (AppError::Internal, Lang::Zh) => "服务器出错了，已记录，请重试。".into(),
            (AppError::Unreachable, Lang::Zh) => "无法连接服务器，请检查网络后重试。".into(),
        }
    }

    /// The HTTP status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidCredentials | AppError::Unauthenticated => 401,
            AppError::Throttled { .. } | AppError::RateLimited { .. } => 429,
            AppError::Forbidden => 403,
            AppError::Invalid { .. } => 422,
            AppError::NotFound => 404,
            AppError::Internal => 500,
            AppError::Unreachable => 502,
        }
    }
}

impl AppError {
    /// A short code that carries a sign-in error through a redirect (`/login?error=…`) when the
    /// form was posted without JavaScript.
    pub fn to_query_code(&self) -> String {
        match self {
            AppError::InvalidCredentials => "invalid".into(),
            AppError::Throttled { retry_after_secs } => format!("throttled-{retry_after_secs}"),
            AppError::Invalid { .. } => "invalid".into(),
            _ => "internal".into(),
        }
    }

    pub fn from_query_code(code: &str) -> Option<AppError> {
        match code {
            "invalid" => Some(AppError::InvalidCredentials),
            "internal" => Some(AppError::Internal),
            other => {
                let secs = other.strip_prefix("throttled-")?.parse::<u64>().ok()?;
                Some(AppError::Throttled {
                    retry_after_secs: secs.min(24 * 3600),
                })
            }
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => AppError::Unreachable,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::invalid_bilingual(
                    "request",
                    "the form was incomplete or malformed",
                    "表单不完整或格式有误",
                )
            }
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_codes_round_trip_and_garbage_is_ignored() {
        for e in [
            AppError::InvalidCredentials,
            AppError::Throttled {
                retry_after_secs: 30,
            },
            AppError::Internal,
        ] {
            assert_eq!(AppError::from_query_code(&e.to_query_code()), Some(e));
        }
        for garbage in [
            "",
            "x",
            "throttled-",
            "throttled-abc",
            "throttled--1",
            "<script>",
        ] {
            assert_eq!(AppError::from_query_code(garbage), None, "{garbage:?}");
        }
        assert_eq!(
            AppError::from_query_code("throttled-999999999"),
            Some(AppError::Throttled {
                retry_after_secs: 86400
            })
        );
    }
}
