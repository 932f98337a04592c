//! Embeds an rpath to libtorch's folder so this crate's test and bench
//! binaries start without LD_LIBRARY_PATH (torch-sys exports the folder to
//! direct dependents as DEP_TCH_LIBTORCH_LIB).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
