//! The statistics behind `compare`: medians, geometric means, and the two-sided
//! Mann-Whitney U test that benchstat uses to decide whether two sets of timings differ.
//!
//! Like benchstat, the U test is exact (no normal approximation) when neither sample has
//! more than 50 values and there are no ties; otherwise it uses the normal approximation with
//! the tie correction and a continuity correction (as `scipy.stats.mannwhitneyu` does with
//! `method="asymptotic"`).

/// The largest sample size for which the exact distribution of U is used.
const EXACT_MAX_N: usize = 50;

/// The result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UTest {
    /// U of the first sample (the number of pairs `(x, y)` with `x > y`, ties counting ½).
    pub u: f64,
    /// Two-sided p-value: the probability of a U at least this far from `n1·n2/2` if both
    /// samples came from the same distribution.
    pub p_value: f64,
    /// True when `p_value` comes from the exact distribution of U.
    pub exact: bool,
}

/// Two-sided Mann-Whitney U test of `x` against `y`. `None` when a sample is empty or holds
/// a value that is not finite.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<UTest> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    // Rank sum of x with average ranks for ties, and Σ(t³ - t) over tie groups.
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_x += rank * all[i..j].iter().filter(|(_, in_x)| *in_x).count() as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_x - n1f * (n1f + 1.0) / 2.0;
    let u_big = u1.max(n1f * n2f - u1);

    if tie_term == 0.0 && n1 <= EXACT_MAX_N && n2 <= EXACT_MAX_N {
        let counts = u_distribution(n1, n2);
        let total: u128 = counts.iter().sum();
        // U is an integer without ties; P(U >= u_big), doubled.
        let from = u_big.round() as usize;
        let upper: u128 = counts[from.min(counts.len())..].iter().sum();
        let p = (2.0 * (upper as f64 / total as f64)).min(1.0);
        return Some(UTest {
            u: u1,
            p_value: p,
            exact: true,
        });
    }

    let nf = n as f64;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let p = if var <= 0.0 {
        // Every value is the same: nothing distinguishes the samples.
        1.0
    } else {
        let z = (u_big - mean - 0.5) / var.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    };
    Some(UTest {
        u: u1,
        p_value: p,
        exact: false,
    })
}

/// How many of the `C(m+n, m)` orderings of two untied samples of sizes `m` and `n` give each
/// U (index = U): the coefficients of the Gaussian binomial `[m+n choose m]_q`, built as
/// `Π (1 - q^(n+i)) / (1 - q^i)` in exact integers (C(100, 50) fits an i128).
fn u_distribution(m: usize, n: usize) -> Vec<u128> {
    let max_u = m * n;
    let mut c = vec![0i128; max_u + 1];
    c[0] = 1;
    // After step i, c holds [n+i choose i]_q, whose degree is i·n.
    for i in 1..=m {
        let d = n + i;
        // Multiply by (1 - q^d), keeping terms up to max_u (higher ones cancel in the end:
        // the division below never reads them because the true quotient has degree i·n).
        for k in (d..=max_u).rev() {
            c[k] -= c[k - d];
        }
        // Divide by (1 - q^i): the power series 1 + q^i + q^2i + …
        for k in i..=max_u {
            c[k] += c[k - i];
        }
    }
    c.into_iter().map(|v| v.max(0) as u128).collect()
}

/// A sample's median, minimum and median absolute deviation (unscaled): robust against the
/// odd slow run on a shared machine, as hyperfine reports startup times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub mad: f64,
}

/// Median, minimum and MAD of `samples`; `None` when empty.
pub fn spread(samples: &[f64]) -> Option<Spread> {
    let med = median(samples)?;
    let dev: Vec<f64> = samples.iter().map(|x| (x - med).abs()).collect();
    Some(Spread {
        median: med,
        min: samples.iter().copied().fold(f64::INFINITY, f64::min),
        mad: median(&dev)?,
    })
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The median, or `None` for an empty slice. NaNs sort last.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The geometric mean of positive ratios, or `None` when there are none. Non-positive or
/// non-finite ratios are ignored (they cannot be averaged geometrically).
pub fn geomean(ratios: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = ratios
        .into_iter()
        .filter(|r| r.is_finite() && *r > 0.0)
        .fold((0.0, 0usize), |(s, n), r| (s + r.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn exact_distribution_small_cases() {
        // m = n = 2: the 6 orderings give U = 0,1,2,2,3,4.
        assert_eq!(u_distribution(2, 2), [1, 1, 2, 1, 1]);
        // m = 1: U is uniform on 0..=n.
        assert_eq!(u_distribution(1, 4), [1, 1, 1, 1, 1]);
        // Symmetric, and sums to C(m+n, m).
        let d = u_distribution(5, 7);
        assert_eq!(d.iter().sum::<u128>(), 792);
        let rev: Vec<u128> = d.iter().rev().copied().collect();
        assert_eq!(d, rev);
        // The largest exact case still sums to C(100, 50).
        let big = u_distribution(50, 50);
        assert_eq!(
            big.iter().sum::<u128>(),
            100_891_344_545_564_193_334_812_497_256
        );
    }

    #[test]
    fn exact_p_values_by_hand() {
        // Complete separation with 4 + 4: only 2 of the C(8,4) = 70 orderings are as
        // extreme, so p = 2/70.
        let t = mann_whitney_u(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]).unwrap();
        assert!(t.exact);
        assert_eq!(t.u, 0.0);
        assert!(close(t.p_value, 2.0 / 70.0, 1e-12), "{t:?}");
        // 3 + 3 can never reach 0.05: the minimum is 2/20.
        let t = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!(close(t.p_value, 0.1, 1e-12), "{t:?}");
        // Identical distributions interleaved perfectly: p = 1.
        let t = mann_whitney_u(&[1.0, 4.0, 5.0, 8.0], &[2.0, 3.0, 6.0, 7.0]).unwrap();
        assert_eq!(t.u, 8.0);
        assert_eq!(t.p_value, 1.0);
    }

    // Reference values from scipy 1.17 (`scipy.stats.mannwhitneyu(x, y,
    // alternative="two-sided", method=...)`), recorded here so the tests need no Python.
    #[test]
    fn matches_scipy_exact() {
        let x = [48.1, 47.9, 49.2, 48.8, 50.1, 47.5, 48.3, 49.9, 48.0, 48.6];
        let y = [51.2, 50.4, 49.5, 52.3, 50.9, 51.8, 49.1, 50.2, 53.0, 50.7];
        let t = mann_whitney_u(&x, &y).unwrap();
        assert!(t.exact);
        assert_eq!(t.u, 5.0);
        assert!(
            close(t.p_value, 0.000_205_676_676_264_911_54, 1e-9),
            "{t:?}"
        );
    }

    #[test]
    fn matches_scipy_asymptotic_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0];
        let y = [3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0];
        let t = mann_whitney_u(&x, &y).unwrap();
        assert!(!t.exact);
        assert_eq!(t.u, 7.5);
        assert!(close(t.p_value, 0.006_373_133_838_085_873, 1e-5), "{t:?}");
    }

    #[test]
    fn matches_scipy_asymptotic_large() {
        // 60 + 60 values, no ties: too large for the exact table.
        let x: Vec<f64> = (0..60).map(|i| 10.0 + i as f64 * 0.1).collect();
        let y: Vec<f64> = (0..60).map(|i| 12.05 + i as f64 * 0.1).collect();
        let t = mann_whitney_u(&x, &y).unwrap();
        assert!(!t.exact);
        assert_eq!(t.u, 780.0);
        assert!(close(t.p_value, 8.747_567_722_893_498e-8, 1e-5), "{t:?}");
    }

    #[test]
    fn degenerate_inputs() {
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
        // All equal: no evidence of a difference.
        let t = mann_whitney_u(&[2.0; 5], &[2.0; 5]).unwrap();
        assert_eq!(t.p_value, 1.0);
    }

    #[test]
    fn normal_tail() {
        assert!(close(normal_sf(0.0), 0.5, 1e-7));
        assert!(close(normal_sf(1.959_963_984_540_054), 0.025, 1e-6));
        assert!(close(normal_sf(-1.0), 0.841_344_746_068_542_9, 1e-7));
    }

    #[test]
    fn spread_known_answers() {
        let s = spread(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.mad), (3.0, 1.0, 1.0));
        let s = spread(&[1.0, 2.0, 3.0, 100.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mad, 1.0);
        assert!(spread(&[]).is_none());
    }

    #[test]
    fn medians_and_geomeans() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert!(close(geomean([2.0, 8.0]).unwrap(), 4.0, 1e-12));
        assert_eq!(geomean([0.0, f64::NAN]), None);
    }
}
