//! Startup statistics over repetitions: median, minimum and the median absolute deviation
//! (robust against the odd slow run on a shared machine, as hyperfine reports).

use crossmatrix_results::stats::median;

/// Summary of a sample in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub mad: f64,
}

/// Median, minimum and MAD (unscaled) of `samples`; `None` when empty.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let med = median(samples)?;
    let dev: Vec<f64> = samples.iter().map(|x| (x - med).abs()).collect();
    Some(Summary {
        median: med,
        min: samples.iter().copied().fold(f64::INFINITY, f64::min),
        mad: median(&dev)?,
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
