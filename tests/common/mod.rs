//! Running the `fastnet` binary from the integration tests.

#[allow(dead_code)] // not every test binary uses it
pub mod run;

use std::process::{Command, Output};

/// Runs `fastnet ARGS...` and returns what it printed and its status.
pub fn fastnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastnet"))
        .args(args)
        .output()
        .expect("the fastnet binary runs")
}

/// Runs `fastnet ARGS...`, fails the test with both outputs unless it
/// succeeds, and returns its standard output.
#[allow(dead_code)] // not every test binary uses it
pub fn ok(args: &[&str]) -> String {
    let r = fastnet(args);
    assert!(
        r.status.success(),
        "fastnet {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    String::from_utf8_lossy(&r.stdout).into_owned()
}
