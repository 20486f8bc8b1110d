//! Go's `test/` directory conventions (`conventions = "go-test"` on a suite), as Go's own
//! harness `cmd/internal/testdir` reads them: a file is a program when the first line of its
//! header that is not a build constraint is `// run` or `// run ARGS`; the directive's leading
//! `-flags` go to the build (`-goexperiment X` and `-godebug X` set `GOEXPERIMENT` and
//! `GODEBUG`, `-t N` is a timeout in seconds), the other words to the program; its output is
//! stdout and stderr combined, compared with `NAME.out` (empty when there is none); it runs
//! with a `/tmp`, as on the machines Go's harness runs on (`[run] tmpfs`). Build constraints
//! are honoured by the planner like any file's.

use std::collections::BTreeMap;
use std::time::Duration;

/// What a `// run` directive asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunDirective {
    /// `go build` flags (`-gcflags=-d=checkptr`).
    pub build_flags: Vec<String>,
    /// Environment of the build and of the program (`GOEXPERIMENT`, `GODEBUG`).
    pub env: BTreeMap<String, String>,
    /// `-t N`.
    pub timeout: Option<Duration>,
    /// More source files built with the test's (`// run other.go`: Go's harness runs `go run
    /// test.go other.go`), relative to its directory.
    pub extra_files: Vec<String>,
    /// The program's arguments.
    pub args: Vec<String>,
}

/// The action line of a Go test file: its first header line that is neither blank nor a
/// build constraint, without the `//`.
fn action_line(src: &str) -> Option<&str> {
    for line in src.lines() {
        let t = line.trim();
        let is_constraint = t.starts_with("//go:build")
            || t.strip_prefix("//")
                .is_some_and(|c| c.trim_start().starts_with("+build"));
        if is_constraint {
            continue;
        }
        let action = t.strip_prefix("//").unwrap_or(t).trim();
        if action.is_empty() {
            continue;
        }
        return Some(action);
    }
    None
}

/// The directive of a Go test file when it is a `run` test; `None` for every other kind
/// (`errorcheck`, `compile`, `rundir`, `skip`…) and for files without a recipe.
pub fn run_directive(src: &str) -> Option<RunDirective> {
    let words = split_quoted(action_line(src)?)?;
    let (first, rest) = words.split_first()?;
    if first != "run" {
        return None;
    }
    let mut d = RunDirective::default();
    let mut i = 0;
    while i < rest.len() && rest[i].starts_with('-') {
        let flag = rest[i].as_str();
        let value = rest.get(i + 1).cloned();
        match flag {
            "-0" | "-1" | "-s" => {}
            "-t" => {
                let secs: u64 = value.as_deref()?.parse().ok()?;
                d.timeout = Some(Duration::from_secs(secs));
                i += 1;
            }
            "-goexperiment" | "-godebug" => {
                let key = if flag == "-goexperiment" {
                    "GOEXPERIMENT"
                } else {
                    "GODEBUG"
                };
                let v = value?;
                d.env
                    .entry(key.to_string())
                    .and_modify(|old| {
                        old.push(',');
                        old.push_str(&v);
                    })
                    .or_insert(v);
                i += 1;
            }
            "-gomodversion" => i += 1,
            _ => d.build_flags.push(flag.to_string()),
        }
        i += 1;
    }
    // Like `go run`, leading .go words are more source files, the rest the program's.
    let mut rest = &rest[i..];
    while let Some((first, more)) = rest.split_first() {
        if !first.ends_with(".go") {
            break;
        }
        d.extra_files.push(first.clone());
        rest = more;
    }
    d.args = rest.to_vec();
    Some(d)
}

/// Splits like Go's harness `splitQuoted`: on spaces, with `'…'` and `"…"` quoting; `None`
/// for an unterminated quote.
fn split_quoted(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_directives_split_flags_from_arguments() {
        assert_eq!(
            run_directive("// run\n\npackage main\n"),
            Some(RunDirective::default())
        );
        let d = run_directive(
            "//go:build !wasm\n\n// run -gcflags=-l -goexperiment rangefunc -t 20 arg1 'two words'\n\npackage main\n",
        )
        .unwrap();
        assert_eq!(d.build_flags, ["-gcflags=-l"]);
        assert_eq!(
            d.env.get("GOEXPERIMENT").map(String::as_str),
            Some("rangefunc")
        );
        assert_eq!(d.timeout, Some(Duration::from_secs(20)));
        assert_eq!(d.args, ["arg1", "two words"]);
        let d = run_directive("// run cmplxdivide1.go\n\npackage main\n").unwrap();
        assert_eq!(
            (d.extra_files.as_slice(), d.args.len()),
            (["cmplxdivide1.go".to_string()].as_slice(), 0)
        );
        let d = run_directive("// run -godebug a=1 -godebug b=2\npackage main\n").unwrap();
        assert_eq!(d.env.get("GODEBUG").map(String::as_str), Some("a=1,b=2"));
    }

    #[test]
    fn other_recipes_are_not_programs() {
        for src in [
            "// errorcheck\n\npackage main\n",
            "// compile\npackage p\n",
            "// rundir\n",
            "// runoutput ./rotate.go\n",
            "// skip\n",
            "// Copyright 2009 The Go Authors.\n\npackage main\n",
            "package main\n",
            "",
            "// run 'unterminated\n",
        ] {
            assert_eq!(run_directive(src), None, "{src:?}");
        }
        // A build constraint before the recipe is not the recipe.
        assert!(run_directive("// +build linux\n\n// run\n\npackage main\n").is_some());
    }
}
