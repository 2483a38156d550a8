//! `uniffi-bindgen generate --library <libwstether_ffi.so> --language kotlin|swift --out-dir <dir>`:
//! the generator pinned to the scaffolding version of `wstether-ffi`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
