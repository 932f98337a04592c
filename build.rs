//! Embeds an rpath to libtorch's folder so `fastnet` starts without
//! LD_LIBRARY_PATH, records the libtorch version for `fastnet env`, and
//! compiles the c10d shim (src/dist/c10d_shim.cpp: TCPStore and
//! ProcessGroupGloo, whose code is in libtorch_cpu) against libtorch's
//! headers and gloo's (Debian's libgloo-dev, declarations only). Without
//! gloo's headers the crate builds without it (cfg `fastnet_no_c10d`) and
//! multi-process training is a clear error. torch-sys (links = "tch")
//! exports the library folder to its direct dependents as
//! DEP_TCH_LIBTORCH_LIB.
use std::path::{Path, PathBuf};

/// Where gloo's headers are, if anywhere.
fn gloo_include() -> Option<PathBuf> {
    let from_env = std::env::var_os("FASTNET_GLOO_INCLUDE").map(PathBuf::from);
    from_env
        .into_iter()
        .chain([
            PathBuf::from("/usr/include"),
            PathBuf::from("/usr/local/include"),
        ])
        .find(|d| d.join("gloo/transport/device.h").exists())
}

fn c10d_shim(lib: &str) {
    println!("cargo:rustc-check-cfg=cfg(fastnet_no_c10d)");
    println!("cargo:rerun-if-changed=src/dist/c10d_shim.cpp");
    println!("cargo:rerun-if-env-changed=FASTNET_GLOO_INCLUDE");
    let include = Path::new(lib).join("../include");
    let Some(gloo) = gloo_include().filter(|_| {
        include
            .join("torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
            .exists()
    }) else {
        println!("cargo:warning=gloo headers (libgloo-dev) or libtorch's c10d headers not found: building without multi-process training (run scripts/setup.sh)");
        println!("cargo:rustc-cfg=fastnet_no_c10d");
        return;
    };
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let mut build = cc::Build::new();
    // NCCL: the wheel's NCCL and CUDA runtime headers plus the two
    // header-only packages setup installs; libtorch_cuda (which torch-sys
    // links when the wheel has it) holds ProcessGroupNCCL.
    let nvidia = Path::new(lib).join("../../nvidia");
    let (nccl, cuda) = (nvidia.join("nccl/include"), nvidia.join("cu13/include"));
    let has_nccl = nccl.join("nccl.h").exists()
        && cuda.join("cuda_runtime.h").exists()
        && cuda.join("crt/host_config.h").exists()
        && cuda.join("nv/target").exists()
        && Path::new(lib).join("libtorch_cuda.so").exists();
    println!("cargo:rustc-check-cfg=cfg(fastnet_nccl)");
    if has_nccl {
        build
            .include(&nccl)
            .include(&cuda)
            .define("USE_C10D_NCCL", None)
            .define("USE_CUDA", None);
        println!("cargo:rustc-cfg=fastnet_nccl");
    } else {
        println!("cargo:warning=CUDA/NCCL headers not found beside libtorch: building c10d with Gloo only (scripts/setup.sh installs them)");
    }
    build
        .cpp(true)
        .std("c++17")
        .file("src/dist/c10d_shim.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .include(gloo)
        .define("USE_C10D_GLOO", None)
        .define("USE_DISTRIBUTED", None)
        .define("_GLIBCXX_USE_CXX11_ABI", Some(abi.as_str()))
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false)
        .compile("fastnet_c10d_shim");
}

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:rustc-check-cfg=cfg(fastnet_no_c10d)");
        println!("cargo:rustc-cfg=fastnet_no_c10d");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    c10d_shim(&lib);
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
