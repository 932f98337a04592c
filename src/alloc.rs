//! The process's memory allocator.
//!
//! libtorch allocates every CPU tensor with `malloc`. glibc serves blocks
//! above 32 MiB (a 1° field of 128 features is 33 MB, an edge tensor of the
//! decoder 100 MB) with a fresh `mmap` and unmaps them on free, so every
//! training step faults in and zeroes gigabytes of new pages: on two cores
//! a 1° L5 h128 x4 step spent more time in the kernel than in arithmetic.
//! [`jemalloc!`] makes jemalloc the allocator of the whole process — Rust's
//! and, its symbols being unprefixed, libtorch's `malloc`/`free` too, the
//! executable's definitions coming first in symbol lookup — configured to
//! keep freed pages for reuse instead of returning them to the kernel.
//!
//! The macro goes in each executable's root (the `fastnet` binary, the
//! benchmarks): `malloc_conf`, the symbol jemalloc reads its options from
//! at start-up, must be in the executable itself to be linked.

/// jemalloc's options: never purge dirty or muzzy pages (freed pages stay
/// mapped and are reused by the next allocation of that size class);
/// background threads off (no extra threads next to libtorch's).
pub const MALLOC_CONF: &str = "dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false\0";

/// A C string pointer that may live in a `static`.
#[repr(transparent)]
pub struct ConfPtr(pub *const std::ffi::c_char);
// SAFETY: it points at a `'static` string literal that is never written.
unsafe impl Sync for ConfPtr {}

/// Installs jemalloc as the global allocator of this executable (see the
/// module doc).
#[macro_export]
macro_rules! jemalloc {
    () => {
        #[global_allocator]
        static GLOBAL: $crate::alloc::Jemalloc = $crate::alloc::Jemalloc;

        #[export_name = "malloc_conf"]
        #[used]
        static MALLOC_CONF_PTR: $crate::alloc::ConfPtr =
            $crate::alloc::ConfPtr($crate::alloc::MALLOC_CONF.as_ptr().cast());
    };
}

pub use tikv_jemallocator::Jemalloc;
