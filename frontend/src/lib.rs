//! The wasm entry point: hydrates what the server rendered. Nothing else lives here.

// Leptos views are deeply nested types; the accounts table goes past the default limit of 128
// when the wasm build computes their layout.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Marks the page as interactive; end-to-end tests wait for it before clicking.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
