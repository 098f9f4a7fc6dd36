//! Generates the N-API link setup.
fn main() {
    napi_build::setup();
}
