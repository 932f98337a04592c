//! What libtorch this binary runs on and which devices it can use.

use serde::Serialize;
use tch::{Device, Kind, Tensor};

/// libtorch build and device facts, as `fastnet env` prints them.
#[derive(Debug, Serialize)]
pub struct RuntimeInfo {
    pub fastnet_version: &'static str,
    pub libtorch_version: &'static str,
    pub libtorch_lib: &'static str,
    pub cuda_available: bool,
    pub cuda_devices: i64,
    pub cudnn_available: bool,
    pub cpu_threads: i32,
    pub mkl: bool,
    pub openmp: bool,
    /// Result of a small matrix product on each device, checked against the
    /// closed form (`None`: device not present).
    pub cpu_selftest: Result<(), String>,
    pub cuda_selftest: Option<Result<(), String>>,
}

/// `ones(64, 64) @ arange(64)` must give `64·63/2 = 2016` in every entry.
fn selftest(device: Device) -> Result<(), String> {
    let a = Tensor::ones([64, 64], (Kind::Float, device));
    let b = Tensor::arange(64, (Kind::Float, device));
    let y = a.matmul(&b).to_device(Device::Cpu);
    let v: Vec<f32> = Vec::<f32>::try_from(&y).map_err(|e| e.to_string())?;
    match v.iter().find(|&&x| x != 2016.0) {
        None => Ok(()),
        Some(x) => Err(format!("matmul gave {x}, expected 2016")),
    }
}

/// Probes libtorch (runs a tiny computation on CPU and, when present, on the
/// first CUDA device).
pub fn runtime_info() -> RuntimeInfo {
    let cuda_available = tch::Cuda::is_available();
    RuntimeInfo {
        fastnet_version: env!("CARGO_PKG_VERSION"),
        libtorch_version: env!("FASTNET_LIBTORCH_VERSION"),
        libtorch_lib: env!("FASTNET_LIBTORCH_LIB"),
        cuda_available,
        cuda_devices: if cuda_available {
            tch::Cuda::device_count()
        } else {
            0
        },
        cudnn_available: cuda_available && tch::Cuda::cudnn_is_available(),
        cpu_threads: tch::get_num_threads(),
        mkl: tch::utils::has_mkl(),
        openmp: tch::utils::has_openmp(),
        cpu_selftest: selftest(Device::Cpu),
        cuda_selftest: cuda_available.then(|| selftest(Device::Cuda(0))),
    }
}
