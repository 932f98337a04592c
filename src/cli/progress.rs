//! The one progress-bar style of the command line: every long command shows
//! the same bar on stderr (hidden when stderr is not a terminal) and clears
//! it before printing its summary.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The bar's layout: spinner, elapsed time, bar, count, estimated time left,
/// message.
const TEMPLATE: &str = "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}";

/// A bar of `len` steps (0 when the total is learnt later: set it with
/// `set_length`) labelled `msg`. It ticks on its own so the spinner and the
/// clock move during long steps; end it with `finish_and_clear`.
pub fn bar(len: u64, msg: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(ProgressStyle::with_template(TEMPLATE).expect("static template"));
    b.set_message(msg.to_string());
    b.enable_steady_tick(Duration::from_millis(200));
    b
}
