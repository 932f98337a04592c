//! Where this process sits in a multi-process run, from the launchers'
//! conventions: torchrun's `RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
//! `MASTER_ADDR`, `MASTER_PORT` (and `TORCHELASTIC_USE_AGENT_STORE` when it
//! hosts the store), or SLURM's `SLURM_PROCID`, `SLURM_NTASKS`,
//! `SLURM_LOCALID` with `MASTER_ADDR`/`MASTER_PORT` from the environment.

use crate::error::{FastnetError, Result};

/// Where this process sits in a multi-process run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub rank: usize,
    pub world: usize,
    /// Rank on this node: the CUDA device it uses.
    pub local_rank: usize,
    pub master_addr: String,
    pub master_port: u16,
    /// The launcher hosts the rendezvous store (torchrun's agent,
    /// `TORCHELASTIC_USE_AGENT_STORE=True`): every rank connects to it.
    pub agent_store: bool,
}

fn env_number(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<usize>> {
    match get(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            FastnetError::bad_config(name, format!("{v:?}"), "a non-negative whole number")
        }),
    }
}

impl Launch {
    /// From the process environment (see the module doc); `None` for a
    /// single process.
    pub fn from_env() -> Result<Option<Launch>> {
        Launch::from_vars(&|k| std::env::var(k).ok())
    }

    /// From a variable lookup (the environment in [`Launch::from_env`]).
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
        let (rank, world, local, source) = if get("WORLD_SIZE").is_some() || get("RANK").is_some() {
            (
                env_number(get, "RANK")?,
                env_number(get, "WORLD_SIZE")?,
                env_number(get, "LOCAL_RANK")?,
                "RANK/WORLD_SIZE",
            )
        } else if get("SLURM_NTASKS").is_some() && get("MASTER_ADDR").is_some() {
            (
                env_number(get, "SLURM_PROCID")?,
                env_number(get, "SLURM_NTASKS")?,
                env_number(get, "SLURM_LOCALID")?,
                "SLURM_PROCID/SLURM_NTASKS",
            )
        } else {
            return Ok(None);
        };
        let (Some(rank), Some(world)) = (rank, world) else {
            return Err(FastnetError::bad_config(
                source,
                "only one of the two set",
                "both the rank and the world size",
            ));
        };
        if world == 0 || rank >= world {
            return Err(FastnetError::bad_config(
                "RANK",
                rank,
                format!("a rank in 0..{world} (WORLD_SIZE = {world})"),
            ));
        }
        if world == 1 {
            return Ok(None);
        }
        let master_addr = get("MASTER_ADDR").ok_or_else(|| {
            FastnetError::bad_config(
                "MASTER_ADDR",
                "unset",
                format!("the address of rank 0 (WORLD_SIZE = {world}); torchrun sets it, under SLURM export it"),
            )
        })?;
        let port = get("MASTER_PORT").unwrap_or_else(|| "29500".into());
        let master_port = port.trim().parse().map_err(|_| {
            FastnetError::bad_config("MASTER_PORT", format!("{port:?}"), "a port number 1..65535")
        })?;
        Ok(Some(Launch {
            rank,
            world,
            local_rank: local.unwrap_or(rank),
            master_addr,
            master_port,
            agent_store: get("TORCHELASTIC_USE_AGENT_STORE")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(v: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| v.iter().find(|(n, _)| *n == k).map(|(_, x)| x.to_string())
    }

    #[test]
    fn launchers_environments_parse_and_bad_ones_are_errors() {
        assert_eq!(Launch::from_vars(&vars(&[])).unwrap(), None);
        let torchrun = [
            ("RANK", "1"),
            ("WORLD_SIZE", "4"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "127.0.0.1"),
            ("MASTER_PORT", "29511"),
        ];
        let l = Launch::from_vars(&vars(&torchrun)).unwrap().unwrap();
        assert_eq!(
            (l.rank, l.world, l.local_rank, l.master_port),
            (1, 4, 1, 29511)
        );
        let slurm = [
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "8"),
            ("SLURM_LOCALID", "1"),
            ("MASTER_ADDR", "node01"),
        ];
        let l = Launch::from_vars(&vars(&slurm)).unwrap().unwrap();
        assert_eq!(
            (l.rank, l.world, l.local_rank, l.master_port),
            (3, 8, 1, 29500)
        );
        // a single-rank world is one process
        assert_eq!(
            Launch::from_vars(&vars(&[("RANK", "0"), ("WORLD_SIZE", "1")])).unwrap(),
            None
        );
        let field = |v: &[(&str, &str)]| match Launch::from_vars(&vars(v)) {
            Err(FastnetError::BadConfig { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(&[("RANK", "0"), ("WORLD_SIZE", "2")]), "MASTER_ADDR");
        assert_eq!(
            field(&[("RANK", "2"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "x")]),
            "RANK"
        );
        assert_eq!(field(&[("RANK", "one"), ("WORLD_SIZE", "2")]), "RANK");
        assert_eq!(
            field(&[
                ("RANK", "0"),
                ("WORLD_SIZE", "2"),
                ("MASTER_ADDR", "x"),
                ("MASTER_PORT", "http")
            ]),
            "MASTER_PORT"
        );
    }
}
