//! The tests' seeded random numbers (a 64-bit LCG: the same sequence on
//! every platform, no dependency).

/// Uniform values in `[-1, 1)` from `seed`.
pub(crate) fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}
