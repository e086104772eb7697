// The migrations are embedded into the binary by `sqlx::migrate!`; a new or changed
// migration must rebuild this crate.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
