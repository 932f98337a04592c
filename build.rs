//! Embeds an rpath to libtorch's folder so `fastnet` starts without
//! LD_LIBRARY_PATH, and records the libtorch version for `fastnet env`.
//! torch-sys (links = "tch") exports the folder to its direct dependents as
//! DEP_TCH_LIBTORCH_LIB.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-env=FASTNET_LIBTORCH_LIB={lib}");
    // PyPI wheels carry torch/version.py next to torch/lib.
    let version_py = Path::new(&lib).join("../version.py");
    let version = std::fs::read_to_string(&version_py)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("__version__ = ")
                    .map(|v| v.trim_matches(['\'', '"']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FASTNET_LIBTORCH_VERSION={version}");
}
