//! Build constraints of one Go file, decided the way `go/build` decides them: the `//go:build`
//! line of the file header (or, without one, its `// +build` lines), the `_GOOS`, `_GOARCH` and
//! `_GOOS_GOARCH` file name suffixes, and `import "C"` on a cgo=0 build. The tags a build
//! satisfies come from the go command itself ([`crate::context::Tags`]), so only the syntax is
//! ours; `tests/constraints.rs` checks the verdicts against `go list`.
//!
//! Used where the go command does not decide: a single `.go` file (`go build file.go` ignores
//! constraints), Go's `test/` directory conventions, and the reason a package is excluded.

use std::fmt;

/// `GOOS` values `go/build` knows for file name matching (`internal/syslist.KnownOS`).
pub const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// `GOOS` values the `unix` tag matches (`internal/syslist.UnixOS`).
pub const UNIX_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "linux",
    "netbsd",
    "openbsd",
    "solaris",
];

/// `GOARCH` values `go/build` knows for file name matching (`internal/syslist.KnownArch`).
pub const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// What a build satisfies: `matches(tag)` says whether a tag is true (see `go/build`'s
/// `matchTag`).
pub trait TagSet {
    fn goos(&self) -> &str;
    fn goarch(&self) -> &str;
    fn cgo(&self) -> bool;
    /// Whether `tag` holds for this build.
    fn matches(&self, tag: &str) -> bool;
}

/// Why a file is not part of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// Its `//go:build` (or `// +build`) line, as written, is false.
    Constraint(String),
    /// Its name ends in `_GOOS`, `_GOARCH` or `_GOOS_GOARCH` of another target.
    FileName(String),
    /// It imports "C" and the build has cgo off.
    NeedsCgo,
    /// A `_test.go` file, or a name starting with `_` or `.`.
    NotBuilt,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Constraint(line) => f.write_str(line),
            Exclusion::FileName(suffix) => write!(f, "file name suffix {suffix}"),
            Exclusion::NeedsCgo => f.write_str("import \"C\" (cgo=0)"),
            Exclusion::NotBuilt => f.write_str("not built by go build"),
        }
    }
}

/// A constraint line that does not parse: `go build` rejects the file too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid build constraint `{line}`: {why}")]
pub struct BadConstraint {
    pub line: String,
    pub why: String,
}

/// Whether `name` (a file name, no directory) with `content` is built for `tags`; `Ok(None)`
/// when it is, else why not.
pub fn exclusion(
    name: &str,
    content: &str,
    tags: &dyn TagSet,
) -> Result<Option<Exclusion>, BadConstraint> {
    if name.ends_with("_test.go") {
        return Ok(Some(Exclusion::NotBuilt));
    }
    test_exclusion(name, content, tags)
}

/// [`exclusion`] as `go test` sees files: `_test.go` files are built too.
pub fn test_exclusion(
    name: &str,
    content: &str,
    tags: &dyn TagSet,
) -> Result<Option<Exclusion>, BadConstraint> {
    if name.starts_with('_') || name.starts_with('.') {
        return Ok(Some(Exclusion::NotBuilt));
    }
    if let Some(suffix) = excluding_suffix(name, tags) {
        return Ok(Some(Exclusion::FileName(suffix)));
    }
    let header = Header::parse(content);
    if let Some(line) = &header.go_build {
        let expr = parse_go_build(line)?;
        if !expr.eval(tags) {
            return Ok(Some(Exclusion::Constraint(line.clone())));
        }
    } else {
        for line in &header.plus_build {
            if !eval_plus_build(line, tags) {
                return Ok(Some(Exclusion::Constraint(line.clone())));
            }
        }
    }
    if !tags.cgo() && imports_c(header.rest) {
        return Ok(Some(Exclusion::NeedsCgo));
    }
    Ok(None)
}

/// The `_GOOS`/`_GOARCH`/`_GOOS_GOARCH` suffix of `name` that another target would have, as
/// `go/build`'s `goodOSArchFile` reads names (everything before the first `_` is ignored).
fn excluding_suffix(name: &str, tags: &dyn TagSet) -> Option<String> {
    let stem = name.split('.').next().unwrap_or(name);
    let i = stem.find('_')?;
    let mut parts: Vec<&str> = stem[i..].split('_').collect();
    if parts.last() == Some(&"test") {
        parts.pop();
    }
    let n = parts.len();
    let os = |s: &str| KNOWN_OS.contains(&s);
    let arch = |s: &str| KNOWN_ARCH.contains(&s);
    if n >= 2 && os(parts[n - 2]) && arch(parts[n - 1]) {
        let ok = tags.matches(parts[n - 1]) && tags.matches(parts[n - 2]);
        return (!ok).then(|| format!("_{}_{}", parts[n - 2], parts[n - 1]));
    }
    if n >= 1 && (os(parts[n - 1]) || arch(parts[n - 1])) {
        return (!tags.matches(parts[n - 1])).then(|| format!("_{}", parts[n - 1]));
    }
    None
}

/// The leading comments of a Go file, where constraints live, and what follows them.
pub struct Header<'a> {
    /// The `//go:build` line, trimmed.
    pub go_build: Option<String>,
    /// `// +build` lines that count (before the header's last blank line), trimmed.
    pub plus_build: Vec<String>,
    /// Every comment line of the header, `//` and text, for directives such as Go's
    /// `// run` (see [`crate::gotest`]).
    pub comments: Vec<&'a str>,
    /// The source from the first line that is neither blank nor a comment (the package
    /// clause).
    pub rest: &'a str,
}

impl<'a> Header<'a> {
    pub fn parse(content: &'a str) -> Header<'a> {
        let mut go_build = None;
        let mut plus: Vec<(usize, String)> = Vec::new();
        let mut comments = Vec::new();
        let mut last_blank = 0usize;
        let mut in_block = false;
        let mut offset = 0usize;
        let mut rest = "";
        for (n, raw) in content.split_inclusive('\n').enumerate() {
            let line = raw.trim();
            let start = offset;
            offset += raw.len();
            if in_block {
                if let Some(end) = line.find("*/") {
                    in_block = false;
                    if !line[end + 2..].trim().is_empty() {
                        rest = &content[start..];
                        break;
                    }
                }
                continue;
            }
            if line.is_empty() {
                last_blank = n;
                continue;
            }
            if let Some(c) = line.strip_prefix("//") {
                comments.push(line);
                if let Some(expr) = c.strip_prefix("go:build") {
                    if expr.is_empty() || expr.starts_with([' ', '\t']) {
                        go_build.get_or_insert_with(|| line.to_string());
                    }
                } else if c.trim_start().starts_with("+build")
                    && c.trim_start()["+build".len()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
                {
                    plus.push((n, line.to_string()));
                }
                continue;
            }
            if let Some(after) = line.strip_prefix("/*") {
                if !after.contains("*/") {
                    in_block = true;
                }
                continue;
            }
            rest = &content[start..];
            break;
        }
        Header {
            go_build,
            plus_build: plus
                .into_iter()
                .filter(|(n, _)| *n < last_blank)
                .map(|(_, l)| l)
                .collect(),
            comments,
            rest,
        }
    }
}

/// A `//go:build` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Tag(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    pub fn eval(&self, tags: &dyn TagSet) -> bool {
        match self {
            Expr::Tag(t) => tags.matches(t),
            Expr::Not(e) => !e.eval(tags),
            Expr::And(a, b) => a.eval(tags) && b.eval(tags),
            Expr::Or(a, b) => a.eval(tags) || b.eval(tags),
        }
    }
}

/// Parses the expression of a `//go:build EXPR` line (`||` binds looser than `&&`, `!` tighter).
pub fn parse_go_build(line: &str) -> Result<Expr, BadConstraint> {
    let text = line
        .trim()
        .strip_prefix("//go:build")
        .ok_or_else(|| bad(line, "not a //go:build line"))?;
    let tokens = tokenize(text).map_err(|why| bad(line, &why))?;
    let mut p = ExprParser { tokens, pos: 0 };
    let e = p.or().map_err(|why| bad(line, &why))?;
    if p.pos != p.tokens.len() {
        return Err(bad(line, "unexpected token after the expression"));
    }
    Ok(e)
}

fn bad(line: &str, why: &str) -> BadConstraint {
    BadConstraint {
        line: line.trim().to_string(),
        why: why.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Tag(String),
    Not,
    And,
    Or,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' => {}
            '!' => out.push(Token::Not),
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '&' | '|' => {
                if chars.next().map(|(_, d)| d) != Some(c) {
                    return Err(format!("`{c}` alone (expected `{c}{c}`)"));
                }
                out.push(if c == '&' { Token::And } else { Token::Or });
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '.' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Tag(s[i..end].to_string()));
            }
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    Ok(out)
}

struct ExprParser {
    tokens: Vec<Token>,
    pos: usize,
}

impl ExprParser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.not()?)))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Tag(t)) => {
                self.pos += 1;
                Ok(Expr::Tag(t))
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("expression ends early".into()),
        }
    }
}

/// One `// +build A,B !C` line: OR of space-separated terms, each an AND of commas.
fn eval_plus_build(line: &str, tags: &dyn TagSet) -> bool {
    let text = line
        .trim_start_matches('/')
        .trim_start()
        .trim_start_matches("+build");
    text.split_whitespace().any(|term| {
        term.split(',').all(|atom| match atom.strip_prefix('!') {
            Some(t) => !t.is_empty() && !t.starts_with('!') && !tags.matches(t),
            None => tags.matches(atom),
        })
    })
}

/// Whether the import declarations at the start of `src` (from the package clause on)
/// import "C".
pub fn imports_c(src: &str) -> bool {
    let mut s = strip_comments(src);
    // Skip the package clause.
    let Some(nl) = s.find('\n') else {
        return false;
    };
    s = s[nl..].to_string();
    let mut rest = s.as_str();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        let Some(after) = rest.strip_prefix("import") else {
            return false;
        };
        if !after.starts_with(|c: char| c.is_whitespace() || c == '(' || c == '"') {
            return false;
        }
        let after = after.trim_start();
        let (decl, next) = if let Some(group) = after.strip_prefix('(') {
            match group.find(')') {
                Some(end) => (&group[..end], &group[end + 1..]),
                None => return false,
            }
        } else {
            match after.find('\n') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        if decl
            .split(['\n', ';'])
            .any(|spec| spec.split_whitespace().last() == Some("\"C\""))
        {
            return true;
        }
        rest = next;
    }
}

/// `src` with `//` and `/* */` comments blanked (newlines kept), strings left alone.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = in_str {
            out.push(c as char);
            if c == b'\\' && q == b'"' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == q {
                in_str = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'`' {
            in_str = Some(c);
            out.push(c as char);
            i += 1;
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else {
            // Non-ASCII bytes are copied byte-wise below; only ASCII matters here.
            let ch_len = utf8_len(c);
            out.push_str(std::str::from_utf8(&b[i..(i + ch_len).min(b.len())]).unwrap_or(" "));
            i += ch_len;
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T {
        goos: &'static str,
        goarch: &'static str,
        cgo: bool,
        extra: &'static [&'static str],
    }

    impl TagSet for T {
        fn goos(&self) -> &str {
            self.goos
        }
        fn goarch(&self) -> &str {
            self.goarch
        }
        fn cgo(&self) -> bool {
            self.cgo
        }
        fn matches(&self, tag: &str) -> bool {
            tag == self.goos
                || tag == self.goarch
                || tag == "gc"
                || (tag == "cgo" && self.cgo)
                || (tag == "unix" && UNIX_OS.contains(&self.goos))
                || self.extra.contains(&tag)
        }
    }

    const LINUX_ARM64: T = T {
        goos: "linux",
        goarch: "arm64",
        cgo: false,
        extra: &["go1.21", "go1.22"],
    };

    fn ex(name: &str, src: &str) -> Option<String> {
        exclusion(name, src, &LINUX_ARM64)
            .unwrap()
            .map(|e| e.to_string())
    }

    #[test]
    fn go_build_lines_decide() {
        assert_eq!(ex("a.go", "//go:build arm64\n\npackage main\n"), None);
        assert_eq!(
            ex("a.go", "//go:build aix\n\npackage main\n").as_deref(),
            Some("//go:build aix")
        );
        assert_eq!(
            ex(
                "a.go",
                "//go:build linux && (arm64 || amd64) && !cgo\npackage p\n"
            ),
            None
        );
        assert_eq!(
            ex(
                "a.go",
                "// Copyright\n\n//go:build unix && go1.22\n\npackage p\n"
            ),
            None
        );
        assert!(ex("a.go", "//go:build go1.23\npackage p\n").is_some());
        // After the package clause a constraint is only a comment.
        assert_eq!(ex("a.go", "package p\n//go:build aix\n"), None);
        // Inside a block comment too.
        assert_eq!(ex("a.go", "/*\n//go:build aix\n*/\npackage p\n"), None);
        assert!(exclusion("a.go", "//go:build linux &&\npackage p\n", &LINUX_ARM64).is_err());
        assert!(
            exclusion(
                "a.go",
                "//go:build linux & arm64\npackage p\n",
                &LINUX_ARM64
            )
            .is_err()
        );
    }

    #[test]
    fn plus_build_lines_need_a_blank_line_after_them() {
        assert!(ex("a.go", "// +build aix\n\npackage p\n").is_some());
        assert_eq!(ex("a.go", "// +build aix\npackage p\n"), None);
        assert_eq!(ex("a.go", "// +build aix linux,arm64\n\npackage p\n"), None);
        assert!(ex("a.go", "// +build linux\n// +build !arm64\n\npackage p\n").is_some());
        // //go:build wins over +build.
        assert_eq!(
            ex("a.go", "//go:build linux\n// +build aix\n\npackage p\n"),
            None
        );
    }

    #[test]
    fn file_names_decide_like_go_build() {
        assert_eq!(
            ex("x_windows.go", "package p\n").as_deref(),
            Some("file name suffix _windows")
        );
        assert_eq!(ex("x_linux_arm64.go", "package p\n"), None);
        assert_eq!(
            ex("x_linux_amd64.go", "package p\n").as_deref(),
            Some("file name suffix _linux_amd64")
        );
        assert_eq!(
            ex("x_amd64.go", "package p\n").as_deref(),
            Some("file name suffix _amd64")
        );
        // No prefix before the suffix: not a suffix (linux.go is not tagged).
        assert_eq!(ex("windows.go", "package p\n"), None);
        assert_eq!(ex("x_unknownos.go", "package p\n"), None);
        assert_eq!(
            ex("x_test.go", "package p\n").as_deref(),
            Some("not built by go build")
        );
        assert_eq!(
            ex("_x.go", "package p\n").as_deref(),
            Some("not built by go build")
        );
    }

    #[test]
    fn cgo_files_need_cgo() {
        let cgo = "package main\n\n// #include <stdio.h>\nimport \"C\"\n\nfunc main() {}\n";
        assert_eq!(ex("c.go", cgo).as_deref(), Some("import \"C\" (cgo=0)"));
        let grouped = "package main\n\nimport (\n\t\"fmt\"\n\t\"C\"\n)\n";
        assert!(ex("c.go", grouped).is_some());
        let not = "package main\n\nimport \"fmt\"\n\nvar s = \"import \\\"C\\\"\"\n";
        assert_eq!(ex("c.go", not), None);
        let with_cgo = T {
            cgo: true,
            ..LINUX_ARM64
        };
        assert_eq!(exclusion("c.go", cgo, &with_cgo).unwrap(), None);
    }

    #[test]
    fn expressions_parse_with_precedence() {
        let e = parse_go_build("//go:build a || b && !c").unwrap();
        assert_eq!(
            e,
            Expr::Or(
                Box::new(Expr::Tag("a".into())),
                Box::new(Expr::And(
                    Box::new(Expr::Tag("b".into())),
                    Box::new(Expr::Not(Box::new(Expr::Tag("c".into()))))
                ))
            )
        );
        assert!(parse_go_build("//go:build (a").is_err());
        assert!(parse_go_build("//go:build a b").is_err());
    }
}
