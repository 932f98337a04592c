//! `fastnet env`.

use anyhow::{bail, Result};
use clap::Args;

use crate::runtime::runtime_info;

#[derive(Args)]
pub struct EnvArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: EnvArgs) -> Result<()> {
    let info = runtime_info();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        println!("fastnet      {}", info.fastnet_version);
        println!(
            "libtorch     {} ({})",
            info.libtorch_version, info.libtorch_lib
        );
        println!(
            "cpu threads  {} (MKL {}, OpenMP {})",
            info.cpu_threads,
            yes_no(info.mkl),
            yes_no(info.openmp)
        );
        println!(
            "cuda         {} ({} device(s), cuDNN {})",
            yes_no(info.cuda_available),
            info.cuda_devices,
            yes_no(info.cudnn_available)
        );
        let show = |r: &Result<(), String>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("FAILED: {e}"),
        };
        println!("self-test    cpu {}", show(&info.cpu_selftest));
        if let Some(r) = &info.cuda_selftest {
            println!("self-test    cuda:0 {}", show(r));
        }
    }
    if let Err(e) = &info.cpu_selftest {
        bail!("libtorch CPU self-test failed: {e}");
    }
    if let Some(Err(e)) = &info.cuda_selftest {
        bail!("libtorch CUDA self-test failed: {e}");
    }
    Ok(())
}
