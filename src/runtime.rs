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

/// Where to run: `auto` (the first CUDA device when there is one, else
/// the CPU), `cpu`, `cuda` (= `cuda:0`) or `cuda:N`. Parsed by clap and by
/// serde (`train.device`) alike; [`DeviceSpec::resolve`] checks it against
/// the devices this machine has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = crate::error::FastnetError;

    fn from_str(s: &str) -> Result<DeviceSpec, Self::Err> {
        match s {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| {
                    crate::error::FastnetError::bad_config(
                        "device",
                        format!("{other:?}"),
                        "auto, cpu, cuda or cuda:N",
                    )
                }),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl Serialize for DeviceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DeviceSpec, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What this machine has, for error messages: `cpu only (no CUDA device)`
/// or `cpu, cuda:0 .. cuda:3`.
pub fn available_devices() -> String {
    let n = if tch::Cuda::is_available() {
        tch::Cuda::device_count()
    } else {
        0
    };
    match n {
        0 => "cpu only (no CUDA device visible)".into(),
        1 => "cpu, cuda:0".into(),
        n => format!("cpu, cuda:0 .. cuda:{}", n - 1),
    }
}

impl DeviceSpec {
    /// The libtorch device, or [`FastnetError::DeviceUnavailable`] naming the
    /// devices that exist (libtorch itself would abort the process).
    ///
    /// [`FastnetError::DeviceUnavailable`]: crate::error::FastnetError::DeviceUnavailable
    pub fn resolve(&self) -> crate::error::Result<Device> {
        match *self {
            DeviceSpec::Auto => Ok(Device::cuda_if_available()),
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                let count = if tch::Cuda::is_available() {
                    tch::Cuda::device_count()
                } else {
                    0
                };
                if (n as i64) < count {
                    Ok(Device::Cuda(n))
                } else {
                    Err(crate::error::FastnetError::DeviceUnavailable {
                        requested: self.to_string(),
                        available: available_devices(),
                    })
                }
            }
        }
    }
}

/// The process's interrupt flag: set by Ctrl-C (SIGINT) once the handler
/// is installed by [`install_interrupt_handler`]. One handler per process,
/// one flag: every training run in the process watches the same flag and
/// clears it when it starts.
pub fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    static FLAG: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
        std::sync::OnceLock::new();
    FLAG.get_or_init(Default::default).clone()
}

/// Installs the Ctrl-C handler that sets [`interrupt_flag`] (once; later
/// calls do nothing).
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let flag = interrupt_flag();
        // Fails only when another handler is installed already (an
        // embedding program's); then that program handles Ctrl-C.
        let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse_print_and_absent_devices_are_errors() {
        for (text, spec) in [
            ("auto", DeviceSpec::Auto),
            ("cpu", DeviceSpec::Cpu),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap(), spec);
        }
        assert_eq!(DeviceSpec::Cuda(3).to_string(), "cuda:3");
        let e = "tpu".parse::<DeviceSpec>().unwrap_err();
        assert!(
            matches!(e, crate::error::FastnetError::BadConfig { .. }),
            "{e}"
        );
        assert_eq!(DeviceSpec::Cpu.resolve().unwrap(), Device::Cpu);
        // an index past the devices this machine has (none on CI)
        let n = if tch::Cuda::is_available() {
            tch::Cuda::device_count()
        } else {
            0
        };
        let e = DeviceSpec::Cuda(n as usize).resolve().unwrap_err();
        match &e {
            crate::error::FastnetError::DeviceUnavailable {
                requested,
                available,
            } => {
                assert_eq!(requested, &format!("cuda:{n}"));
                assert!(available.starts_with("cpu"), "{available}");
            }
            other => panic!("{other}"),
        }
    }
}
