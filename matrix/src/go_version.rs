//! Go version names as Go orders them (`go1.9 < go1.22rc1 < go1.22 < go1.22.12 < go1.100`):
//! the one ordering the toolchain resolver and the reports sort by.

use std::cmp::Ordering;

/// A parsed version: numeric parts, then an optional pre-release (`rc1`, `beta2`) that sorts
/// before the release it precedes.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedVersion {
    pub nums: Vec<u64>,
    pub pre: Option<(u8, u64)>,
}

/// `go1.24.4`, `go1.25rc1`, `devel go1.26-abc…` into its parts; `None` for anything else
/// (a GOROOT's directory name, `tip`).
pub fn parse_go_version(v: &str) -> Option<ParsedVersion> {
    let v = v.strip_prefix("devel ").unwrap_or(v);
    let v = v.split_whitespace().next()?;
    let v = v.strip_prefix("go")?;
    // `go1.25-abcdef` (devel) or `go1.24.4-X:foo`: the version ends at the first `-`.
    let v = v.split('-').next()?;
    let (num_part, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        None => (v, None),
        Some(i) => {
            let (n, p) = v.split_at(i);
            let digits = p.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let kind = &p[..p.len() - digits.len()];
            let rank = match kind {
                "alpha" => 0,
                "beta" => 1,
                "rc" => 2,
                _ => return None,
            };
            (n, Some((rank, digits.parse().unwrap_or(0))))
        }
    };
    let nums = num_part
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    if nums.is_empty() {
        return None;
    }
    Some(ParsedVersion { nums, pre })
}

/// Orders Go versions the way the Go project does: `go1.9 < go1.22rc1 < go1.22 = go1.22.0 <
/// go1.22.12 < go1.24.4`. Unparseable versions sort after parseable ones, by text.
pub fn compare_go_versions(a: &str, b: &str) -> Ordering {
    match (parse_go_version(a), parse_go_version(b)) {
        (Some(pa), Some(pb)) => {
            let len = pa.nums.len().max(pb.nums.len());
            for i in 0..len {
                let x = pa.nums.get(i).copied().unwrap_or(0);
                let y = pb.nums.get(i).copied().unwrap_or(0);
                match x.cmp(&y) {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            match (pa.pre, pb.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            }
            .then_with(|| a.cmp(b))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_semantically() {
        use Ordering::*;
        assert_eq!(compare_go_versions("go1.22.12", "go1.24.4"), Less);
        assert_eq!(compare_go_versions("go1.9", "go1.22"), Less);
        assert_eq!(compare_go_versions("go1.24.10", "go1.24.9"), Greater);
        assert_eq!(compare_go_versions("go1.22rc1", "go1.22"), Less);
        assert_eq!(compare_go_versions("go1.22beta1", "go1.22rc1"), Less);
        assert_eq!(compare_go_versions("go1.22", "go1.22.0"), Less); // tie broken by text
        assert_eq!(compare_go_versions("go1.24.4", "go1.24.4"), Equal);
        assert_eq!(compare_go_versions("devel go1.25-abc", "go1.24.4"), Greater);
        assert_eq!(compare_go_versions("weird", "go1.2"), Greater);
        let mut v = vec!["go1.24.4", "go1.22.12", "go1.9.2", "go1.24rc2"];
        v.sort_by(|a, b| compare_go_versions(a, b));
        assert_eq!(v, ["go1.9.2", "go1.22.12", "go1.24rc2", "go1.24.4"]);
        // Toolchain names (a minor, no patch): numeric, not string, order.
        let mut v = vec!["go1.100", "go1.27", "go1.22", "go1.26", "go1.24"];
        v.sort_by(|a, b| compare_go_versions(a, b));
        assert_eq!(v, ["go1.22", "go1.24", "go1.26", "go1.27", "go1.100"]);
    }
}
