//! `fastnet train --config FILE.toml [--resume]`.

use std::path::PathBuf;
use std::time::Duration;

use super::progress;
use crate::train::config::TrainConfig;
use crate::train::run::{train, Event};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct TrainArgs {
    /// Training configuration (TOML; see the README).
    #[arg(long)]
    config: PathBuf,
    /// Continue from the newest checkpoint in train.checkpoint_dir.
    #[arg(long)]
    resume: bool,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let cfg = TrainConfig::load(&args.config)?;
    let bar = progress::bar(cfg.train.steps, "");
    bar.enable_steady_tick(Duration::from_millis(200));
    // Without a terminal (a batch job's log file) the bar is hidden and
    // would swallow its println lines: print them, and a progress line
    // every twentieth of the run, to stderr instead.
    let logging = bar.is_hidden();
    let say = |s: String| {
        if logging {
            eprintln!("{s}");
        } else {
            bar.println(s);
        }
    };
    let every = (cfg.train.steps / 20).max(1);
    let mut last = None;
    let ckpt = train(&cfg, args.resume, &mut |e| match e {
        Event::Info(s) => say(s),
        Event::Warning(s) => say(format!("warning: {s}")),
        Event::Step {
            metrics,
            valid,
            start,
            ..
        } => {
            if bar.position() < start {
                bar.set_position(start);
            }
            bar.set_position(metrics.step);
            let status = format!(
                "loss {:.4}  lr {:.2e}  R={}  {:.1} samples/s",
                metrics.loss, metrics.lr, metrics.rollout, metrics.samples_per_s
            );
            if logging && (metrics.step % every == 0 || metrics.step == cfg.train.steps) {
                say(format!(
                    "step {}/{}: {status}",
                    metrics.step, cfg.train.steps
                ));
            }
            bar.set_message(status);
            if let Some(v) = valid {
                let parts: Vec<String> = v
                    .iter()
                    .take(6)
                    .map(|(k, x)| format!("{k} {x:.3}"))
                    .collect();
                say(format!(
                    "step {}: valid RMSE {}{}",
                    metrics.step,
                    parts.join(", "),
                    if v.len() > 6 { ", ..." } else { "" }
                ));
            }
            last = Some(metrics.loss);
        }
    });
    bar.finish_and_clear();
    let done = ckpt?;
    println!(
        "trained to step {} (last loss {}) -> {}; metrics in {}",
        done.step,
        last.map_or("-".to_string(), |l| format!("{l:.5}")),
        done.checkpoint.display(),
        cfg.train.metrics.display()
    );
    Ok(())
}
