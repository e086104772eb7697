//! The browser bundle. The portal is built as Leptos islands: pages render on the server
//! and work completely without JavaScript, and only components marked `#[island]` are
//! compiled into this bundle and made interactive here. Everything else in the page is
//! left exactly as the server sent it.
#![forbid(unsafe_code)]

/// Called by Leptos's island loader once the bundle has loaded, before it hydrates each
/// island on the page. Marks the document (`<html data-hydrated>`) so that end-to-end
/// tests, and anything else that must know, can wait for the bundle to have run.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "");
    }
}
