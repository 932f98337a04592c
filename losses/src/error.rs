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

/// Checks that `t` is a batch of fields `[batch, channels, *grid]` with
/// `grid` the field shape of the grid (`[nlat, nlon]` on lat-lon grids,
/// `[npoints]` on Gaussian grids) and, when given, `channels` channels.
/// The error names `what`, the shape found and the one expected, e.g.
/// `[batch, channels, 9, 16]` or `[batch, 3, 40320]`.
pub(crate) fn check_field(
    what: &str,
    t: &tch::Tensor,
    channels: Option<i64>,
    grid: &[i64],
) -> Result<()> {
    let s = t.size();
    let ok = s.len() == 2 + grid.len() && channels.is_none_or(|c| s[1] == c) && s[2..] == *grid;
    if ok {
        Ok(())
    } else {
        Err(LossError::Shape {
            what: what.into(),
            got: s,
            expected: format!(
                "[batch, {}, {}]",
                channels.map_or("channels".to_string(), |c| c.to_string()),
                grid.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// A LossError::Config for a grid the losses cannot work on.
pub(crate) fn unsupported_grid(grid: &fastnet_mesh::Grid, what: &str) -> LossError {
    LossError::Config {
        field: "grid".into(),
        value: grid.describe(),
        expected: format!(
            "a latitude-longitude or Gaussian (O<N>/N<N>) grid for {what}: a point grid has no rings"
        ),
    }
}
