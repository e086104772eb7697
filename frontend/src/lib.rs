//! The browser bundle: hydrates the server-rendered page so that it becomes interactive.
//! Every page already works without it.
#![forbid(unsafe_code)]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
