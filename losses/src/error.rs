//! The one error type of the losses crate.

/// Loss construction and evaluation errors; each names the offending value.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    #[error("{what}: shape {got:?}, expected {expected}")]
    Shape {
        what: String,
        got: Vec<i64>,
        expected: String,
    },

    #[error("loss config `{field}` = {value}: {expected}")]
    Config {
        field: String,
        value: String,
        expected: String,
    },

    #[error(transparent)]
    Eval(#[from] fastnet_eval::EvalError),

    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

pub type Result<T, E = LossError> = std::result::Result<T, E>;

/// Checks that `t` is `[batch, channels, nlat, nlon]` with the given
/// trailing sizes (`None` = any).
pub(crate) fn check_bcyx(
    what: &str,
    t: &tch::Tensor,
    channels: Option<i64>,
    nlat: i64,
    nlon: i64,
) -> Result<()> {
    let s = t.size();
    let ok = s.len() == 4 && channels.is_none_or(|c| s[1] == c) && s[2] == nlat && s[3] == nlon;
    if ok {
        Ok(())
    } else {
        Err(LossError::Shape {
            what: what.into(),
            got: s,
            expected: format!(
                "[batch, {}, {nlat}, {nlon}]",
                channels.map_or("channels".to_string(), |c| c.to_string())
            ),
        })
    }
}
