//! The SSRF guard: a tenant's endpoint URL must not make wxhub call into its own network.
//!
//! A URL must be `http` or `https`, without credentials, and its host must not be (or resolve to)
//! a loopback, private, link-local, shared (CGNAT), multicast or otherwise special address, unless
//! the platform allows private networks (`webhook_allow_private_networks`, for on-premise use and
//! tests). The check runs twice: when the endpoint is registered (a clear refusal for the tenant),
//! and at every connection, inside the delivery client's resolver, so a name that later resolves
//! somewhere private (DNS rebinding) is refused too. Redirects are not followed, and no proxy is
//! used, so the address checked is the address called.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

/// Longest accepted endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("not a valid URL")]
    Invalid,
    #[error("the URL must start with http:// or https://")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL is longer than 2048 characters")]
    TooLong,
    #[error("the host {0} is a private, loopback or link-local address")]
    Private(String),
    #[error("the host {0} does not resolve")]
    Unresolvable(String),
}

impl UrlRefused {
    /// The same reason in Chinese.
    pub fn zh(&self) -> String {
        match self {
            UrlRefused::Invalid => "不是有效的 URL".into(),
            UrlRefused::Scheme => "URL 必须以 http:// 或 https:// 开头".into(),
            UrlRefused::Credentials => "URL 不能包含用户名或密码".into(),
            UrlRefused::TooLong => "URL 不能超过 2048 个字符".into(),
            UrlRefused::Private(h) => format!("主机 {h} 是内网、回环或链路本地地址"),
            UrlRefused::Unresolvable(h) => format!("无法解析主机 {h}"),
        }
    }
}

/// Whether an address is one an endpoint may not reach (without the private-network setting).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b
        }
    }
}

/// Checks a URL's shape (and its host, when it is an address). Names are checked on resolution.
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, UrlRefused> {
    let text = text.trim();
    if text.len() > MAX_URL_LEN {
        return Err(UrlRefused::TooLong);
    }
    let url = Url::parse(text).map_err(|_| UrlRefused::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    match url.host() {
        None => return Err(UrlRefused::Invalid),
        Some(url::Host::Ipv4(ip)) if !allow_private && is_forbidden(IpAddr::V4(ip)) => {
            return Err(UrlRefused::Private(ip.to_string()))
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && is_forbidden(IpAddr::V6(ip)) => {
            return Err(UrlRefused::Private(ip.to_string()))
        }
        Some(url::Host::Domain(d))
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) =>
        {
            return Err(UrlRefused::Private(d.to_owned()))
        }
        _ => {}
    }
    Ok(url)
}

/// Checks a URL and, for a name, that what it resolves to now is allowed (registration time).
pub async fn check_url_resolving(text: &str, allow_private: bool) -> Result<Url, UrlRefused> {
    let url = check_url(text, allow_private)?;
    if let Some(url::Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| UrlRefused::Unresolvable(name.to_owned()))?
            .collect();
        if addrs.is_empty() {
            return Err(UrlRefused::Unresolvable(name.to_owned()));
        }
        if !allow_private && addrs.iter().any(|a| is_forbidden(a.ip())) {
            return Err(UrlRefused::Private(name.to_owned()));
        }
    }
    Ok(url)
}

/// The delivery client's resolver: the system's, minus forbidden addresses.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_forbidden(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(UrlRefused::Private(host)) as _);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl GuardedResolver {
    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_and_odd_urls() {
        for bad in [
            "http://127.0.0.1/x",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://localhost:8080/",
            "http://a.localhost/",
        ] {
            assert!(
                matches!(check_url(bad, false), Err(UrlRefused::Private(_))),
                "{bad} must be refused"
            );
            assert!(check_url(bad, true).is_ok(), "{bad} is fine on premises");
        }
        assert_eq!(
            check_url("ftp://example.com/", false),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("javascript:alert(1)", false),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(check_url("not a url", false), Err(UrlRefused::Invalid));
        assert_eq!(
            check_url("https://u:p@example.com/", false),
            Err(UrlRefused::Credentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(UrlRefused::TooLong));
        assert!(check_url("https://example.com/hook", false).is_ok());
        assert!(check_url("http://8.8.8.8:8080/hook", false).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        assert_eq!(
            check_url_resolving("http://localhost.:9/", false)
                .await
                .err()
                .map(|e| matches!(e, UrlRefused::Private(_) | UrlRefused::Unresolvable(_))),
            Some(true)
        );
        let refused = reqwest::dns::Resolve::resolve(
            &GuardedResolver {
                allow_private: false,
            },
            "localhost".parse().unwrap(),
        )
        .await;
        assert!(refused.is_err(), "the delivery resolver drops loopback");
        let allowed = reqwest::dns::Resolve::resolve(
            &GuardedResolver {
                allow_private: true,
            },
            "localhost".parse().unwrap(),
        )
        .await;
        assert!(allowed.is_ok());
    }
}
