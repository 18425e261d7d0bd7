//! The resources pages read their server data through: Leptos's resource, with a JSON codec that
//! reads the way server functions do.
//!
//! A resource's first value travels inside the HTML and is read with the codec's decoder; later
//! values come from the server function's response, which `server_fn` reads with
//! `serde_json::from_slice`. Leptos's default codec reads with `serde_json::from_str`, a second
//! reader type, so every page DTO's `Deserialize` was compiled into the wasm twice (once per
//! reader). Reading the HTML's copy as bytes too compiles each one once; that was a sixth of the
//! wasm of the larger pages (`docs/benchmarks.md`).

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, decoded with `serde_json::from_slice` (see the module docs).
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(encoded: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(encoded.as_bytes())
    }
}

/// A page's server data.
pub type PageResource<T> = Resource<T, JsonBytes>;

/// `Resource::new` with [`JsonBytes`]: reruns `fetcher` whenever `source` changes; on the server
/// its first value is rendered into the page and read back in the browser without a request.
#[track_caller]
pub fn page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
