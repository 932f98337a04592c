//! The streamed Legendre stage against the stored table of
//! [`crate::legendre::legendre_table`] (the range-extended recurrence at
//! every degree), for every instruction set this CPU runs.

use super::*;
use crate::legendre::legendre_table;
use crate::quadrature::{Kind, Quadrature};

use crate::test_rng::lcg;

/// Northern colatitudes of a Clenshaw–Curtis grid (poles included: the
/// pole ring carries only m = 0, rings next to it start late).
fn northern(nlat: usize) -> Vec<f64> {
    let q = Quadrature::new(Kind::ClenshawCurtis, nlat);
    q.colatitudes[..nlat.div_ceil(2)].to_vec()
}

fn check(lmax: usize, theta: &[f64], first_ring: Option<&[usize]>) {
    let nh = theta.len();
    let table = legendre_table(lmax, theta);
    let row = |l: usize, m: usize| &table[tri_index(lmax, l, m) * nh..][..nh];
    let mut stream = LegendreStream::new(lmax, theta, first_ring);
    let np = stream.padded_len();
    assert!(np >= nh && np.is_multiple_of(8));
    let mut r = lcg(7);
    let mut ring_values = || {
        let mut v: Vec<f64> = (0..nh).map(|_| r()).collect();
        v.resize(np, 0.0);
        v
    };
    let (sr, si, ar, ai) = (ring_values(), ring_values(), ring_values(), ring_values());
    let coeffs: Vec<Complex64> = (0..=lmax)
        .map(|k| Complex64::new(sr[k % nh], ai[(3 * k) % nh]))
        .collect();
    for isa in Isa::available() {
        stream.set_isa(isa);
        for m in 0..=lmax {
            let lo = first_ring.map_or(0, |f| f[m]);
            // forward
            let got = stream.project(m, [&sr, &si], [&ar, &ai]);
            for l in m..=lmax {
                let s = if (l - m) % 2 == 0 {
                    [&sr, &si]
                } else {
                    [&ar, &ai]
                };
                let p = row(l, m);
                let (mut re, mut im, mut scale) = (0.0, 0.0, 0.0f64);
                for j in lo..nh {
                    re += p[j] * s[0][j];
                    im += p[j] * s[1][j];
                    scale += p[j].abs();
                }
                let err = (got[l - m] - Complex64::new(re, im)).norm();
                assert!(
                    err <= 1e-12 * scale.max(1.0),
                    "{isa:?} forward l {l} m {m}: {} vs {re} {im}",
                    got[l - m]
                );
            }
            // inverse
            let c = &coeffs[m..];
            let (mut er, mut ei, mut or, mut oi) =
                (vec![0.0; np], vec![0.0; np], vec![0.0; np], vec![0.0; np]);
            stream.synthesise(m, c, [&mut er, &mut ei], [&mut or, &mut oi]);
            for j in 0..nh {
                let (mut want, mut scale) = ([0.0; 4], 0.0f64);
                if j >= lo {
                    for l in m..=lmax {
                        let p = row(l, m)[j];
                        let k = if (l - m) % 2 == 0 { 0 } else { 2 };
                        want[k] += c[l - m].re * p;
                        want[k + 1] += c[l - m].im * p;
                        scale += p.abs();
                    }
                }
                for (g, w) in [er[j], ei[j], or[j], oi[j]].iter().zip(want) {
                    assert!(
                        (g - w).abs() <= 1e-12 * scale.max(1.0),
                        "{isa:?} inverse m {m} ring {j}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn equals_the_table_on_a_grid_with_poles_at_degree_180() {
    // 361 rings from pole to pole: 181 northern, polar starts far beyond m
    check(180, &northern(361), None);
}

#[test]
fn equals_the_table_with_rings_left_out_of_high_orders() {
    let theta = northern(129);
    let nh = theta.len();
    let lmax = 64;
    // a reduced grid's pattern: ring j carries orders up to 2j + 4
    let first_ring: Vec<usize> = (0..=lmax)
        .map(|m: usize| (0..nh).find(|&j| 2 * j + 4 >= m).unwrap_or(nh))
        .collect();
    check(lmax, &theta, Some(&first_ring));
}

#[test]
fn odd_ring_counts_and_tiny_transforms() {
    check(0, &northern(3), None);
    check(5, &northern(11), None);
    check(20, &northern(41)[..17], None);
}
