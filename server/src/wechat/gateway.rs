//! The wire of the WeChat gateway: a tenant's call, forwarded to the configured API base with a
//! token wxhub holds.
//!
//! Three things here keep the forwarding safe and cheap:
//! - [`GatewayPath`] is the only way a path reaches a URL. It is checked on the raw (still
//!   percent-encoded) request path, segment by segment, so `..`, an encoded slash, a scheme, a host
//!   or a port cannot make the request leave the API base; the URL is then built from the base and
//!   checked again.
//! - [`forward_query`] drops any token the caller sent and adds wxhub's.
//! - [`Spool`] tees the request body while it streams to WeChat: memory up to
//!   [`SPOOL_IN_MEMORY`], a temporary file after that. So a 20 MB upload is never held whole in
//!   memory, and the one retry after WeChat refused the token can send the same bytes again.

use std::io::SeekFrom;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// The largest body the gateway forwards (WeChat's own largest upload, a permanent video, is
/// 20 MB).
pub const MAX_BODY_BYTES: u64 = 24 * 1024 * 1024;
/// Bodies up to this size are kept in memory for the retry; larger ones go to a temporary file.
pub const SPOOL_IN_MEMORY: usize = 256 * 1024;
/// How long one forwarded call may take, upload and answer included (inside the server's 30 s
/// limit for any request).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(25);
/// JSON answers up to this size are read whole (to see their `errcode`); larger answers and media
/// stream through untouched.
pub const INSPECT_BYTES: usize = 1024 * 1024;

/// A WeChat API path as a tenant may call it: `cgi-bin/message/template/send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPath(String);

/// Why a path was refused (said to the caller as is: it names no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefused {
    #[error("the WeChat API path is empty")]
    Empty,
    #[error("the WeChat API path is longer than 256 bytes")]
    TooLong,
    #[error("the WeChat API path may only hold segments of letters, digits, '_', '-' and '.'; not {0:?}")]
    BadSegment(String),
}

impl GatewayPath {
    /// Checks `raw`, the request path after `/wechat/` as it came (percent-encoding intact).
    pub fn parse(raw: &str) -> Result<Self, PathRefused> {
        if raw.is_empty() {
            return Err(PathRefused::Empty);
        }
        if raw.len() > 256 {
            return Err(PathRefused::TooLong);
        }
        for segment in raw.split('/') {
            let plain = !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !plain {
                let shown: String = segment.chars().take(40).collect();
                return Err(PathRefused::BadSegment(shown));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL on `api_base` (which may carry a path prefix), checked to still be on it.
    pub fn url_on(&self, api_base: &url::Url, query: &str) -> Option<url::Url> {
        let base = api_base.as_str().trim_end_matches('/');
        let mut url = url::Url::parse(&format!("{base}/{}", self.0)).ok()?;
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        let same_origin = url.scheme() == api_base.scheme()
            && url.host_str() == api_base.host_str()
            && url.port_or_known_default() == api_base.port_or_known_default();
        let prefix = api_base.path().trim_end_matches('/');
        (same_origin && url.path().starts_with(&format!("{prefix}/"))).then_some(url)
    }
}

/// The caller's query without any token it sent, then `token_name=token`.
pub fn forward_query(raw: Option<&str>, token_name: &str, token: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if name != "access_token" && name != "component_access_token" {
            out.append_pair(&name, &value);
        }
    }
    out.append_pair(token_name, token);
    out.finish()
}

/// Where a request body is kept while it streams to WeChat, for one retry.
#[derive(Clone, Default)]
pub struct Spool {
    inner: Arc<Mutex<SpoolState>>,
    too_large: Arc<AtomicBool>,
    /// The declared `content-length`: the HTTP client stops reading a body once it has that many
    /// bytes, so the stream's end is never seen, and reaching the length is the end.
    expected: Option<u64>,
}

#[derive(Default)]
struct SpoolState {
    memory: Vec<u8>,
    file: Option<Arc<tokio::sync::Mutex<tokio::fs::File>>>,
    len: u64,
    complete: bool,
}

impl Spool {
    pub fn new(expected_len: Option<u64>) -> Self {
        Self {
            expected: expected_len,
            ..Self::default()
        }
    }

    /// The body to send on the first attempt: `body` as it arrives, kept as it passes.
    pub fn tee(&self, body: Body) -> reqwest::Body {
        let spool = self.clone();
        let stream = futures_util::stream::unfold(
            (body.into_data_stream(), spool),
            |(mut incoming, spool)| async move {
                use futures_util::StreamExt;
                match incoming.next().await {
                    Some(Ok(chunk)) => match spool.keep(&chunk).await {
                        Ok(()) => Some((Ok(chunk), (incoming, spool))),
                        Err(e) => Some((Err(e), (incoming, spool))),
                    },
                    Some(Err(e)) => Some((Err(std::io::Error::other(e)), (incoming, spool))),
                    None => {
                        spool.finish();
                        None
                    }
                }
            },
        );
        reqwest::Body::wrap_stream(stream)
    }

    async fn keep(&self, chunk: &Bytes) -> Result<(), std::io::Error> {
        let (file, spilled) = {
            let mut state = lock(&self.inner);
            state.len += chunk.len() as u64;
            if state.len > MAX_BODY_BYTES {
                self.too_large.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other(
                    "the body is larger than the gateway takes",
                ));
            }
            if Some(state.len) == self.expected {
                state.complete = true;
            }
            if state.file.is_none() && state.memory.len() + chunk.len() <= SPOOL_IN_MEMORY {
                state.memory.extend_from_slice(chunk);
                return Ok(());
            }
            match &state.file {
                Some(f) => (f.clone(), Vec::new()),
                None => {
                    let f = Arc::new(tokio::sync::Mutex::new(tokio::fs::File::from_std(
                        tempfile::tempfile()?,
                    )));
                    state.file = Some(f.clone());
                    (f, std::mem::take(&mut state.memory))
                }
            }
        };
        let mut f = file.lock().await;
        f.write_all(&spilled).await?;
        f.write_all(chunk).await
    }

    fn finish(&self) {
        lock(&self.inner).complete = true;
    }

    /// Whether the body was refused for its size.
    pub fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }

    /// The same bytes again, if the first attempt read the body to its end.
    pub async fn replay(&self) -> Option<reqwest::Body> {
        let (memory, file, complete) = {
            let state = lock(&self.inner);
            (state.memory.clone(), state.file.clone(), state.complete)
        };
        if !complete {
            return None;
        }
        let Some(file) = file else {
            return Some(reqwest::Body::from(memory));
        };
        let mut f = file.lock().await;
        f.flush().await.ok()?;
        let mut copy = f.try_clone().await.ok()?;
        copy.seek(SeekFrom::Start(0)).await.ok()?;
        drop(f);
        let stream = tokio_util::io::ReaderStream::new(copy.take(MAX_BODY_BYTES));
        Some(reqwest::Body::wrap_stream(stream))
    }
}

fn lock(m: &Mutex<SpoolState>) -> std::sync::MutexGuard<'_, SpoolState> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
