//! The wasm entry point: hydrates what the server rendered. Nothing else lives here.
//!
//! Pages are lazily loaded chunks (`app::routes`), so hydration is asynchronous: the page's chunk
//! is fetched before its DOM can be claimed. The `data-hydrated` marker that the end-to-end tests
//! wait for is set only once that has finished.

// Leptos views are deeply nested types; the accounts table goes past the default limit of 128
// when the wasm build computes their layout.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body();
        let Some(body) = body else { return };
        let mounted = leptos::mount::hydrate_from_async(body.clone(), app::App).await;
        mounted.forget();
        let _ = body.set_attribute("data-hydrated", "");
    });
}
