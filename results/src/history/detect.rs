//! The change-point detector: E-divisive means (Matteson & James 2014, as MongoDB's ICPE 2020
//! paper and Apache Otava run it) for noisy series, and level steps for exact ones.
//!
//! E-divisive: the divergence Q̂ (α = 1) of every split τ of a segment against every end κ of
//! the part after it, the best split of all segments taken, kept when a permutation test
//! (values shuffled within each segment, a fixed seed) says its Q̂ is rarely reached by
//! chance, then the segments split again until a split is not significant. A change smaller
//! than a minimum magnitude is then dropped, the weakest first, its neighbours' segments
//! joined (Otava's merge step). Exact series (instruction counts, sizes) are read as levels
//! instead: the permutation test says nothing about a series that is constant within its
//! segments, and there every step is real.

/// How E-divisive runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    pub permutations: usize,
    /// A split is significant when its permutation p-value is at most this.
    pub max_p: f64,
    /// The fewest values on each side of a split (and in the part κ ends).
    pub min_segment: usize,
    /// Changes whose magnitude (Otava's: the larger of the forward and backward relative
    /// change of the means) is smaller are dropped; 0 keeps every significant one.
    pub min_magnitude: f64,
    pub seed: u64,
}

/// A change point: the index of the first value of the new segment, and how sure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Split {
    pub at: usize,
    /// The permutation test's p-value; 0 for a level step of an exact series.
    pub p: f64,
}

/// E-divisive over `x`: the change points, ascending.
pub(crate) fn e_divisive(x: &[f64], params: &Params) -> Vec<Split> {
    let m = params.min_segment.max(1);
    let mut rng = SplitMix(params.seed);
    let mut splits: Vec<Split> = Vec::new();
    let mut shuffled = x.to_vec();
    loop {
        let segments = segments(&splits, x.len());
        let Some((at, qhat)) = best_split(x, &segments, m) else {
            break;
        };
        // As significant as the share of shuffles (within each segment, so that only the
        // order inside them is in question) that reach the same divergence. The +1 (the
        // observed order is one of the orders) keeps p above 0, as in Matteson & James.
        let mut extreme = 0usize;
        for _ in 0..params.permutations {
            shuffled.copy_from_slice(x);
            for &(s, e) in &segments {
                rng.shuffle(&mut shuffled[s..e]);
            }
            if best_split(&shuffled, &segments, m)
                .is_some_and(|(_, q)| q >= qhat - 1e-9 * qhat.abs())
            {
                extreme += 1;
            }
        }
        let p = (extreme + 1) as f64 / (params.permutations + 1) as f64;
        if p > params.max_p {
            break;
        }
        splits.push(Split { at, p });
        splits.sort_by_key(|s| s.at);
    }
    drop_small(x, splits, params.min_magnitude)
}

/// Level steps of an exact series: where the value moves by more than `tolerance` from the
/// level of its segment. `None` when the series is not made of a few flat levels (a count
/// that moves every night): then it is no step series and E-divisive reads it.
///
/// A one-value segment between two segments at the same level is a blip, not two changes;
/// one at either end is a step (at the newest night: the newest night changed).
pub(crate) fn level_steps(x: &[f64], tolerance: f64) -> Option<Vec<Split>> {
    if x.is_empty() {
        return Some(Vec::new());
    }
    // Segments [start, end) with the level they started at.
    let mut segs: Vec<(usize, usize, f64)> = vec![(0, 1, x[0])];
    for (i, &v) in x.iter().enumerate().skip(1) {
        let last = segs.last_mut().expect("one segment at least");
        if (v - last.2).abs() <= tolerance {
            last.1 = i + 1;
        } else {
            segs.push((i, i + 1, v));
        }
    }
    let mut i = 1;
    while i + 1 < segs.len() {
        let blip = segs[i].1 - segs[i].0 == 1;
        if blip && (segs[i - 1].2 - segs[i + 1].2).abs() <= tolerance {
            segs[i - 1].1 = segs[i + 1].1;
            segs.drain(i..=i + 1);
        } else {
            i += 1;
        }
    }
    let steps: Vec<Split> = segs[1..]
        .iter()
        .map(|&(at, _, _)| Split { at, p: 0.0 })
        .collect();
    // A few levels, not a value that wanders: at most one step per three values.
    (steps.len() <= (x.len() / 3).max(1)).then_some(steps)
}

/// The segments `[start, end)` that `splits` (ascending) cut `0..n` into.
pub(crate) fn segments(splits: &[Split], n: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(splits.len() + 1);
    let mut start = 0;
    for s in splits {
        out.push((start, s.at));
        start = s.at;
    }
    out.push((start, n));
    out
}

/// The best split over all segments: its index and its Q̂.
fn best_split(x: &[f64], segments: &[(usize, usize)], m: usize) -> Option<(usize, f64)> {
    segments
        .iter()
        .filter_map(|&(s, e)| best_in(&x[s..e], m).map(|(at, q)| (s + at, q)))
        .fold(None, |best: Option<(usize, f64)>, c| match best {
            Some(b) if b.1 >= c.1 => Some(b),
            _ => Some(c),
        })
}

/// The split τ of `y` that maximises Q̂(y[..τ], y[τ..κ]) over κ, each part at least `m` long:
///
/// Q̂(X, Y) = 2/(n+m) Σ|Xᵢ−Yⱼ| − 2m/((n+m)(n−1)) Σᵢ<ₖ|Xᵢ−Xₖ| − 2n/((n+m)(m−1)) Σⱼ<ₖ|Yⱼ−Yₖ|
///
/// (n = |X|, m = |Y|; a sum over one value is 0), i.e. nm/(n+m) times the energy distance of
/// the two parts. O(len²) with column prefix sums of the distance matrix.
fn best_in(y: &[f64], m: usize) -> Option<(usize, f64)> {
    let len = y.len();
    if len < 2 * m {
        return None;
    }
    // col[i * len + j] = Σ_{k<i} |y[k] − y[j]|
    let mut col = vec![0.0; (len + 1) * len];
    for i in 0..len {
        for j in 0..len {
            col[(i + 1) * len + j] = col[i * len + j] + (y[i] - y[j]).abs();
        }
    }
    let mut best: Option<(usize, f64)> = None;
    // Σ_{i<k<τ} |y[i] − y[k]|, grown with τ.
    let mut within_x = 0.0;
    for tau in 1..=len - m {
        within_x += col[(tau - 1) * len + (tau - 1)];
        if tau < m {
            continue;
        }
        let n = tau as f64;
        let (mut cross, mut within_y) = (0.0, 0.0);
        for kappa in tau + 1..=len {
            let j = kappa - 1;
            cross += col[tau * len + j];
            within_y += col[j * len + j] - col[tau * len + j];
            let my = kappa - tau;
            if my < m {
                continue;
            }
            let mf = my as f64;
            let mut q = 2.0 / (n + mf) * cross;
            if tau > 1 {
                q -= 2.0 * mf / ((n + mf) * (n - 1.0)) * within_x;
            }
            if my > 1 {
                q -= 2.0 * n / ((n + mf) * (mf - 1.0)) * within_y;
            }
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((tau, q));
            }
        }
    }
    best
}

/// Otava's merge step for the magnitude: while some change point's magnitude is below
/// `min_magnitude`, drop the smallest and join its two segments (which changes its
/// neighbours' means).
fn drop_small(x: &[f64], mut splits: Vec<Split>, min_magnitude: f64) -> Vec<Split> {
    while !splits.is_empty() {
        let segs = segments(&splits, x.len());
        let (weakest, magnitude) = (0..splits.len())
            .map(|i| {
                let (before, after) = (
                    mean(&x[segs[i].0..segs[i].1]),
                    mean(&x[segs[i + 1].0..segs[i + 1].1]),
                );
                (i, magnitude(before, after))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        if magnitude >= min_magnitude {
            break;
        }
        splits.remove(weakest);
    }
    splits
}

/// Otava's magnitude: the larger of |after/before − 1| and |before/after − 1| (a halving and
/// a doubling weigh the same). 0 when a mean is 0.
pub(crate) fn magnitude(before: f64, after: f64) -> f64 {
    let forward = if before == 0.0 {
        0.0
    } else {
        after / before - 1.0
    };
    let backward = if after == 0.0 {
        0.0
    } else {
        before / after - 1.0
    };
    forward.abs().max(backward.abs())
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// SplitMix64: a small, well-mixed generator, so the permutations are the same on every
/// machine and in every version (a crate's stream may change between releases).
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is below 2⁻⁵⁰ for the small n here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1) (the tests' noise).
    #[cfg(test)]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher–Yates.
    pub fn shuffle(&mut self, v: &mut [f64]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Q̂ straight from its definition, to check the prefix-sum version against.
    fn qhat_naive(x: &[f64], y: &[f64]) -> f64 {
        let (n, m) = (x.len() as f64, y.len() as f64);
        let cross: f64 = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| (a - b).abs()))
            .sum();
        let within = |v: &[f64]| -> f64 {
            let mut s = 0.0;
            for i in 0..v.len() {
                for k in i + 1..v.len() {
                    s += (v[i] - v[k]).abs();
                }
            }
            s
        };
        let mut q = 2.0 / (n + m) * cross;
        if x.len() > 1 {
            q -= 2.0 * m / ((n + m) * (n - 1.0)) * within(x);
        }
        if y.len() > 1 {
            q -= 2.0 * n / ((n + m) * (m - 1.0)) * within(y);
        }
        q
    }

    #[test]
    fn the_fast_qhat_is_the_definition() {
        let mut rng = SplitMix(7);
        for m in 1..=3 {
            for len in 2 * m..14 {
                let y: Vec<f64> = (0..len).map(|_| rng.unit() * 10.0).collect();
                let mut want: Option<(usize, f64)> = None;
                for tau in m..=len - m {
                    for kappa in tau + m..=len {
                        let q = qhat_naive(&y[..tau], &y[tau..kappa]);
                        if want.is_none_or(|(_, b)| q > b) {
                            want = Some((tau, q));
                        }
                    }
                }
                let got = best_in(&y, m).unwrap();
                let want = want.unwrap();
                assert_eq!(got.0, want.0, "len {len} m {m}");
                assert!((got.1 - want.1).abs() < 1e-9 * want.1.abs().max(1.0));
            }
        }
    }

    #[test]
    fn a_clear_step_is_split_where_it_is() {
        let x: Vec<f64> = (0..16)
            .map(|i| if i < 9 { 10.0 } else { 20.0 } + (i % 3) as f64 * 0.1)
            .collect();
        let p = Params {
            permutations: 199,
            max_p: 0.05,
            min_segment: 2,
            min_magnitude: 0.0,
            seed: 1,
        };
        let s = e_divisive(&x, &p);
        assert_eq!(s.iter().map(|s| s.at).collect::<Vec<_>>(), [9]);
        assert!(s[0].p <= 0.01, "{s:?}");
        // The same seed, the same answer.
        assert_eq!(e_divisive(&x, &p), s);
    }

    #[test]
    fn levels_blips_and_wandering_counts() {
        let at = |s: Option<Vec<Split>>| s.map(|v| v.iter().map(|s| s.at).collect::<Vec<_>>());
        let flat = [5.0; 8];
        assert_eq!(at(level_steps(&flat, 0.5)), Some(vec![]));
        let step = [5.0, 5.0, 5.0, 5.2, 6.0, 6.0, 6.0, 6.0];
        assert_eq!(at(level_steps(&step, 0.5)), Some(vec![4]));
        let blip = [5.0, 5.0, 5.0, 9.0, 5.0, 5.0, 5.0, 5.0];
        assert_eq!(at(level_steps(&blip, 0.5)), Some(vec![]));
        let newest = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 6.0];
        assert_eq!(at(level_steps(&newest, 0.5)), Some(vec![7]));
        let wandering = [5.0, 6.0, 7.0, 6.0, 8.0, 5.0, 9.0, 7.0];
        assert_eq!(at(level_steps(&wandering, 0.5)), None);
    }

    #[test]
    fn magnitude_weighs_halving_and_doubling_alike() {
        assert!((magnitude(100.0, 200.0) - 1.0).abs() < 1e-12);
        assert!((magnitude(200.0, 100.0) - 1.0).abs() < 1e-12);
        assert!((magnitude(100.0, 80.0) - 0.25).abs() < 1e-12);
        assert_eq!(magnitude(0.0, 0.0), 0.0);
    }
}
