//! Startup statistics over repetitions: median, minimum and the median absolute deviation
//! (robust against the odd slow run on a shared machine, as hyperfine reports).

/// Summary of a sample in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub mad: f64,
}

pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Median, minimum and MAD (unscaled) of `samples`; `None` when empty.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let med = median(&s);
    let mut dev: Vec<f64> = s.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    Some(Summary {
        median: med,
        min: s[0],
        mad: median(&dev),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.mad), (3.0, 1.0, 1.0));
        let s = summarize(&[1.0, 2.0, 3.0, 100.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mad, 1.0);
        assert!(summarize(&[]).is_none());
    }
}
