//! Whole Legendre stages over the rings of a field, with the data moved in
//! blocks of eight northern rings (and their mirrors) so that neither stage
//! reads the other's output with a stride: the forward stage's Fourier
//! coefficients are regrouped per block as `[order][sym re, sym im, anti re,
//! anti im][8 rings]` (one cache line per order and part), and the inverse
//! stage's per-order sums are read back a block of rings at a time.

use num_complex::Complex64;
use rayon::prelude::*;

use super::LegendreStream;
use crate::legendre::tri_index;
use crate::sht::Coefficients;

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

impl LegendreStream {
    /// The forward Legendre stage of a field on `nrings` rings (north to
    /// south, symmetric about the equator, `weights[j]` the quadrature
    /// weight of ring `j` and of its mirror). `spectrum(scratch, ring, g)`
    /// writes `G_m` of ring `ring` into `g` (`[lmax + 1]`, zeroed; orders
    /// the ring does not carry stay zero); `init` makes each worker's
    /// scratch. Returns `c_lm` per order `m`, `l = m..=lmax`.
    pub(crate) fn forward_rings<S, I, F>(
        &self,
        nrings: usize,
        weights: &[f64],
        init: I,
        spectrum: F,
    ) -> Vec<Vec<Complex64>>
    where
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, &mut [Complex64]) + Sync + Send,
    {
        let (nh, np, mm) = (self.nh, self.np, self.lmax + 1);
        let nb = np / 8;
        let mut blocks = vec![0.0f64; nb * mm * 32];
        blocks.par_chunks_mut(mm * 32).enumerate().for_each_init(
            || (init(), vec![ZERO; 8 * mm], vec![ZERO; 8 * mm]),
            |(scratch, gn, gs), (b, out)| {
                // the block's rings and mirrors first, then the block's
                // rows written order by order
                gn.fill(ZERO);
                gs.fill(ZERO);
                let mut w = [0.0; 8];
                // 0 for an equator ring (no mirror): its north − south is 0
                let mut anti = [1.0; 8];
                for k in 0..8 {
                    let j = 8 * b + k;
                    if j >= nh {
                        break;
                    }
                    w[k] = weights[j];
                    spectrum(scratch, j, &mut gn[k * mm..(k + 1) * mm]);
                    let mirror = nrings - 1 - j;
                    if mirror != j {
                        spectrum(scratch, mirror, &mut gs[k * mm..(k + 1) * mm]);
                    } else {
                        anti[k] = 0.0;
                    }
                }
                for (m, o) in out.chunks_exact_mut(32).enumerate() {
                    for k in 0..8 {
                        let (n, s) = (gn[k * mm + m], gs[k * mm + m]);
                        o[k] = w[k] * (n.re + s.re);
                        o[8 + k] = w[k] * (n.im + s.im);
                        o[16 + k] = anti[k] * w[k] * (n.re - s.re);
                        o[24 + k] = anti[k] * w[k] * (n.im - s.im);
                    }
                }
            },
        );
        (0..mm)
            .into_par_iter()
            .map(|m| {
                let mut s = vec![0.0; 4 * np];
                let (sr, rest) = s.split_at_mut(np);
                let (si, rest) = rest.split_at_mut(np);
                let (ar, ai) = rest.split_at_mut(np);
                for b in 0..nb {
                    let src = &blocks[(b * mm + m) * 32..][..32];
                    let r = 8 * b..8 * b + 8;
                    sr[r.clone()].copy_from_slice(&src[..8]);
                    si[r.clone()].copy_from_slice(&src[8..16]);
                    ar[r.clone()].copy_from_slice(&src[16..24]);
                    ai[r].copy_from_slice(&src[24..]);
                }
                self.project(m, [sr, si], [ar, ai])
            })
            .collect()
    }

    /// The inverse Legendre stage and the rings' synthesis: `rows` are the
    /// output rings, north to south. For each ring, `synth(scratch, ring,
    /// g, row)` gets `G_m = Σ_l c_lm P̂_l^m` for `m = 0..=lmax` (zero above
    /// the coefficients' truncation) and writes the ring; `init` makes each
    /// worker's scratch.
    pub(crate) fn inverse_rings<S, I, F>(
        &self,
        coeffs: &Coefficients,
        rows: Vec<&mut [f64]>,
        init: I,
        synth: F,
    ) where
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, &mut [Complex64], &mut [f64]) + Sync + Send,
    {
        let (nh, np, mm) = (self.nh, self.np, self.lmax + 1);
        let lmax_c = coeffs.lmax.min(self.lmax);
        // per order: even re, even im, odd re, odd im, `[np]` each
        let per_m: Vec<Vec<f64>> = (0..=lmax_c)
            .into_par_iter()
            .map(|m| {
                let mut g = vec![0.0; 4 * np];
                let (er, rest) = g.split_at_mut(np);
                let (ei, rest) = rest.split_at_mut(np);
                let (or, oi) = rest.split_at_mut(np);
                let first = tri_index(coeffs.lmax, m, m);
                let c = &coeffs.data[first..first + lmax_c + 1 - m];
                self.synthesise(m, c, [er, ei], [or, oi]);
                g
            })
            .collect();
        let nrings = rows.len();
        let mut slots: Vec<Option<&mut [f64]>> = rows.into_iter().map(Some).collect();
        let mut blocks: Vec<Vec<(usize, &mut [f64])>> = Vec::with_capacity(np / 8);
        for b in 0..np / 8 {
            let mut block = Vec::with_capacity(16);
            for j in (8 * b..8 * b + 8).take_while(|&j| j < nh) {
                for ring in [j, nrings - 1 - j] {
                    if let Some(row) = slots[ring].take() {
                        block.push((ring, row));
                    }
                }
            }
            blocks.push(block);
        }
        blocks.into_par_iter().for_each_init(
            || (init(), vec![ZERO; mm]),
            |(scratch, spec), block| {
                for (ring, row) in block {
                    let (j, south) = if ring < nh {
                        (ring, false)
                    } else {
                        (nrings - 1 - ring, true)
                    };
                    spec.fill(ZERO);
                    for (s, g) in spec.iter_mut().zip(&per_m) {
                        let (er, ei, or, oi) = (g[j], g[np + j], g[2 * np + j], g[3 * np + j]);
                        *s = if south {
                            Complex64::new(er - or, ei - oi)
                        } else {
                            Complex64::new(er + or, ei + oi)
                        };
                    }
                    synth(scratch, ring, spec, row);
                }
            },
        );
    }
}
