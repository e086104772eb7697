# Shared by .ci/portal and .ci/test: installs what the portal needs to build, run and
# test, each piece only if it is missing, so every script is safe to run again.
# Sourced, not run.

PORTAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
# Must equal the wasm-bindgen crate version pinned in Cargo.toml and Cargo.lock.
WASM_BINDGEN_VERSION="0.2.130"

say() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "Installing Debian packages: $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

ensure_rust_tools() {
  if ! command -v cargo >/dev/null; then
    echo "cargo is not installed: install Rust with rustup first (https://rustup.rs)." >&2
    exit 1
  fi
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! rustup which clippy-driver >/dev/null 2>&1; then
    say "Adding clippy"
    rustup component add clippy
  fi
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes, once)"
    cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    say "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    # --locked fails against this version's lock file; the version itself is pinned.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_node() {
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
}

# npm ci in a folder when its node_modules is missing or older than its lock file.
ensure_npm_packages() {
  local folder="$PORTAL_ROOT/$1"
  if [ ! -f "$folder/node_modules/.package-lock.json" ] \
    || [ "$folder/package-lock.json" -nt "$folder/node_modules/.package-lock.json" ]; then
    say "Installing npm packages in $1/"
    (cd "$folder" && npm ci --no-audit --no-fund)
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
}

# The design system's icons and JavaScript, copied from the npm package into the
# assets folder cargo-leptos publishes (style/public). The CSS is compiled from the same
# package by style/main.scss.
prepare_site_assets() {
  local dist="$PORTAL_ROOT/style/node_modules/nhsuk-frontend/dist/nhsuk"
  mkdir -p "$PORTAL_ROOT/style/public"
  rm -rf "$PORTAL_ROOT/style/public/assets"
  cp -R "$dist/assets" "$PORTAL_ROOT/style/public/assets"
  cp "$dist/nhsuk-frontend.min.js" "$PORTAL_ROOT/style/public/nhsuk-frontend.min.js"
}

# Tools that npm installed (sass, wasm-opt) come first on PATH, so cargo-leptos uses
# them instead of trying to download its own.
use_local_tools() {
  export PATH="$PORTAL_ROOT/style/node_modules/.bin:$HOME/.cargo/bin:$PATH"
}

# The environment cargo-leptos gives its debug builds. Plain cargo commands that use
# the same one reuse its compiled dependencies instead of rebuilding them all (see
# build_site_frontend_debug for the one variable cargo-leptos must not be given).
use_leptos_debug_environment() {
  export RUSTFLAGS="--cfg erase_components"
  export LEPTOS_OUTPUT_NAME=portal LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend \
    LEPTOS_BIN_DIR=server LEPTOS_JS_MINIFY=false LEPTOS_HASH_FILES=false
}

# Clippy as the compiler of the workspace's own crates, in the builds the tests need
# anyway, with its warnings as errors. This is how `cargo clippy` itself works: it sets
# RUSTC_WORKSPACE_WRAPPER to clippy-driver (which only wraps workspace members, so the
# dependencies are compiled once and shared with builds without it) and passes the
# arguments after `--` in CLIPPY_ARGS, joined by `__CLIPPY_HACKERY__`. `cargo clippy`
# can only do a check build, a second compilation of every dependency that no test
# uses; with the wrapper on `cargo test` and `cargo leptos build`, the lints run in the
# one build that is needed anyway (issue #15; docs/timings.md). The same lints on the
# same targets as the separate commands did: on the server side every target `cargo
# test` builds (libraries, binaries, unit and integration tests, examples), on the
# browser side the app (hydrate) and frontend libraries.
use_clippy_as_workspace_compiler() {
  RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
  export RUSTC_WORKSPACE_WRAPPER
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

# `cargo leptos build` (debug) of the browser side only: the wasm bundle, the styles and
# the assets. The Rust tests build the server binary the journeys run
# (target/debug/server), so building it here too compiled the app and the server twice.
# cargo-leptos appends `--cfg erase_components` to any RUSTFLAGS it is given, so with the
# variable set it built everything with the flag twice: a flag list no other command
# used, which made the tests compile every dependency again (issue #15;
# docs/timings.md). Without the variable it sets exactly the flags the environment above
# gives plain cargo.
build_site_frontend_debug() {
  env -u RUSTFLAGS cargo leptos build --frontend-only
}
