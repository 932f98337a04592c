//! Multi-process data parallelism on PyTorch's own distributed engine,
//! c10d: a `TCPStore` for rendezvous and `ProcessGroupGloo` for CPU tensors,
//! reached through a small C++ shim (`c10d_shim.cpp`, compiled by build.rs
//! against the libtorch that setup installs). [`Launch::from_env`] reads the
//! launchers' conventions (torchrun: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
//! `MASTER_ADDR`, `MASTER_PORT`; SLURM: `SLURM_PROCID`, `SLURM_NTASKS`,
//! `SLURM_LOCALID` with `MASTER_ADDR`/`MASTER_PORT` from the environment);
//! without them a run is one process.
//!
//! The store has no authentication: rank 0 binds it to the `MASTER_ADDR`
//! interface only (loopback when every rank is local), never to every
//! interface, and its port must stay inside the cluster.

use std::ffi::{c_char, c_int, c_long, c_void, CStr, CString};
use std::net::{IpAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

use tch::{Kind, Tensor};

use crate::error::{FastnetError, Result};

mod launch;
pub use launch::Launch;

/// Which c10d backend reduces: Gloo (CPU tensors; on GPUs through CPU
/// copies) or NCCL (CUDA tensors, GPU to GPU). `auto`: NCCL on CUDA when
/// this build has it, else Gloo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Auto,
    Gloo,
    Nccl,
}

/// Whether this build has NCCL (the CUDA headers were found at build time).
pub fn nccl_available() -> bool {
    #[cfg(not(fastnet_no_c10d))]
    {
        // SAFETY: no arguments, no state.
        unsafe { fastnet_c10d_has_nccl() != 0 }
    }
    #[cfg(fastnet_no_c10d)]
    false
}

impl Backend {
    /// The backend for a run on `device`, or an error for NCCL without
    /// CUDA or without NCCL in this build.
    pub fn resolve(self, device: tch::Device) -> Result<Backend> {
        let cuda = matches!(device, tch::Device::Cuda(_));
        match self {
            Backend::Auto if cuda && nccl_available() => Ok(Backend::Nccl),
            Backend::Auto => Ok(Backend::Gloo),
            Backend::Gloo => Ok(Backend::Gloo),
            Backend::Nccl if !cuda => Err(FastnetError::bad_config(
                "train.dist_backend",
                "\"nccl\"",
                format!("gloo or auto on {device:?}: NCCL reduces CUDA tensors only"),
            )),
            Backend::Nccl if !nccl_available() => Err(FastnetError::bad_config(
                "train.dist_backend",
                "\"nccl\"",
                "gloo or auto: this fastnet was built without NCCL (scripts/setup.sh installs the CUDA headers it needs; rebuild)",
            )),
            Backend::Nccl => Ok(Backend::Nccl),
        }
    }
}

#[cfg(not(fastnet_no_c10d))]
extern "C" {
    fn fastnet_c10d_free_message(m: *mut c_char);
    fn fastnet_c10d_has_nccl() -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn fastnet_c10d_nccl_new(
        host: *const c_char,
        port: c_int,
        serve: c_int,
        listen_fd: c_int,
        rank: c_int,
        world: c_int,
        timeout_ms: c_long,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn fastnet_c10d_gloo_new(
        host: *const c_char,
        port: c_int,
        serve: c_int,
        listen_fd: c_int,
        rank: c_int,
        world: c_int,
        timeout_ms: c_long,
        local_addr: *const c_char,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn fastnet_c10d_free(g: *mut c_void);
    fn fastnet_c10d_allreduce_sum(g: *mut c_void, tensor: *mut c_void) -> *mut c_char;
    fn fastnet_c10d_broadcast(g: *mut c_void, tensor: *mut c_void, root: c_int) -> *mut c_char;
    fn fastnet_c10d_barrier(g: *mut c_void) -> *mut c_char;
    fn fastnet_c10d_store_connect(
        host: *const c_char,
        port: c_int,
        timeout_ms: c_long,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn fastnet_c10d_store_free(s: *mut c_void);
    fn fastnet_c10d_store_set(s: *mut c_void, key: *const c_char, value: i64) -> *mut c_char;
    fn fastnet_c10d_store_get(
        s: *mut c_void,
        key: *const c_char,
        value: *mut i64,
        found: *mut c_int,
    ) -> *mut c_char;
}

/// A client of the rendezvous store of its own, for heartbeats.
#[cfg(not(fastnet_no_c10d))]
struct StoreClient {
    raw: *mut c_void,
}

// One thread uses a client at a time.
#[cfg(not(fastnet_no_c10d))]
unsafe impl Send for StoreClient {}

#[cfg(not(fastnet_no_c10d))]
impl StoreClient {
    fn connect(host: &CStr, port: u16, timeout: Duration) -> Result<StoreClient> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: a valid C string and out-pointer.
        let m = unsafe {
            fastnet_c10d_store_connect(
                host.as_ptr(),
                port as c_int,
                timeout.as_millis().min(c_long::MAX as u128) as c_long,
                &mut raw,
            )
        };
        check("store connection", m)?;
        Ok(StoreClient { raw })
    }

    fn set(&self, key: &str, value: i64) -> Result<()> {
        let k = CString::new(key).map_err(|e| FastnetError::State(e.to_string()))?;
        // SAFETY: a live client and a C string.
        check("store set", unsafe {
            fastnet_c10d_store_set(self.raw, k.as_ptr(), value)
        })
    }

    fn get(&self, key: &str) -> Result<Option<i64>> {
        let k = CString::new(key).map_err(|e| FastnetError::State(e.to_string()))?;
        let (mut value, mut found) = (0i64, 0 as c_int);
        // SAFETY: a live client, a C string and out-pointers.
        let m = unsafe { fastnet_c10d_store_get(self.raw, k.as_ptr(), &mut value, &mut found) };
        check("store get", m)?;
        Ok((found != 0).then_some(value))
    }
}

#[cfg(not(fastnet_no_c10d))]
impl Drop for StoreClient {
    fn drop(&mut self) {
        // SAFETY: created by fastnet_c10d_store_connect, freed once.
        unsafe { fastnet_c10d_store_free(self.raw) };
    }
}

#[cfg(not(fastnet_no_c10d))]
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How often each rank writes `alive/RANK` to the store, and how old a
/// heartbeat may be before its rank counts as gone.
#[cfg(not(fastnet_no_c10d))]
const HEARTBEAT: Duration = Duration::from_millis(500);
#[cfg(not(fastnet_no_c10d))]
const GONE_AFTER_MS: i64 = 2_000;

/// A c10d process group (Gloo) of this run's ranks.
pub struct ProcessGroup {
    rank: usize,
    world: usize,
    /// Where its tensors live: the CPU for Gloo, the rank's GPU for NCCL.
    device: tch::Device,
    #[cfg_attr(fastnet_no_c10d, allow(dead_code))]
    raw: *mut c_void,
    /// The store's address and whether the launcher hosts it, to find out
    /// which rank is gone when a collective fails.
    #[cfg_attr(fastnet_no_c10d, allow(dead_code))]
    store: (CString, u16, bool),
    /// This rank's heartbeat thread and its stop flag.
    heartbeat: Option<(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<()>,
    )>,
}

// The group is used from one thread at a time (the training loop); c10d's
// Gloo backend may be driven from any thread.
unsafe impl Send for ProcessGroup {}

#[cfg(not(fastnet_no_c10d))]
fn check(what: &str, m: *mut c_char) -> Result<()> {
    if m.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null return is a NUL-terminated malloc'd message.
    let text = unsafe { CStr::from_ptr(m) }.to_string_lossy().into_owned();
    unsafe { fastnet_c10d_free_message(m) };
    Err(FastnetError::State(format!(
        "c10d {what}: {}",
        text.lines().next().unwrap_or(&text)
    )))
}

impl ProcessGroup {
    /// Joins the group of `launch`: rank 0 binds the rendezvous store to
    /// `MASTER_ADDR:MASTER_PORT` (only that interface) and waits for the
    /// others; every operation fails after `timeout` (a rank that died or
    /// hangs).
    pub fn join(launch: &Launch, timeout: Duration) -> Result<ProcessGroup> {
        Self::join_with(launch, timeout, Backend::Gloo, tch::Device::Cpu)
    }

    /// [`join`](Self::join) with a resolved backend ([`Backend::resolve`]);
    /// NCCL groups reduce tensors on `device`.
    pub fn join_with(
        launch: &Launch,
        timeout: Duration,
        backend: Backend,
        device: tch::Device,
    ) -> Result<ProcessGroup> {
        let addr = (launch.master_addr.as_str(), launch.master_port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                FastnetError::bad_config(
                    "MASTER_ADDR",
                    &launch.master_addr,
                    "a resolvable host name or address",
                )
            })?;
        let local_addr = if addr.ip().is_loopback() {
            "127.0.0.1".to_string()
        } else if launch.rank == 0 {
            addr.ip().to_string()
        } else {
            std::env::var("FASTNET_GLOO_ADDR").unwrap_or_else(|_| hostname())
        };
        let device = match backend {
            Backend::Nccl => device,
            _ => tch::Device::Cpu,
        };
        Self::join_at(launch, addr.ip(), &local_addr, timeout, device)
    }

    /// Where this group's tensors must be.
    pub fn device(&self) -> tch::Device {
        self.device
    }

    #[cfg(fastnet_no_c10d)]
    fn join_at(
        _: &Launch,
        _: IpAddr,
        _: &str,
        _: Duration,
        _: tch::Device,
    ) -> Result<ProcessGroup> {
        let _ = (TcpListener::bind, Kind::Float);
        Err(FastnetError::State(
            "this fastnet was built without c10d (gloo's headers were missing at build time): install libgloo-dev (scripts/setup.sh does) and rebuild".into(),
        ))
    }

    #[cfg(not(fastnet_no_c10d))]
    fn join_at(
        launch: &Launch,
        ip: IpAddr,
        local_addr: &str,
        timeout: Duration,
        device: tch::Device,
    ) -> Result<ProcessGroup> {
        use std::os::fd::IntoRawFd;
        let serve = !launch.agent_store;
        let listen_fd = if serve && launch.rank == 0 {
            let l = TcpListener::bind((ip, launch.master_port)).map_err(|e| {
                FastnetError::State(format!(
                    "rank 0 cannot listen on MASTER_ADDR:MASTER_PORT = {}:{}: {e}",
                    launch.master_addr, launch.master_port
                ))
            })?;
            l.into_raw_fd()
        } else {
            -1
        };
        let host = CString::new(ip.to_string()).map_err(|e| FastnetError::State(e.to_string()))?;
        let local = CString::new(local_addr).map_err(|e| FastnetError::State(e.to_string()))?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid C strings and an out-pointer; errors come back as a
        // message, exceptions never cross.
        let timeout_ms = timeout.as_millis().min(c_long::MAX as u128) as c_long;
        let m = unsafe {
            match device {
                tch::Device::Cuda(_) => fastnet_c10d_nccl_new(
                    host.as_ptr(),
                    launch.master_port as c_int,
                    serve as c_int,
                    listen_fd,
                    launch.rank as c_int,
                    launch.world as c_int,
                    timeout_ms,
                    &mut raw,
                ),
                _ => fastnet_c10d_gloo_new(
                    host.as_ptr(),
                    launch.master_port as c_int,
                    serve as c_int,
                    listen_fd,
                    launch.rank as c_int,
                    launch.world as c_int,
                    timeout_ms,
                    local.as_ptr(),
                    &mut raw,
                ),
            }
        };
        check(
            &format!(
                "rendezvous of rank {} of {} at {}:{}",
                launch.rank, launch.world, launch.master_addr, launch.master_port
            ),
            m,
        )?;
        // every half second this rank writes the time under alive/RANK
        let client = StoreClient::connect(&host, launch.master_port, timeout)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, key) = (stop.clone(), format!("alive/{}", launch.rank));
        let beat = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                if client.set(&key, now_ms()).is_err() {
                    break;
                }
                std::thread::sleep(HEARTBEAT);
            }
        });
        Ok(ProcessGroup {
            rank: launch.rank,
            world: launch.world,
            device,
            raw,
            store: (host, launch.master_port, launch.agent_store),
            heartbeat: Some((stop, beat)),
        })
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    /// After a failed collective: which ranks stopped sending heartbeats
    /// (waits a little more than the heartbeat age limit first).
    #[cfg(not(fastnet_no_c10d))]
    fn diagnose(&self) -> String {
        std::thread::sleep(Duration::from_millis(GONE_AFTER_MS as u64 + 500));
        let (host, port, agent) = &self.store;
        let Ok(client) = StoreClient::connect(host, *port, Duration::from_secs(5)) else {
            return if *agent {
                "; the launcher's rendezvous store is gone".into()
            } else {
                "; rank 0, which hosts the rendezvous store, is gone".into()
            };
        };
        let now = now_ms();
        let gone: Vec<String> = (0..self.world)
            .filter(|&r| r != self.rank)
            .filter(|r| {
                client
                    .get(&format!("alive/{r}"))
                    .ok()
                    .flatten()
                    .is_none_or(|t| now - t > GONE_AFTER_MS)
            })
            .map(|r| r.to_string())
            .collect();
        if gone.is_empty() {
            "; every rank's heartbeat is recent: a rank hangs, or the network failed".into()
        } else {
            format!(
                "; rank(s) {} stopped (no heartbeat for more than {} s)",
                gone.join(", "),
                GONE_AFTER_MS / 1000
            )
        }
    }

    /// `result`, with the ranks that are gone named when it failed.
    #[cfg(not(fastnet_no_c10d))]
    fn named(&self, result: Result<()>) -> Result<()> {
        result.map_err(|e| FastnetError::State(format!("{e}{}", self.diagnose())))
    }

    pub fn world(&self) -> usize {
        self.world
    }

    fn on_device(&self, t: &Tensor) -> Result<Tensor> {
        if t.device() != self.device || !t.is_contiguous() {
            return Err(FastnetError::State(format!(
                "this process group reduces contiguous tensors on {:?}, got one on {:?}",
                self.device,
                t.device()
            )));
        }
        Ok(t.shallow_clone())
    }

    /// Sums `t` over the ranks, in place.
    pub fn all_reduce_sum(&self, t: &mut Tensor) -> Result<()> {
        let mut t = self.on_device(t)?;
        #[cfg(not(fastnet_no_c10d))]
        {
            // SAFETY: a live tensor handle and group.
            let m = unsafe { fastnet_c10d_allreduce_sum(self.raw, t.as_mut_ptr() as *mut c_void) };
            self.named(check(
                &format!("all-reduce on rank {} of {}", self.rank, self.world),
                m,
            ))
        }
        #[cfg(fastnet_no_c10d)]
        {
            let _ = &mut t;
            unreachable!("no group can be joined without c10d")
        }
    }

    /// Rank `root`'s `t` on every rank, in place.
    pub fn broadcast(&self, t: &mut Tensor, root: usize) -> Result<()> {
        let mut t = self.on_device(t)?;
        #[cfg(not(fastnet_no_c10d))]
        {
            // SAFETY: as in all_reduce_sum.
            let m = unsafe {
                fastnet_c10d_broadcast(self.raw, t.as_mut_ptr() as *mut c_void, root as c_int)
            };
            self.named(check(
                &format!("broadcast on rank {} of {}", self.rank, self.world),
                m,
            ))
        }
        #[cfg(fastnet_no_c10d)]
        {
            let _ = (&mut t, root);
            unreachable!("no group can be joined without c10d")
        }
    }

    /// Waits for every rank.
    pub fn barrier(&self) -> Result<()> {
        #[cfg(not(fastnet_no_c10d))]
        {
            // SAFETY: a live group.
            let m = unsafe { fastnet_c10d_barrier(self.raw) };
            self.named(check(
                &format!("barrier on rank {} of {}", self.rank, self.world),
                m,
            ))
        }
        #[cfg(fastnet_no_c10d)]
        unreachable!("no group can be joined without c10d")
    }

    /// The mean over ranks of `values` (f64).
    pub fn mean(&self, values: &[f64]) -> Result<Vec<f64>> {
        let mut t = Tensor::from_slice(values)
            .to_kind(Kind::Double)
            .to_device(self.device);
        self.all_reduce_sum(&mut t)?;
        let v: Vec<f64> = Vec::try_from(&t.to_device(tch::Device::Cpu))?;
        Ok(v.into_iter().map(|x| x / self.world as f64).collect())
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some((stop, beat)) = self.heartbeat.take() {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = beat.join();
        }
        #[cfg(not(fastnet_no_c10d))]
        if !self.raw.is_null() {
            // SAFETY: created by fastnet_c10d_gloo_new, freed once.
            unsafe { fastnet_c10d_free(self.raw) };
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_resolve_by_device_and_nccl_needs_cuda() {
        assert_eq!(
            Backend::Auto.resolve(tch::Device::Cpu).unwrap(),
            Backend::Gloo
        );
        assert_eq!(
            Backend::Gloo.resolve(tch::Device::Cuda(0)).unwrap(),
            Backend::Gloo
        );
        let e = Backend::Nccl.resolve(tch::Device::Cpu).unwrap_err();
        assert!(
            matches!(&e, FastnetError::BadConfig { field, .. } if field == "train.dist_backend"),
            "{e}"
        );
        assert_eq!(
            Backend::Auto.resolve(tch::Device::Cuda(0)).unwrap(),
            if nccl_available() {
                Backend::Nccl
            } else {
                Backend::Gloo
            }
        );
    }

    /// A free loopback port (bound, then released).
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn two_ranks_on_loopback_all_reduce_broadcast_and_meet() {
        let port = free_port();
        let rank = |r: usize| {
            std::thread::spawn(move || -> Result<(Vec<f32>, Vec<f32>)> {
                let launch = Launch {
                    rank: r,
                    world: 2,
                    local_rank: r,
                    master_addr: "127.0.0.1".into(),
                    master_port: port,
                    agent_store: false,
                };
                let g = ProcessGroup::join(&launch, Duration::from_secs(30))?;
                let mut t = Tensor::from_slice(&[r as f32 + 1.0, 10.0 * r as f32]);
                g.all_reduce_sum(&mut t)?;
                let mut b = Tensor::from_slice(&[r as f32 + 5.0; 3]);
                g.broadcast(&mut b, 1)?;
                g.barrier()?;
                assert_eq!(g.mean(&[r as f64])?, vec![0.5]);
                Ok((Vec::try_from(&t)?, Vec::try_from(&b)?))
            })
        };
        let (a, b) = (rank(0), rank(1));
        for h in [a, b] {
            let (sum, bc) = h.join().unwrap().unwrap();
            assert_eq!(sum, [3.0, 10.0]);
            assert_eq!(bc, [6.0; 3]);
        }
    }

    #[test]
    fn a_rank_whose_peer_never_comes_times_out_with_an_error() {
        let launch = Launch {
            rank: 0,
            world: 2,
            local_rank: 0,
            master_addr: "127.0.0.1".into(),
            master_port: free_port(),
            agent_store: false,
        };
        let t0 = std::time::Instant::now();
        let e = ProcessGroup::join(&launch, Duration::from_secs(2))
            .err()
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
        assert!(e.to_string().contains("rank 0 of 2"), "{e}");
    }
}
