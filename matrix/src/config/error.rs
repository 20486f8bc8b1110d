//! Configuration errors that point at the offending spot: `file:line:col`, the line with a
//! caret under the value, the key, what was expected, and a "did you mean".

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A position in the config file (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    /// Width of the underlined part, in characters (at least 1).
    pub width: usize,
    /// The whole offending line, for display.
    pub line_text: String,
}

impl Location {
    /// The location of the byte range `span` in `text`.
    pub fn of(text: &str, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = text[start..]
            .find('\n')
            .map(|i| start + i)
            .unwrap_or(text.len());
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..end.min(line_end).max(start)]
            .chars()
            .count()
            .max(1);
        Location {
            line,
            column,
            width,
            line_text: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A malformed or inconsistent config (or program path), found before any work starts: one
/// or more problems, each with its own location. Its [`Display`](fmt::Display) is the whole
/// report, every problem in file order; the first problem's parts are reachable through
/// `Deref`, all of them through [`ConfigError::problems`]. Boxed: it travels in every `Result`
/// of the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    first: Box<ConfigErrorDetail>,
    more: Vec<ConfigErrorDetail>,
}

impl std::ops::Deref for ConfigError {
    type Target = ConfigErrorDetail;
    fn deref(&self) -> &ConfigErrorDetail {
        &self.first
    }
}

/// The parts of a [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrorDetail {
    pub file: PathBuf,
    /// `None` when the error is not about a spot in the file (e.g. it cannot be read).
    pub location: Option<Location>,
    /// The key the error is about, as a path: `programs[2].expect.stdout_regex`.
    pub key: Option<String>,
    pub message: String,
    /// What would have been accepted.
    pub expected: Option<String>,
    /// The closest accepted value or key, for "did you mean".
    pub suggestion: Option<String>,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            first: Box::new(ConfigErrorDetail {
                file: file.to_path_buf(),
                location: None,
                key: None,
                message: message.into(),
                expected: None,
                suggestion: None,
            }),
            more: Vec::new(),
        }
    }

    /// Every problem found, in file order (the first is also reachable through `Deref`).
    pub fn problems(&self) -> impl Iterator<Item = &ConfigErrorDetail> {
        std::iter::once(&*self.first).chain(&self.more)
    }

    /// Joins the errors of one validation pass into one, sorted by position, duplicates
    /// dropped. `None` when there are none.
    pub(crate) fn combine(errors: Vec<ConfigError>) -> Option<ConfigError> {
        let mut all: Vec<ConfigErrorDetail> = errors
            .into_iter()
            .flat_map(|e| std::iter::once(*e.first).chain(e.more))
            .collect();
        // Stable: problems without a location keep their order, after the located ones.
        all.sort_by_key(|d| {
            d.location
                .as_ref()
                .map_or((usize::MAX, usize::MAX), |l| (l.line, l.column))
        });
        all.dedup();
        let mut it = all.into_iter();
        let first = Box::new(it.next()?);
        Some(ConfigError {
            first,
            more: it.collect(),
        })
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.first.location = location;
        self
    }
    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.first.key = (!key.is_empty()).then_some(key);
        self
    }
    pub(crate) fn expected(mut self, expected: impl Into<String>) -> Self {
        self.first.expected = Some(expected.into());
        self
    }
    /// Sets the "did you mean".
    pub(crate) fn suggest(mut self, suggestion: Option<String>) -> Self {
        self.first.suggestion = suggestion;
        self
    }
    /// Adds a "did you mean" when one of `candidates` is close to `got`.
    pub(crate) fn did_you_mean<'a>(
        mut self,
        got: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.first.suggestion = closest(got, candidates).map(str::to_string);
        self
    }
}

/// The candidate closest to `got` by Damerau–Levenshtein distance, if it is close enough to
/// be a plausible typo (`arm46` → `arm64`, `tolchains` → `toolchains`, `gnuu` → `gnu`).
pub fn closest<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let got_l = got.to_ascii_lowercase();
    let limit = (got.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&got_l, &c.to_ascii_lowercase()),
                c,
            )
        })
        // A value replaced whole (`9` for `5`) is no typo.
        .filter(|(d, c)| *d <= limit && *d < got.chars().count() && *c != got)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems().enumerate() {
            if i > 0 {
                write!(f, "\n\n")?;
            }
            write!(f, "{problem}")?;
        }
        if !self.more.is_empty() {
            write!(
                f,
                "\n\n{} problems in {}",
                self.more.len() + 1,
                self.file.display()
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfigErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(loc) = &self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        let gutter = self
            .location
            .as_ref()
            .map(|l| l.line.to_string().len())
            .unwrap_or(1);
        if let Some(loc) = &self.location {
            let pad = " ".repeat(gutter);
            let indent: String = loc
                .line_text
                .chars()
                .take(loc.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{pad} |\n{} | {}\n{pad} | {indent}{}",
                loc.line,
                loc.line_text,
                "^".repeat(loc.width)
            )?;
        }
        let pad = " ".repeat(gutter);
        if let Some(e) = &self.expected {
            write!(f, "\n{pad} = expected: {e}")?;
        }
        if let Some(s) = &self.suggestion {
            write!(f, "\n{pad} = help: did you mean `{s}`?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let at = text.find("\"x\"").unwrap();
        let loc = Location::of(text, at..at + 3);
        assert_eq!((loc.line, loc.column, loc.width), (2, 6, 3));
        assert_eq!(loc.line_text, "bé = \"x\"");
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        let c = ["toolchains", "targets", "cgo"];
        assert_eq!(closest("tolchains", c), Some("toolchains"));
        assert_eq!(closest("zzz", c), None);
        assert_eq!(
            closest("linux/arm46", ["linux/arm64", "linux/arm"]),
            Some("linux/arm64")
        );
        assert_eq!(closest("gnuu", ["gnu", "musl"]), Some("gnu"));
        assert_eq!(closest("9", ["5", "6", "7"]), None);
    }

    #[test]
    fn display_shows_the_line_and_a_caret() {
        let text = "targets = [\"linux/arm46\"]\n";
        let at = text.find("\"linux").unwrap();
        let e = ConfigError::new(
            Path::new("crossmatrix.toml"),
            "unknown target `linux/arm46`",
        )
        .at(Some(Location::of(text, at..at + 13)))
        .key("targets[0]")
        .expected("GOOS/GOARCH")
        .did_you_mean("linux/arm46", ["linux/arm64"]);
        assert_eq!(
            e.to_string(),
            "crossmatrix.toml:1:12: `targets[0]`: unknown target `linux/arm46`\n  |\n1 | targets = [\"linux/arm46\"]\n  |            ^^^^^^^^^^^^^\n  = expected: GOOS/GOARCH\n  = help: did you mean `linux/arm64`?"
        );
    }
}
