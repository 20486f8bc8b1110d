//! Human forms of sizes and durations shared by the text reports.

/// `512 B`, `1.5 KiB`, `1.5 MiB`, `2.0 GiB` (binary units, one decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up a unit when rounding to one decimal would print `1024.0`.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Three significant digits up to a minute: `0.05 ms`, `1.23 ms`, `45.6 ms`, `456 ms`,
/// `1.20 s`, `45.6 s`; then `2m 05s` and `1h 02m`. Non-finite or negative values print `-`.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "-".into();
    }
    // Decide the unit on the rounded value so 999.96 ms prints as `1.00 s`, not `1000 ms`.
    if ms < 9.995 {
        format!("{ms:.2} ms")
    } else if ms < 99.95 {
        format!("{ms:.1} ms")
    } else if ms < 999.5 {
        format!("{ms:.0} ms")
    } else if ms < 9_995.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 59_950.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let secs = (ms / 1000.0).round() as u64;
        if secs < 3600 {
            format!("{}m {:02}s", secs / 60, secs % 60)
        } else {
            format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn durations() {
        assert_eq!(format_ms(0.049), "0.05 ms");
        assert_eq!(format_ms(1.234), "1.23 ms");
        assert_eq!(format_ms(45.62), "45.6 ms");
        assert_eq!(format_ms(456.2), "456 ms");
        assert_eq!(format_ms(999.7), "1.00 s");
        assert_eq!(format_ms(1200.0), "1.20 s");
        assert_eq!(format_ms(45_600.0), "45.6 s");
        assert_eq!(format_ms(125_000.0), "2m 05s");
        assert_eq!(format_ms(3_725_000.0), "1h 02m");
        assert_eq!(format_ms(f64::NAN), "-");
    }
}
