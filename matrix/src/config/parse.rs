//! Walks the spanned TOML tree of a `crossmatrix.toml` and validates every key and value,
//! so that each error can point at its `line:col`.

use super::error::{ConfigError, Location, closest};
use super::{
    AxisMatch, BuildSettings, Config, ConfiguredProgram, ConfiguredTarget, ExpectFailRule,
    IncludeRule, RunSettings, ToolchainSpec, ToolchainSpecKind,
};
use crate::cell::sanitize;
use crate::config::gotest;
use crate::{
    Cause, Expectation, ExpectedFailure, Libc, OutputStream, Program, ProgramSource, RootfsSpec,
    Target, TestSpec, VARIANT_KNOBS, VariantKnob, is_known_port, known_ports,
};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

type Val<'i> = Spanned<DeValue<'i>>;
type R<T> = Result<T, ConfigError>;
/// One entry of `targets`: its targets (one per variant), the span blamed for a duplicate,
/// its key.
type TargetEntry = (Vec<ConfiguredTarget>, Range<usize>, String);

const TOP_KEYS: &[&str] = &[
    "toolchains",
    "emulators",
    "targets",
    "cgo",
    "libc",
    "rootfs",
    "exclude",
    "include",
    "build",
    "run",
    "programs",
    "tests",
];
const TEST_KEYS: &[&str] = &[
    "packages",
    "args",
    "env",
    "timeout",
    "bench",
    "benchtime",
    "count",
    "benchmem",
    "build",
    "run",
    "expect",
    "expect_fail",
    "cause",
    "reason",
    "match",
];
const PACKAGES_EXPECTED: &str =
    "package directories (./pkg), patterns (./...), or import paths (strings, encoding/json)";
const BUILD_KEYS: &[&str] = &["tags", "trimpath", "ldflags", "flags", "env", "timeout"];
const RUN_KEYS: &[&str] = &[
    "timeout", "reps", "retries", "env", "memory", "pids", "tmpfs",
];
const AXIS_KEYS: &[&str] = &[
    "toolchain",
    "target",
    "variant",
    "cgo",
    "libc",
    "rootfs",
    "program",
];
const PROGRAM_KEYS: &[&str] = &[
    "path",
    "name",
    "suite",
    "conventions",
    "include",
    "exclude",
    "args",
    "env",
    "stdin",
    "stdin_file",
    "expect",
    "expect_fail",
    "cause",
    "reason",
    "match",
    "build",
    "run",
];
const EXPECT_KEYS: &[&str] = &[
    "exit_code",
    "output",
    "stdout",
    "stdout_file",
    "stdout_regex",
    "stderr_regex",
];
const EXPECT_FAIL_KEYS: &[&str] = &["match", "cause", "reason"];
const ROOTFS_NAMES: &[&str] = &["scratch", "host", "glibc", "musl"];
const ROOTFS_EXPECTED: &str = "scratch, host, glibc, musl, a directory path such as ./rootfs, or an image (an OCI layout dir, a docker save tarball)";
const PROGRAM_PATH_EXPECTED: &str = "a Go package directory, a single .go file, a package pattern such as ./cmd/..., or a suite directory with suite = true";

/// Problems collected while validating one part of the config, so that one bad value does not
/// hide the next: the user fixes them all in one go.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    /// The value of `r`, or `None` after recording its error.
    fn keep<T>(&mut self, r: R<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }
    /// `value` when nothing was recorded, else every problem as one error.
    fn finish<T>(self, value: T) -> R<T> {
        match ConfigError::combine(self.0) {
            None => Ok(value),
            Some(e) => Err(e),
        }
    }
}

pub(crate) struct Parser<'a> {
    text: &'a str,
    file: &'a Path,
    base: PathBuf,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `key = value` pairs of a table in file order, with the key's span.
fn entries<'t, 'i>(t: &'t DeTable<'i>) -> Vec<(&'t str, Range<usize>, &'t Val<'i>)> {
    let mut v: Vec<_> = t
        .iter()
        .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
        .collect();
    v.sort_by_key(|(_, span, _)| span.start);
    v
}

fn get<'t, 'i>(t: &'t DeTable<'i>, key: &str) -> Option<&'t Val<'i>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.starts_with('.') || s.starts_with('~')
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str, file: &'a Path) -> Parser<'a> {
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        Parser { text, file, base }
    }

    fn loc(&self, span: Range<usize>) -> Option<Location> {
        Some(Location::of(self.text, span))
    }

    fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, message)
            .at(self.loc(span))
            .key(key)
    }

    fn wrong_type(&self, v: &Val<'_>, key: &str, expected: &str) -> ConfigError {
        self.err(
            v.span(),
            key,
            format!("wrong type: found {}", v.get_ref().type_str()),
        )
        .expected(expected)
    }

    /// Every unknown key of `t` (the known ones are still read, so their problems show too).
    fn check_keys(&self, t: &DeTable<'_>, path: &str, allowed: &[&str], what: &str) -> R<()> {
        let mut p = Problems::default();
        for (k, span, _) in entries(t) {
            if !allowed.contains(&k) {
                p.keep::<()>(Err(self
                    .err(span, &join(path, k), format!("unknown key `{k}` in {what}"))
                    .expected(format!("one of: {}", allowed.join(", ")))
                    .did_you_mean(k, allowed.iter().copied())));
            }
        }
        p.finish(())
    }

    fn resolve(&self, s: &str) -> PathBuf {
        let p = match s.strip_prefix("~/") {
            Some(rest) => match std::env::var_os("HOME") {
                Some(h) => PathBuf::from(h).join(rest),
                None => PathBuf::from(s),
            },
            None => self.base.join(s),
        };
        std::fs::canonicalize(&p).unwrap_or(p)
    }

    // --- scalar helpers -------------------------------------------------------------------

    fn string<'v>(&self, v: &'v Val<'_>, key: &str, expected: &str) -> R<&'v str> {
        v.get_ref()
            .as_str()
            .ok_or_else(|| self.wrong_type(v, key, expected))
    }

    fn table<'v, 'i>(&self, v: &'v Val<'i>, key: &str, expected: &str) -> R<&'v DeTable<'i>> {
        v.get_ref()
            .as_table()
            .ok_or_else(|| self.wrong_type(v, key, expected))
    }

    fn bool(&self, v: &Val<'_>, key: &str) -> R<bool> {
        v.get_ref()
            .as_bool()
            .ok_or_else(|| self.wrong_type(v, key, "true or false"))
    }

    fn int(&self, v: &Val<'_>, key: &str, expected: &str) -> R<i64> {
        match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                self.err(v.span(), key, "integer out of range")
                    .expected(expected)
            }),
            _ => Err(self.wrong_type(v, key, expected)),
        }
    }

    /// A value or a list of values, each with its span and key path.
    fn one_or_many<'v, 'i>(&self, v: &'v Val<'i>, key: &str) -> Vec<(&'v Val<'i>, String)> {
        match v.get_ref() {
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{key}[{i}]")))
                .collect(),
            _ => vec![(v, key.to_string())],
        }
    }

    /// A string or a list of strings.
    fn strings(
        &self,
        v: &Val<'_>,
        key: &str,
        expected: &str,
    ) -> R<Vec<(String, Range<usize>, String)>> {
        self.each(self.one_or_many(v, key), |(item, k)| {
            let s = self.string(item, &k, expected)?;
            Ok((s.to_string(), item.span(), k))
        })
    }

    /// `f` over every item; every item's problem is reported, not just the first.
    fn each<I, T>(
        &self,
        items: impl IntoIterator<Item = I>,
        f: impl FnMut(I) -> R<T>,
    ) -> R<Vec<T>> {
        let mut p = Problems::default();
        let out: Vec<T> = items.into_iter().map(f).filter_map(|r| p.keep(r)).collect();
        p.finish(out)
    }

    fn non_empty(&self, v: &Val<'_>, key: &str, what: &str) -> R<()> {
        if let DeValue::Array(a) = v.get_ref() {
            if a.is_empty() {
                return Err(self
                    .err(
                        v.span(),
                        key,
                        format!("`{key}` is empty: the matrix would have no cells"),
                    )
                    .expected(format!(
                        "at least one {what}, or omit `{key}` for the default"
                    )));
            }
        }
        Ok(())
    }

    fn seconds(&self, v: &Val<'_>, key: &str) -> R<Duration> {
        let expected = "a positive number of seconds (e.g. 30 or 2.5)";
        let secs = match v.get_ref() {
            DeValue::Integer(_) => self.int(v, key, expected)? as f64,
            DeValue::Float(f) => f.as_str().parse::<f64>().unwrap_or(f64::NAN),
            _ => return Err(self.wrong_type(v, key, expected)),
        };
        if !(secs > 0.0 && secs <= 7.0 * 86400.0) {
            return Err(self
                .err(
                    v.span(),
                    key,
                    format!("`{key}` must be a positive duration, got {secs}"),
                )
                .expected(expected));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn env(&self, v: &Val<'_>, key: &str) -> R<BTreeMap<String, String>> {
        let t = self.table(
            v,
            key,
            "a table of environment variables, e.g. { GOFLAGS = \"-mod=mod\" }",
        )?;
        let pairs = self.each(entries(t), |(k, span, val)| {
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(self
                    .err(
                        span,
                        &join(key, k),
                        format!("`{k}` is not an environment variable name"),
                    )
                    .expected("letters, digits and `_`, not starting with a digit"));
            }
            let s = self.string(val, &join(key, k), "a string (quote numbers: \"1\")")?;
            Ok((k.to_string(), s.to_string()))
        })?;
        Ok(pairs.into_iter().collect())
    }

    // --- sections -------------------------------------------------------------------------

    pub(crate) fn parse(&self) -> R<Config> {
        let doc = DeTable::parse(self.text).map_err(|e| {
            let msg = e.message().trim().to_string();
            ConfigError::new(self.file, format!("invalid TOML: {msg}"))
                .at(e.span().and_then(|s| self.loc(s)))
                .expected("valid TOML (https://toml.io)")
        })?;
        let root = doc.get_ref();
        // Each section is validated even when another one is broken: every problem is reported.
        let mut p = Problems::default();
        p.keep(self.check_keys(root, "", TOP_KEYS, "the config"));
        let mut cfg = Config::empty(self.file);
        cfg.base_dir = self.base.clone();
        let mut programs_ok = true;
        if let Some(v) = get(root, "programs") {
            match self.programs(v) {
                Ok(list) => cfg.programs = list,
                Err(e) => {
                    p.keep::<()>(Err(e));
                    programs_ok = false;
                }
            }
        }
        if let Some(v) = get(root, "tests") {
            match self.tests(v) {
                Ok(list) => cfg.tests = list,
                Err(e) => {
                    p.keep::<()>(Err(e));
                    programs_ok = false;
                }
            }
        }
        // The program names `include`/`exclude` may use; unknown when a program is broken
        // (then `program` values are not checked, rather than blamed for its error).
        let names: Option<Vec<String>> = programs_ok.then(|| {
            let mut names: Vec<String> = cfg
                .programs
                .iter()
                .chain(&cfg.tests)
                .map(|p| p.program.name.clone())
                .collect();
            if names.is_empty() {
                names.push("probe".into());
            }
            names
        });
        let names = names.as_deref();
        if let Some(v) = get(root, "toolchains") {
            cfg.toolchains = p.keep(self.toolchains(v)).unwrap_or_default();
        }
        if let Some(v) = get(root, "emulators") {
            cfg.emulators = p.keep(self.emulators(v)).unwrap_or_default();
        }
        if let Some(v) = get(root, "targets") {
            cfg.targets = p.keep(self.targets(v));
        }
        if let Some(v) = get(root, "cgo") {
            let cgo = self
                .non_empty(v, "cgo", "of 0 and 1")
                .and_then(|()| self.cgo_values(v, "cgo"));
            if let Some(values) = p.keep(cgo) {
                cfg.cgo = Vec::new();
                for c in values {
                    if !cfg.cgo.contains(&c) {
                        cfg.cgo.push(c);
                    }
                }
            }
        }
        if let Some(v) = get(root, "libc") {
            let libc = self
                .non_empty(v, "libc", "C library (gnu or musl)")
                .and_then(|()| self.libc_values(v, "libc"));
            if let Some(values) = p.keep(libc) {
                let mut libcs = Vec::new();
                for l in values {
                    if !libcs.contains(&l) {
                        libcs.push(l);
                    }
                }
                cfg.libc = Some(libcs);
            }
        }
        if let Some(v) = get(root, "rootfs") {
            let rootfs = self
                .non_empty(v, "rootfs", "rootfs")
                .and_then(|()| self.rootfs_values(v, "rootfs"));
            if let Some(values) = p.keep(rootfs) {
                let mut list = Vec::new();
                for r in values {
                    if !list.contains(&r) {
                        list.push(r);
                    }
                }
                cfg.rootfs = Some(list);
            }
        }
        if let Some(v) = get(root, "build") {
            cfg.build = p.keep(self.build(v, "build")).unwrap_or_default();
        }
        if let Some(v) = get(root, "run") {
            cfg.run = p.keep(self.run(v, "run")).unwrap_or_default();
        }
        if let Some(v) = get(root, "exclude") {
            let rules = self.rule_list(v, "exclude").and_then(|items| {
                self.each(items, |(item, key)| {
                    let t = self.table(
                        item,
                        &key,
                        "a table of axis values, e.g. { target = \"linux/386\", cgo = 1 }",
                    )?;
                    if t.is_empty() {
                        return Err(self
                            .err(
                                item.span(),
                                &key,
                                "an empty exclude would remove every cell",
                            )
                            .expected(format!("at least one axis key: {}", AXIS_KEYS.join(", "))));
                    }
                    Ok(self.axis_match(t, &key, false, names)?.0)
                })
            });
            cfg.exclude = p.keep(rules).unwrap_or_default();
        }
        if let Some(v) = get(root, "include") {
            let rules = self.rule_list(v, "include").and_then(|items| {
                self.each(items, |(item, key)| {
                    let t = self.table(item, &key, "a table of axis values, e.g. { target = \"linux/arm64\", cgo = 1, libc = \"musl\" }")?;
                    if t.is_empty() {
                        return Err(self
                            .err(
                                item.span(),
                                &key,
                                "this include is empty: it neither adds nor extends any cell",
                            )
                            .expected(format!(
                                "axis keys ({}) and/or `build` / `run` settings",
                                AXIS_KEYS.join(", ")
                            )));
                    }
                    let (matcher, build, run) = self.axis_match(t, &key, true, names)?;
                    Ok(IncludeRule {
                        matcher,
                        build,
                        run,
                        location: self.loc(item.span()),
                    })
                })
            });
            cfg.include = p.keep(rules).unwrap_or_default();
        }
        p.finish(cfg)
    }

    fn rule_list<'v, 'i>(&self, v: &'v Val<'i>, key: &str) -> R<Vec<(&'v Val<'i>, String)>> {
        match v.get_ref() {
            DeValue::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{key}[{i}]")))
                .collect()),
            _ => Err(self.wrong_type(v, key, &format!("a list of tables: {key} = [ {{ target = \"linux/386\", cgo = 1 }} ] or [[{key}]]"))),
        }
    }

    fn emulators(&self, v: &Val<'_>) -> R<Vec<crate::EmulatorSpec>> {
        let expected = "`host`, directories of qemu-<arch> binaries, or NAME=DIR";
        if !matches!(v.get_ref(), DeValue::Array(_)) {
            return Err(self.wrong_type(v, "emulators", &format!("a list of {expected}")));
        }
        self.non_empty(v, "emulators", "emulator")?;
        let mut out: Vec<crate::EmulatorSpec> = Vec::new();
        let mut p = Problems::default();
        for (s, span, key) in self.strings(v, "emulators", expected)? {
            let parsed = crate::EmulatorSpec::parse(&s, &self.base)
                .map_err(|m| self.err(span.clone(), &key, m).expected(expected));
            let Some(mut spec) = p.keep(parsed) else {
                continue;
            };
            if out
                .iter()
                .any(|e| e.dir == spec.dir && e.label == spec.label)
            {
                p.keep::<()>(Err(self
                    .err(span, &key, format!("emulator `{s}` is listed twice"))
                    .expected("each emulator once")));
                continue;
            }
            spec.location = self.loc(span);
            out.push(spec);
        }
        p.finish(out)
    }

    fn toolchains(&self, v: &Val<'_>) -> R<Vec<ToolchainSpec>> {
        let expected = "Go versions (go1.22, go1.24.4), `latest`, or GOROOT paths";
        if !matches!(v.get_ref(), DeValue::Array(_)) {
            return Err(self.wrong_type(v, "toolchains", &format!("a list of {expected}")));
        }
        self.non_empty(v, "toolchains", "toolchain")?;
        let version = regex::Regex::new(r"^1\.\d+(\.\d+)?((rc|beta)\d+)?$").expect("static regex");
        let mut out: Vec<ToolchainSpec> = Vec::new();
        let mut p = Problems::default();
        for (s, span, key) in self.strings(v, "toolchains", expected)? {
            let kind = (|| {
                Ok(if s == "latest" || s == "stable" {
                    ToolchainSpecKind::Latest
                } else if looks_like_path(&s) {
                    let p = self.resolve(&s);
                    if !p.is_dir() {
                        return Err(self
                            .err(
                                span.clone(),
                                &key,
                                format!("GOROOT `{s}` does not exist ({})", p.display()),
                            )
                            .expected("the directory of a Go installation (with bin/go)"));
                    }
                    if !p.join("bin/go").exists() {
                        return Err(self
                            .err(
                                span.clone(),
                                &key,
                                format!("`{s}` is not a GOROOT: no bin/go in {}", p.display()),
                            )
                            .expected("the directory of a Go installation (with bin/go)"));
                    }
                    ToolchainSpecKind::Goroot(p)
                } else {
                    let bare = s.strip_prefix("go").unwrap_or(&s);
                    if !version.is_match(bare) {
                        return Err(self
                            .err(span.clone(), &key, format!("`{s}` is not a Go version"))
                            .expected(expected)
                            .did_you_mean(&s, ["latest", "stable"]));
                    }
                    ToolchainSpecKind::Version(format!("go{bare}"))
                })
            })();
            let Some(kind) = p.keep(kind) else { continue };
            if out.iter().any(|t| t.kind == kind) {
                p.keep::<()>(Err(self
                    .err(span, &key, format!("toolchain `{s}` is listed twice"))
                    .expected("each toolchain once")));
                continue;
            }
            out.push(ToolchainSpec {
                raw: s,
                kind,
                location: self.loc(span),
            });
        }
        p.finish(out)
    }

    fn port(&self, s: &str, span: Range<usize>, key: &str) -> R<Target> {
        if let Some((os, arch)) = s.split_once('/') {
            if is_known_port(os, arch) {
                return Ok(Target::new(os, arch));
            }
        }
        let ports = known_ports();
        Err(self
            .err(span, key, format!("unknown target `{s}`"))
            .expected("GOOS/GOARCH as `go tool dist list` prints it, e.g. linux/arm64, wasip1/wasm, darwin/arm64")
            .did_you_mean(s, ports.iter().map(String::as_str)))
    }

    fn targets(&self, v: &Val<'_>) -> R<Vec<ConfiguredTarget>> {
        let entries_of: Vec<R<TargetEntry>> = match v.get_ref() {
            DeValue::Array(a) => {
                self.non_empty(v, "targets", "target")?;
                a.iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let key = format!("targets[{i}]");
                        let list = self.target_entry(item, &key)?;
                        Ok((list, item.span(), key))
                    })
                    .collect()
            }
            DeValue::Table(t) => {
                if t.is_empty() {
                    return Err(self
                        .err(
                            v.span(),
                            "targets",
                            "`targets` is empty: the matrix would have no cells",
                        )
                        .expected("at least one target, or omit `targets` for the default"));
                }
                entries(t)
                    .into_iter()
                    .map(|(k, span, val)| {
                        let key = format!("targets.\"{k}\"");
                        let port = self.port(k, span.clone(), &key)?;
                        let body = self.table(
                            val,
                            &key,
                            "a table of target settings (goarm, build, run…)",
                        )?;
                        let list = self.target_body(body, &port, &key, false)?;
                        Ok((list, span, key))
                    })
                    .collect()
            }
            _ => {
                return Err(self.wrong_type(v, "targets", "a list of targets, e.g. [\"linux/amd64\", { target = \"linux/arm\", goarm = [6, 7] }]"));
            }
        };
        let mut p = Problems::default();
        let mut out: Vec<ConfiguredTarget> = Vec::new();
        for entry in entries_of {
            let Some((list, span, key)) = p.keep(entry) else {
                continue;
            };
            for t in list {
                if out.iter().any(|o| o.target == t.target) {
                    p.keep::<()>(Err(self
                        .err(
                            span.clone(),
                            &key,
                            format!("target {} is listed twice", t.target),
                        )
                        .expected(
                            "each target (and variant) once; put several knob values in one entry",
                        )));
                    continue;
                }
                out.push(t);
            }
        }
        p.finish(out)
    }

    /// One item of the `targets` list: a `"GOOS/GOARCH"` string or a table.
    fn target_entry(&self, item: &Val<'_>, key: &str) -> R<Vec<ConfiguredTarget>> {
        match item.get_ref() {
            DeValue::String(s) => Ok(vec![ConfiguredTarget {
                target: self.port(s, item.span(), key)?,
                build: BuildSettings::default(),
                run: RunSettings::default(),
            }]),
            DeValue::Table(t) => {
                let Some(tv) = get(t, "target") else {
                    return Err(self
                        .err(item.span(), key, "target table without `target`")
                        .expected("target = \"GOOS/GOARCH\", e.g. { target = \"linux/arm\", goarm = [6, 7] }"));
                };
                let tk = join(key, "target");
                let s = self.string(tv, &tk, "a \"GOOS/GOARCH\" string")?;
                let port = self.port(s, tv.span(), &tk)?;
                self.target_body(t, &port, key, true)
            }
            _ => Err(self.wrong_type(item, key, "a \"GOOS/GOARCH\" string or a table such as { target = \"linux/arm\", goarm = [6, 7] }")),
        }
    }

    fn target_body(
        &self,
        t: &DeTable<'_>,
        port: &Target,
        key: &str,
        with_target_key: bool,
    ) -> R<Vec<ConfiguredTarget>> {
        let mut allowed: Vec<&str> = vec!["build", "run"];
        if with_target_key {
            allowed.push("target");
        }
        allowed.extend(VARIANT_KNOBS.iter().map(|k| k.name));
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, &allowed, &format!("target {port}")));
        let build = get(t, "build")
            .and_then(|v| p.keep(self.build(v, &join(key, "build"))))
            .unwrap_or_default();
        let run = get(t, "run")
            .and_then(|v| p.keep(self.run(v, &join(key, "run"))))
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut knob_seen = false;
        for (k, span, val) in entries(t) {
            let Some(knob) = VariantKnob::by_name(k) else {
                continue;
            };
            let kkey = join(key, k);
            if !knob.goarches.contains(&port.goarch.as_str()) {
                p.keep::<()>(Err(self
                    .err(span, &kkey, format!("`{k}` does not apply to {port}"))
                    .expected(match VariantKnob::for_goarch(&port.goarch) {
                        Some(right) => format!("`{}` for {port}", right.name),
                        None => format!("no sub-architecture knob: {port} has none"),
                    })));
                continue;
            }
            if std::mem::replace(&mut knob_seen, true) {
                p.keep::<()>(Err(self
                    .err(
                        span,
                        &kkey,
                        format!("a second sub-architecture knob for {port}"),
                    )
                    .expected("one knob per target entry")));
                continue;
            }
            if let DeValue::Array(a) = val.get_ref() {
                if a.is_empty() {
                    p.keep::<()>(Err(self
                        .err(val.span(), &kkey, format!("`{k}` is empty"))
                        .expected(format!("one or more of: {}", knob.values.join(", ")))));
                    continue;
                }
            }
            for (item, ikey) in self.one_or_many(val, &kkey) {
                let Some(value) = p.keep(self.knob_value(item, &ikey, knob)) else {
                    continue;
                };
                let target = port.with_variant(knob.name, &value);
                if out.iter().any(|o: &ConfiguredTarget| o.target == target) {
                    p.keep::<()>(Err(self
                        .err(
                            item.span(),
                            &ikey,
                            format!("`{k}` value `{value}` is listed twice"),
                        )
                        .expected("each value once")));
                    continue;
                }
                out.push(ConfiguredTarget {
                    target,
                    build: build.clone(),
                    run: run.clone(),
                });
            }
        }
        if out.is_empty() && !knob_seen {
            out.push(ConfiguredTarget {
                target: port.clone(),
                build,
                run,
            });
        }
        p.finish(out)
    }

    fn knob_value(&self, item: &Val<'_>, key: &str, knob: &VariantKnob) -> R<String> {
        let expected = format!("one of: {}", knob.values.join(", "));
        let value = match item.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(_) => self.int(item, key, &expected)?.to_string(),
            _ => return Err(self.wrong_type(item, key, &expected)),
        };
        if !knob.values.contains(&value.as_str()) {
            return Err(self
                .err(
                    item.span(),
                    key,
                    format!(
                        "`{value}` is not a {} value",
                        knob.name.to_ascii_uppercase()
                    ),
                )
                .expected(expected)
                .did_you_mean(&value, knob.values.iter().copied()));
        }
        Ok(value)
    }

    fn cgo_values(&self, v: &Val<'_>, key: &str) -> R<Vec<bool>> {
        self.each(self.one_or_many(v, key), |(item, k)| match item.get_ref() {
            DeValue::Integer(_) => match self.int(item, &k, "0 or 1")? {
                0 => Ok(false),
                1 => Ok(true),
                n => Err(self
                    .err(item.span(), &k, format!("`cgo = {n}` is not a cgo mode"))
                    .expected("0 (CGO_ENABLED=0) or 1 (CGO_ENABLED=1)")),
            },
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type(item, &k, "0 or 1")),
        })
    }

    fn libc_values(&self, v: &Val<'_>, key: &str) -> R<Vec<Libc>> {
        let items = self.strings(v, key, "\"gnu\" or \"musl\"")?;
        self.each(items, |(s, span, k)| match s.as_str() {
            "gnu" | "glibc" => Ok(Libc::Gnu),
            "musl" => Ok(Libc::Musl),
            _ => Err(self
                .err(span, &k, format!("unknown libc `{s}`"))
                .expected("gnu (dynamic glibc) or musl (static musl)")
                .did_you_mean(&s, ["gnu", "musl"])),
        })
    }

    fn rootfs_values(&self, v: &Val<'_>, key: &str) -> R<Vec<RootfsSpec>> {
        let items = self.strings(v, key, ROOTFS_EXPECTED)?;
        self.each(items, |(s, span, k)| match s.as_str() {
            "scratch" => Ok(RootfsSpec::Scratch),
            "host" => Ok(RootfsSpec::Host),
            "glibc" | "gnu" => Ok(RootfsSpec::Glibc),
            "musl" => Ok(RootfsSpec::Musl),
            _ if looks_like_path(&s) => {
                let p = self.resolve(&s);
                if p.is_dir() || RootfsSpec::is_image_path(&p) {
                    Ok(RootfsSpec::from_path(p))
                } else {
                    Err(self
                        .err(
                            span,
                            &k,
                            format!("rootfs directory `{s}` does not exist ({})", p.display()),
                        )
                        .expected("an existing directory (an unpacked root or an OCI image layout), or an image tarball (docker save, oci-archive)"))
                }
            }
            _ => Err(self
                .err(span, &k, format!("unknown rootfs `{s}`"))
                .expected(ROOTFS_EXPECTED)
                .did_you_mean(&s, ROOTFS_NAMES.iter().copied())),
        })
    }

    fn build(&self, v: &Val<'_>, key: &str) -> R<BuildSettings> {
        let t = self.table(
            v,
            key,
            "a table with tags, trimpath, ldflags, flags, env, timeout",
        )?;
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, BUILD_KEYS, &format!("`{key}`")));
        let mut b = BuildSettings::default();
        for (k, _, val) in entries(t) {
            let kk = join(key, k);
            let one = (|| {
                match k {
                    "tags" => {
                        for (tag, span, tk) in self.strings(val, &kk, "a list of build tags")? {
                            let ok = !tag.is_empty()
                                && tag
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                            if !ok {
                                return Err(self
                                    .err(span, &tk, format!("`{tag}` is not a build tag"))
                                    .expected("one tag per string: letters, digits, `_` and `.` (e.g. [\"netgo\", \"osusergo\"])"));
                            }
                            b.tags.push(tag);
                        }
                    }
                    "trimpath" => b.trimpath = Some(self.bool(val, &kk)?),
                    "ldflags" => {
                        b.ldflags = Some(
                            self.string(val, &kk, "a string, e.g. \"-s -w\"")?
                                .to_string(),
                        )
                    }
                    "flags" => {
                        for (flag, span, fk) in
                            self.strings(val, &kk, "a list of go build flags")?
                        {
                            if !flag.starts_with('-') {
                                return Err(self
                                    .err(span, &fk, format!("`{flag}` is not a flag"))
                                    .expected("go build flags such as \"-gcflags=all=-N -l\" or \"-race\""));
                            }
                            b.flags.push(flag);
                        }
                    }
                    "env" => b.env = self.env(val, &kk)?,
                    "timeout" => b.timeout = Some(self.seconds(val, &kk)?),
                    _ => {}
                }
                Ok(())
            })();
            p.keep(one);
        }
        p.finish(b)
    }

    fn run(&self, v: &Val<'_>, key: &str) -> R<RunSettings> {
        let t = self.table(
            v,
            key,
            "a table with timeout, reps, retries, env, memory, pids, tmpfs",
        )?;
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, RUN_KEYS, &format!("`{key}`")));
        let mut r = RunSettings::default();
        for (k, _, val) in entries(t) {
            let kk = join(key, k);
            let one = (|| {
                match k {
                    "timeout" => r.timeout = Some(self.seconds(val, &kk)?),
                    "reps" => {
                        let expected = "a number of repetitions from 0 to 10000";
                        let n = self.int(val, &kk, expected)?;
                        if !(0..=10_000).contains(&n) {
                            return Err(self
                                .err(val.span(), &kk, format!("`reps = {n}` is out of range"))
                                .expected(expected));
                        }
                        r.reps = Some(n as u32);
                    }
                    "retries" => {
                        let expected = "a number of retries from 0 to 100";
                        let n = self.int(val, &kk, expected)?;
                        if !(0..=100).contains(&n) {
                            return Err(self
                                .err(val.span(), &kk, format!("`retries = {n}` is out of range"))
                                .expected(expected));
                        }
                        r.retries = Some(n as u32);
                    }
                    "env" => r.env = self.env(val, &kk)?,
                    "memory" => {
                        let expected =
                            "a size such as \"512MiB\" or \"2GiB\" (\"none\" for no limit)";
                        let text = self.string(val, &kk, expected)?;
                        let bytes = crate::cell::parse_byte_size(text)
                            .map_err(|why| self.err(val.span(), &kk, why).expected(expected))?;
                        r.memory = Some(bytes);
                    }
                    "pids" => {
                        let expected =
                            "a number of tasks (processes + threads) from 0 (no limit) to 4194304";
                        let n = self.int(val, &kk, expected)?;
                        if !(0..=4_194_304).contains(&n) {
                            return Err(self
                                .err(val.span(), &kk, format!("`pids = {n}` is out of range"))
                                .expected(expected));
                        }
                        r.pids = Some(n as u64);
                    }
                    "tmpfs" => {
                        let expected =
                            "absolute directory paths such as \"/tmp\" or [\"/tmp\", \"/var/run\"]";
                        for (path, span, k) in self.strings(val, &kk, expected)? {
                            let bad = !path.starts_with('/')
                                || path == "/"
                                || path.split('/').any(|c| c == ".." || c == ".")
                                || ["/proc", "/dev"]
                                    .iter()
                                    .any(|p| path == *p || path.starts_with(&format!("{p}/")));
                            if bad {
                                return Err(self
                                    .err(span, &k, format!("`{path}` cannot be a tmpfs of the run"))
                                    .expected(expected));
                            }
                            r.tmpfs.push(path.trim_end_matches('/').to_string());
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            p.keep(one);
        }
        p.finish(r)
    }

    /// An axis table; with `settings`, also `build` and `run`. `programs` validates `program`.
    fn axis_match(
        &self,
        t: &DeTable<'_>,
        key: &str,
        settings: bool,
        programs: Option<&[String]>,
    ) -> R<(AxisMatch, BuildSettings, RunSettings)> {
        let mut allowed = AXIS_KEYS.to_vec();
        if settings {
            allowed.extend(["build", "run"]);
        }
        let what = if settings {
            "an include entry (axes and build/run settings)".to_string()
        } else {
            "a set of axis values".to_string()
        };
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, &allowed, &what));
        let mut m = AxisMatch::default();
        let (mut build, mut run) = (BuildSettings::default(), RunSettings::default());
        for (k, _, val) in entries(t) {
            let kk = join(key, k);
            let one = (|| {
                self.non_empty(val, &kk, "value")?;
                match k {
                    "toolchain" => {
                        for (s, span, ik) in
                            self.strings(val, &kk, "a Go version prefix (go1.22) or a GOROOT path")?
                        {
                            if s.is_empty() {
                                return Err(self
                                    .err(span, &ik, "empty toolchain")
                                    .expected("a Go version prefix (go1.22) or a GOROOT path"));
                            }
                            m.toolchain.push(if looks_like_path(&s) {
                                self.resolve(&s).display().to_string()
                            } else {
                                s
                            });
                        }
                    }
                    "target" => {
                        for (s, span, ik) in self.strings(val, &kk, "\"GOOS/GOARCH\"")? {
                            m.target.push(self.port(&s, span, &ik)?);
                        }
                    }
                    "variant" => {
                        let all: Vec<String> = VARIANT_KNOBS
                            .iter()
                            .flat_map(|k| k.values.iter().map(move |v| format!("{}={v}", k.name)))
                            .collect();
                        for (s, span, ik) in
                            self.strings(val, &kk, "a variant such as \"goarm=7\"")?
                        {
                            if !all.contains(&s) {
                                let e = self.err(span, &ik, format!("unknown variant `{s}`"));
                                // A known knob with a wrong value: that knob's values.
                                let knob = s
                                    .split_once('=')
                                    .and_then(|(k, v)| Some((VariantKnob::by_name(k)?, v)));
                                return Err(match knob {
                                    Some((k, v)) => e
                                        .expected(format!(
                                            "one of: {}",
                                            k.values
                                                .iter()
                                                .map(|x| format!("{}={x}", k.name))
                                                .collect::<Vec<_>>()
                                                .join(", ")
                                        ))
                                        .suggest(
                                            closest(v, k.values.iter().copied())
                                                .map(|x| format!("{}={x}", k.name)),
                                        ),
                                    None => e
                                        .expected("KNOB=VALUE, e.g. goarm=7, goamd64=v3, gomips=softfloat")
                                        .did_you_mean(&s, all.iter().map(String::as_str)),
                                });
                            }
                            m.variant.push(s);
                        }
                    }
                    "cgo" => m.cgo = self.cgo_values(val, &kk)?,
                    "libc" => m.libc = self.libc_values(val, &kk)?,
                    "rootfs" => m.rootfs = self.rootfs_values(val, &kk)?,
                    "program" => {
                        for (s, span, ik) in self.strings(val, &kk, "a program name")? {
                            if let Some(names) = programs {
                                if !names.contains(&s) {
                                    return Err(self
                                        .err(span, &ik, format!("no program is named `{s}`"))
                                        .expected(format!(
                                            "one of the programs: {}",
                                            names.join(", ")
                                        ))
                                        .did_you_mean(&s, names.iter().map(String::as_str)));
                                }
                            }
                            m.program.push(s);
                        }
                    }
                    "build" => build = self.build(val, &kk)?,
                    "run" => run = self.run(val, &kk)?,
                    _ => {}
                }
                Ok(())
            })();
            p.keep(one);
        }
        p.finish((m, build, run))
    }

    fn programs(&self, v: &Val<'_>) -> R<Vec<ConfiguredProgram>> {
        let DeValue::Array(list) = v.get_ref() else {
            return Err(self.wrong_type(
                v,
                "programs",
                "a list of program tables: [[programs]] path = \"./cmd/app\"",
            ));
        };
        let mut out: Vec<ConfiguredProgram> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut problems = Problems::default();
        for (i, item) in list.iter().enumerate() {
            let key = format!("programs[{i}]");
            let entry = self
                .table(item, &key, "a program table with at least `path`")
                .and_then(|t| self.program(t, item.span(), &key));
            let Some((progs, name_span)) = problems.keep(entry) else {
                continue;
            };
            for p in progs {
                let id_name = sanitize(&p.program.name);
                let line = Location::of(self.text, name_span.clone()).line;
                if let Some(first) = seen.get(&id_name) {
                    problems.keep::<()>(Err(self
                        .err(
                            name_span.clone(),
                            &key,
                            format!(
                                "program name `{}` is used twice (first on line {first})",
                                p.program.name
                            ),
                        )
                        .expected("distinct program names: set `name`")));
                    continue;
                }
                seen.insert(id_name, line);
                out.push(p);
            }
        }
        problems.finish(out)
    }

    /// `[[tests]]`: packages whose Go tests run in every cell (`crossmatrix test`).
    fn tests(&self, v: &Val<'_>) -> R<Vec<ConfiguredProgram>> {
        let DeValue::Array(list) = v.get_ref() else {
            return Err(self.wrong_type(
                v,
                "tests",
                "a list of test tables: [[tests]] packages = [\"./...\"]",
            ));
        };
        let mut problems = Problems::default();
        let mut out: Vec<ConfiguredProgram> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let key = format!("tests[{i}]");
            let entry = self
                .table(item, &key, "a test table with `packages`")
                .and_then(|t| self.test_entry(t, item.span(), &key));
            if let Some(list) = problems.keep(entry) {
                for t in list {
                    if !out.iter().any(|o| o.program.name == t.program.name) {
                        out.push(t);
                    }
                }
            }
        }
        problems.finish(out)
    }

    /// One `[[tests]]` entry: one test program per package it names.
    fn test_entry(
        &self,
        t: &DeTable<'_>,
        span: Range<usize>,
        key: &str,
    ) -> R<Vec<ConfiguredProgram>> {
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, TEST_KEYS, "a test entry"));
        let pk = join(key, "packages");
        let packages: Vec<(String, Range<usize>)> = match get(t, "packages") {
            None => vec![("./...".to_string(), span.clone())],
            Some(v) => p
                .keep(self.strings(v, &pk, PACKAGES_EXPECTED))
                .unwrap_or_default()
                .into_iter()
                .map(|(s, sp, _)| (s, sp))
                .collect(),
        };
        let mut spec = TestSpec::default();
        if let Some(v) = get(t, "args") {
            if let Some(list) = p.keep(self.strings(
                v,
                &join(key, "args"),
                "go test flags such as \"-short\" or \"-run=TestParse\"",
            )) {
                spec.flags = list.into_iter().map(|(s, _, _)| s).collect();
            }
        }
        if let Some(v) = get(t, "bench") {
            spec.bench = p.keep(
                self.string(v, &join(key, "bench"), "a benchmark regexp such as \".\"")
                    .map(str::to_string),
            );
        }
        if let Some(v) = get(t, "benchtime") {
            spec.benchtime = p.keep(
                self.string(
                    v,
                    &join(key, "benchtime"),
                    "a -benchtime such as \"1s\" or \"100x\"",
                )
                .map(str::to_string),
            );
        }
        if let Some(v) = get(t, "count") {
            let k = join(key, "count");
            spec.count = p.keep(self.int(v, &k, "a count from 1 to 1000").and_then(|n| {
                if (1..=1000).contains(&n) {
                    Ok(n as u32)
                } else {
                    Err(self
                        .err(v.span(), &k, format!("count {n} is out of range"))
                        .expected("a count from 1 to 1000"))
                }
            }));
        }
        if let Some(v) = get(t, "benchmem") {
            spec.benchmem = p
                .keep(self.bool(v, &join(key, "benchmem")))
                .unwrap_or(false);
        }
        let build = get(t, "build")
            .and_then(|v| p.keep(self.build(v, &join(key, "build"))))
            .unwrap_or_default();
        let mut run = get(t, "run")
            .and_then(|v| p.keep(self.run(v, &join(key, "run"))))
            .unwrap_or_default();
        if let Some(env) = get(t, "env").and_then(|v| p.keep(self.env(v, &join(key, "env")))) {
            run.env.extend(env);
        }
        if let Some(v) = get(t, "timeout") {
            run.timeout = p.keep(self.seconds(v, &join(key, "timeout")));
        }
        let (_, _, expect_fail) = self.program_expectations(t, key, &mut p);
        let mut out = Vec::new();
        for (pkg, pspan) in packages {
            let source = if pkg.starts_with('.') || pkg.starts_with('/') {
                if is_package_pattern(&pkg) {
                    pattern_source(&self.base, &pkg)
                } else {
                    let abs = self.resolve(&pkg);
                    if !abs.is_dir() {
                        p.keep::<()>(Err(self
                            .err(pspan, &pk, format!("no such directory: {}", abs.display()))
                            .expected(PACKAGES_EXPECTED)));
                        continue;
                    }
                    ProgramSource::Dir(std::fs::canonicalize(&abs).unwrap_or(abs))
                }
            } else {
                // An import path (the standard library's, or a module's): go resolves it.
                ProgramSource::Pattern {
                    dir: self.base.clone(),
                    pattern: pkg.clone(),
                }
            };
            out.push(ConfiguredProgram {
                program: std::sync::Arc::new(Program {
                    name: pkg,
                    source,
                    args: vec![],
                    expect: Expectation::default(),
                    test: Some(spec.clone()),
                }),
                build: build.clone(),
                run: run.clone(),
                stdin: None,
                expect_fail: expect_fail.clone(),
            });
        }
        p.finish(out)
    }

    /// One `[[programs]]` entry: one program, or one per file for a suite. Also returns the
    /// span to blame for a duplicate name. Every key is checked even when another is wrong.
    fn program(
        &self,
        t: &DeTable<'_>,
        span: Range<usize>,
        key: &str,
    ) -> R<(Vec<ConfiguredProgram>, Range<usize>)> {
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, PROGRAM_KEYS, "a program"));
        let Some(pv) = get(t, "path") else {
            p.keep::<()>(Err(self
                .err(span, key, "program without `path`")
                .expected(format!("path = \"./cmd/app\": {PROGRAM_PATH_EXPECTED}"))));
            return p.finish((vec![], 0..0));
        };
        let pkey = join(key, "path");
        let pattern = pv
            .get_ref()
            .as_str()
            .filter(|s| is_package_pattern(s))
            .map(str::to_string);
        let abs = p.keep(
            self.string(pv, &pkey, PROGRAM_PATH_EXPECTED)
                .map(|path| self.resolve(pattern_dir(path)))
                .and_then(|abs| {
                    if abs.exists() {
                        Ok(abs)
                    } else {
                        Err(self
                            .err(
                                pv.span(),
                                &pkey,
                                format!("no such file or directory: {}", abs.display()),
                            )
                            .expected(PROGRAM_PATH_EXPECTED))
                    }
                }),
        );
        let suite = get(t, "suite")
            .and_then(|v| p.keep(self.bool(v, &join(key, "suite"))))
            .unwrap_or(false);
        let go_test = get(t, "conventions").and_then(|v| {
            let k = join(key, "conventions");
            let expected =
                "\"go-test\" (Go's test/ directory: `// run` files, combined output, NAME.out)";
            p.keep(self.string(v, &k, expected).and_then(|c| {
                match c {
                    "go-test" if suite => Ok(true),
                    "go-test" => Err(self
                        .err(v.span(), &k, "`conventions` applies to suites")
                        .expected("suite = true beside it")),
                    other => Err(self
                        .err(v.span(), &k, format!("unknown conventions `{other}`"))
                        .expected(expected)),
                }
            }))
        });
        let go_test = go_test.unwrap_or(false);
        if let (Some(_), true) = (&pattern, suite) {
            p.keep::<()>(Err(self
                .err(pv.span(), &pkey, "a package pattern cannot be a suite")
                .expected(
                    "a directory of .go files with suite = true, or a pattern without it",
                )));
        }
        let name = get(t, "name").and_then(|v| {
            let k = join(key, "name");
            p.keep(self.string(v, &k, "a program name").and_then(|n| {
                if n.trim().is_empty() {
                    Err(self
                        .err(v.span(), &k, "empty program name")
                        .expected("a short name used in cell ids"))
                } else {
                    Ok((n.to_string(), v.span()))
                }
            }))
        });
        let blame = name
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| pv.span());
        let args: Vec<String> = get(t, "args")
            .and_then(|v| {
                let k = join(key, "args");
                if !matches!(v.get_ref(), DeValue::Array(_)) {
                    return p.keep(Err(self.wrong_type(
                        v,
                        &k,
                        "a list of strings, e.g. [\"--verbose\"]",
                    )));
                }
                p.keep(self.strings(v, &k, "a string"))
                    .map(|l| l.into_iter().map(|(s, _, _)| s).collect())
            })
            .unwrap_or_default();
        let build = get(t, "build")
            .and_then(|v| p.keep(self.build(v, &join(key, "build"))))
            .unwrap_or_default();
        let mut run = get(t, "run")
            .and_then(|v| p.keep(self.run(v, &join(key, "run"))))
            .unwrap_or_default();
        if let Some(env) = get(t, "env").and_then(|v| p.keep(self.env(v, &join(key, "env")))) {
            run.env.extend(env);
        }
        let stdin = match (get(t, "stdin"), get(t, "stdin_file")) {
            (Some(_), Some(b)) => p.keep(Err(self
                .err(
                    b.span(),
                    &join(key, "stdin_file"),
                    "both `stdin` and `stdin_file` are set",
                )
                .expected("one of them"))),
            (Some(v), None) => p.keep(
                self.string(v, &join(key, "stdin"), "a string")
                    .map(str::to_string),
            ),
            (None, Some(v)) => {
                let k = join(key, "stdin_file");
                p.keep(
                    self.string(v, &k, "a file path")
                        .and_then(|f| self.read_file(f, v.span(), &k)),
                )
            }
            (None, None) => None,
        };
        let (expect, stdout_set, expect_fail) = self.program_expectations(t, key, &mut p);
        let mut globs = |k: &str| -> Option<(GlobSet, Vec<String>)> {
            let v = get(t, k)?;
            let kk = join(key, k);
            if !suite {
                return p.keep(Err(self
                    .err(v.span(), &kk, format!("`{k}` only applies to suites"))
                    .expected(format!("suite = true, or remove `{k}`"))));
            }
            let globs = self.strings(v, &kk, "a list of file globs such as \"*.go\"");
            let globs = p.keep(globs.and_then(|list| {
                self.each(list, |(g, span, gk)| {
                    let glob = Glob::new(&g).map_err(|e| {
                        self.err(span, &gk, format!("invalid glob `{g}`: {}", e.kind()))
                            .expected("a file name glob such as \"*.go\" or \"test_*.go\"")
                    })?;
                    Ok((glob, g))
                })
            }))?;
            let mut b = GlobSetBuilder::new();
            let mut raw = Vec::new();
            for (glob, g) in globs {
                b.add(glob);
                raw.push(g);
            }
            let set = p.keep(
                b.build()
                    .map_err(|e| self.err(v.span(), &kk, format!("invalid globs: {e}"))),
            )?;
            Some((set, raw))
        };
        let include = globs("include");
        let exclude = globs("exclude");
        let Some(abs) = abs else {
            return p.finish((vec![], blame));
        };
        let sources = match &pattern {
            Some(pat) => Some(vec![(
                name.as_ref()
                    .map(|(n, _)| n.clone())
                    .unwrap_or_else(|| pat.clone()),
                pattern_source(&self.base, pat),
                None,
            )]),
            None => p.keep(self.program_sources(
                &abs,
                pv.span(),
                &pkey,
                suite,
                name.as_ref().map(|(n, _)| n.as_str()),
                include.as_ref(),
                exclude.as_ref(),
            )),
        };
        let programs = sources
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, source, golden)| {
                let mut expect = expect.clone();
                let (mut args, mut build, mut run) = (args.clone(), build.clone(), run.clone());
                if go_test {
                    // Go's harness: only `// run` files are programs, their output is combined
                    // and compared with NAME.out, or must be empty without one.
                    let ProgramSource::File(f) = &source else {
                        return None;
                    };
                    let d = gotest::run_directive(&std::fs::read_to_string(f).ok()?)?;
                    expect.output = crate::OutputStream::Combined;
                    if !stdout_set {
                        expect.stdout = Some(golden.clone().unwrap_or_default());
                    }
                    args = d.args;
                    build.flags.extend(d.build_flags);
                    // Built beside the test's own file (`go build ./a.go ./b.go`).
                    build
                        .flags
                        .extend(d.extra_files.iter().map(|f| format!("./{f}")));
                    build.env.extend(d.env.clone());
                    run.env.extend(d.env);
                    // Go's harness runs them on a machine with a /tmp, whatever the root.
                    if !run.tmpfs.iter().any(|t| t == "/tmp") {
                        run.tmpfs.push("/tmp".to_string());
                    }
                    // `-t N` may lengthen the run's limit, never shorten what the user set.
                    if let Some(t) = d.timeout {
                        run.timeout = Some(run.timeout.map_or(t, |own| own.max(t)));
                    }
                } else if !stdout_set && golden.is_some() {
                    expect.stdout = golden;
                }
                Some(ConfiguredProgram {
                    program: std::sync::Arc::new(Program {
                        name,
                        source,
                        args,
                        expect,
                        test: None,
                    }),
                    build,
                    run,
                    stdin: stdin.clone(),
                    expect_fail: expect_fail.clone(),
                })
            })
            .collect();
        p.finish((programs, blame))
    }

    /// The programs a `path` stands for: (name, source, golden stdout from `NAME.out`).
    #[allow(clippy::too_many_arguments)]
    fn program_sources(
        &self,
        abs: &Path,
        span: Range<usize>,
        pkey: &str,
        suite: bool,
        name: Option<&str>,
        include: Option<&(GlobSet, Vec<String>)>,
        exclude: Option<&(GlobSet, Vec<String>)>,
    ) -> R<Vec<(String, ProgramSource, Option<String>)>> {
        if suite {
            if !abs.is_dir() {
                return Err(self
                    .err(
                        span.clone(),
                        pkey,
                        format!("a suite must be a directory, and {} is not", abs.display()),
                    )
                    .expected("a directory of .go files, or remove `suite = true`"));
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(abs)
                .map_err(|e| {
                    self.err(
                        span.clone(),
                        pkey,
                        format!("cannot read {}: {e}", abs.display()),
                    )
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    let Some(f) = p.file_name().and_then(|f| f.to_str()) else {
                        return false;
                    };
                    f.ends_with(".go")
                        && !f.ends_with("_test.go")
                        && include.is_none_or(|(s, _)| s.is_match(f))
                        && !exclude.is_some_and(|(s, _)| s.is_match(f))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                let inc = include
                    .as_ref()
                    .map(|(_, r)| r.join(", "))
                    .unwrap_or_else(|| "*.go".into());
                return Err(self
                    .err(
                        span.clone(),
                        pkey,
                        format!("the suite {} has no .go file matching {inc}", abs.display()),
                    )
                    .expected("a directory with one Go program per .go file"));
            }
            let mut out = Vec::new();
            for f in files {
                let stem = f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let pname = match name {
                    Some(n) => format!("{n}-{stem}"),
                    None => stem,
                };
                let golden = read_golden(&f).map_err(|e| self.err(span.clone(), pkey, e))?;
                out.push((pname, ProgramSource::File(f), golden));
            }
            return Ok(out);
        }
        if abs.is_dir() {
            let has_go = std::fs::read_dir(abs)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .any(|e| e.path().extension().is_some_and(|x| x == "go"))
                })
                .unwrap_or(false);
            if !has_go {
                return Err(self
                    .err(span.clone(), pkey, format!("no .go files in {}", abs.display()))
                    .expected("a Go package directory (package main), or suite = true for a directory of programs"));
            }
            let n = name.map(str::to_string).unwrap_or_else(|| {
                abs.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "main".into())
            });
            return Ok(vec![(n, ProgramSource::Dir(abs.to_path_buf()), None)]);
        }
        if abs.extension().is_some_and(|e| e == "go") {
            let n = name.map(str::to_string).unwrap_or_else(|| {
                abs.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "main".into())
            });
            let golden = read_golden(abs).map_err(|e| self.err(span.clone(), pkey, e))?;
            return Ok(vec![(n, ProgramSource::File(abs.to_path_buf()), golden)]);
        }
        Err(self
            .err(
                span.clone(),
                pkey,
                format!("{} is neither a directory nor a .go file", abs.display()),
            )
            .expected(PROGRAM_PATH_EXPECTED))
    }

    fn read_file(&self, f: &str, span: Range<usize>, key: &str) -> R<String> {
        let p = self.resolve(f);
        std::fs::read_to_string(&p).map_err(|e| {
            self.err(span, key, format!("cannot read {}: {e}", p.display()))
                .expected("an existing text file (relative to the config file)")
        })
    }

    /// The expectation and whether it sets stdout (then a golden file does not override it).
    fn expectation(&self, v: &Val<'_>, key: &str) -> R<(Expectation, bool)> {
        let t = self.table(v, key, "a table: { exit_code = 0, stdout_regex = \"^ok\" }")?;
        let mut p = Problems::default();
        p.keep(self.check_keys(t, key, EXPECT_KEYS, "`expect`"));
        let mut e = Expectation::default();
        let mut stdout_set = false;
        for (k, _, val) in entries(t) {
            let kk = join(key, k);
            let one = (|| {
                match k {
                    "exit_code" => {
                        let expected = "an exit code from 0 to 255";
                        let n = self.int(val, &kk, expected)?;
                        if !(0..=255).contains(&n) {
                            return Err(self
                                .err(val.span(), &kk, format!("exit code {n} is out of range"))
                                .expected(expected));
                        }
                        e.exit_code = n as i32;
                    }
                    "output" => {
                        let expected = "\"stdout\" (the default) or \"combined\" (stdout and stderr as written)";
                        e.output = match self.string(val, &kk, expected)? {
                            "stdout" => OutputStream::Stdout,
                            "combined" => OutputStream::Combined,
                            other => {
                                return Err(self
                                    .err(val.span(), &kk, format!("unknown output `{other}`"))
                                    .expected(expected));
                            }
                        };
                    }
                    "stdout" | "stdout_file" => {
                        if stdout_set {
                            return Err(self
                                .err(val.span(), &kk, "both `stdout` and `stdout_file` are set")
                                .expected("one of them"));
                        }
                        stdout_set = true;
                        let s = self.string(val, &kk, "a string")?;
                        e.stdout = Some(if k == "stdout" {
                            s.to_string()
                        } else {
                            self.read_file(s, val.span(), &kk)?
                        });
                    }
                    "stdout_regex" | "stderr_regex" => {
                        let s = self.string(val, &kk, "a regular expression")?;
                        if let Err(err) = regex::Regex::new(s) {
                            let detail = err.to_string();
                            let last = detail
                                .lines()
                                .last()
                                .unwrap_or("")
                                .trim()
                                .trim_start_matches("error: ")
                                .to_string();
                            return Err(self
                                .err(val.span(), &kk, format!("invalid regex: {last}"))
                                .expected("a regular expression in Rust regex syntax (escape literal brackets with \\\\)"));
                        }
                        if k == "stdout_regex" {
                            e.stdout_regex = Some(s.to_string());
                        } else {
                            e.stderr_regex = Some(s.to_string());
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            p.keep(one);
        }
        p.finish((e, stdout_set))
    }

    /// A program's `expect` (a table, or the shorthand `expect = "fail"` with `cause`,
    /// `reason` and `match` beside it) and `expect_fail`: the expectation, whether it sets
    /// stdout, and the known failures. Problems go to `p`.
    fn program_expectations(
        &self,
        t: &DeTable<'_>,
        key: &str,
        p: &mut Problems,
    ) -> (Expectation, bool, Vec<ExpectFailRule>) {
        let ek = join(key, "expect");
        let says_fail = get(t, "expect").and_then(|v| v.get_ref().as_str()) == Some("fail");
        let mut expect = (Expectation::default(), false);
        let mut shorthand = None;
        match get(t, "expect") {
            Some(v) if v.get_ref().as_str().is_some() => {
                let word = v.get_ref().as_str().unwrap_or_default();
                if word == "fail" {
                    shorthand = p.keep(self.fail_rule(t, v.span(), key, "`expect = \"fail\"`"));
                } else {
                    p.keep::<()>(Err(self
                        .err(v.span(), &ek, format!("unknown expectation `{word}`"))
                        .expected("\"fail\" (with `cause`), or a table such as { exit_code = 0, stdout_regex = \"^ok\" }")
                        .did_you_mean(word, ["fail"])));
                }
            }
            Some(v) => expect = p.keep(self.expectation(v, &ek)).unwrap_or_default(),
            None => {}
        }
        if !says_fail {
            // `cause`, `reason` and `match` belong to the shorthand only.
            for k in EXPECT_FAIL_KEYS {
                if let Some((_, span, _)) = entries(t).into_iter().find(|(name, _, _)| name == k) {
                    p.keep::<()>(Err(self
                        .err(span, &join(key, k), format!("`{k}` without `expect = \"fail\"`"))
                        .expected(format!("expect = \"fail\" beside `{k}`, or `{k}` inside an `expect_fail = [{{ … }}]` entry"))));
                }
            }
        }
        let mut rules: Vec<ExpectFailRule> = Vec::new();
        if let Some(v) = get(t, "expect_fail") {
            let efk = join(key, "expect_fail");
            if says_fail {
                p.keep::<()>(Err(self
                    .err(v.span(), &efk, "both `expect = \"fail\"` and `expect_fail` are set")
                    .expected("one of them: `expect_fail = [{ match = {…}, cause = \"…\" }, …]` holds several rules")));
            } else if let Some(list) = p.keep(self.expect_fail(v, &efk)) {
                rules = list;
            }
        }
        rules.extend(shorthand);
        (expect.0, expect.1, rules)
    }

    fn expect_fail(&self, v: &Val<'_>, key: &str) -> R<Vec<ExpectFailRule>> {
        let items: Vec<(&Val<'_>, String)> = match v.get_ref() {
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, it)| (it, format!("{key}[{i}]")))
                .collect(),
            DeValue::Table(_) => vec![(v, key.to_string())],
            _ => {
                return Err(self.wrong_type(
                    v,
                    key,
                    "a list of { match = { target = \"linux/s390x\" }, cause = \"signal\" }",
                ));
            }
        };
        self.each(items, |(item, k)| {
            let t = self.table(item, &k, "a table { match = {…}, cause = \"…\" }")?;
            let keys = self.check_keys(t, &k, EXPECT_FAIL_KEYS, "`expect_fail`");
            let rule = self.fail_rule(t, item.span(), &k, "an `expect_fail` entry");
            let mut p = Problems::default();
            p.keep(keys);
            let rule = p.keep(rule);
            match rule {
                Some(rule) => p.finish(rule),
                None => Err(ConfigError::combine(p.0)
                    .unwrap_or_else(|| self.err(item.span(), &k, "invalid `expect_fail` entry"))),
            }
        })
    }

    /// `cause`, `reason` and `match` of a known failure, read from `t` (an `expect_fail`
    /// entry, or a program with `expect = "fail"`); `span` is blamed for a missing cause.
    fn fail_rule(
        &self,
        t: &DeTable<'_>,
        span: Range<usize>,
        key: &str,
        what: &str,
    ) -> R<ExpectFailRule> {
        let codes: Vec<&str> = Cause::ALL.iter().map(|c| c.code()).collect();
        let mut p = Problems::default();
        let cause = match get(t, "cause") {
            None => p.keep(Err(self
                .err(span.clone(), key, format!("{what} without `cause`"))
                .expected(format!("cause = one of: {}", codes.join(", "))))),
            Some(cv) => {
                let ck = join(key, "cause");
                p.keep(
                    self.string(cv, &ck, "a cause code such as \"missing-interpreter\"")
                        .and_then(|code| {
                            Cause::from_code(code).ok_or_else(|| {
                                self.err(cv.span(), &ck, format!("unknown cause `{code}`"))
                                    .expected(format!("one of: {}", codes.join(", ")))
                                    .did_you_mean(code, codes.iter().copied())
                            })
                        }),
                )
            }
        };
        let reason = get(t, "reason").and_then(|r| {
            p.keep(self.string(
                r,
                &join(key, "reason"),
                "a string, e.g. \"upstream issue #123\"",
            ))
            .map(str::to_string)
        });
        let matcher = get(t, "match")
            .and_then(|m| {
                let mk = join(key, "match");
                p.keep(
                    self.table(
                        m,
                        &mk,
                        "a table of axis values, e.g. { target = \"linux/s390x\" }",
                    )
                    .and_then(|mt| self.axis_match(mt, &mk, false, None)),
                )
                .map(|m| m.0)
            })
            .unwrap_or_default();
        let rule = cause.map(|cause| ExpectFailRule {
            matcher,
            failure: ExpectedFailure { cause, reason },
        });
        match rule {
            Some(rule) => p.finish(rule),
            // Without a cause there is always a recorded problem.
            None => Err(ConfigError::combine(p.0)
                .unwrap_or_else(|| self.err(span, key, format!("{what} without `cause`")))),
        }
    }
}

/// The sibling `NAME.out` of a single-file program `NAME.go`, when present.
/// The source of a pattern program: the pattern relative to the directory it starts from
/// (`./cmd/...` under `base` is `./...` under `base/cmd`).
pub fn pattern_source(base: &Path, path: &str) -> ProgramSource {
    let dir_part = pattern_dir(path);
    let dir = base.join(dir_part);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let rest = path[dir_part.len()..].trim_start_matches('/');
    ProgramSource::Pattern {
        dir,
        pattern: format!("./{rest}"),
    }
}

/// A Go package pattern: a path with a `...` element (`./cmd/...`, `./...`).
pub fn is_package_pattern(path: &str) -> bool {
    path.split('/').any(|e| e.contains("..."))
}

/// The directory a pattern starts from (`./cmd` for `./cmd/...`), which must exist; a plain
/// path is itself.
pub(crate) fn pattern_dir(path: &str) -> &str {
    if !is_package_pattern(path) {
        return path;
    }
    match path.find("...") {
        Some(i) => {
            let head = &path[..i];
            match head.rfind('/') {
                Some(j) if j > 0 => &head[..j],
                Some(_) => "/",
                None => ".",
            }
        }
        None => path,
    }
}

fn read_golden(go_file: &Path) -> Result<Option<String>, String> {
    let golden = go_file.with_extension("out");
    if !golden.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&golden)
        .map(Some)
        .map_err(|e| format!("cannot read the golden file {}: {e}", golden.display()))
}

/// Programs given on the command line (`crossmatrix run PATH...`): Go package directories or
/// single `.go` files (with their sibling `NAME.out` as expected stdout), relative to the
/// working directory. They replace the config's programs.
pub fn programs_from_paths(paths: &[PathBuf]) -> Result<Vec<ConfiguredProgram>, ConfigError> {
    let mut out: Vec<ConfiguredProgram> = Vec::new();
    for p in paths {
        if let Some(text) = p.to_str().filter(|t| is_package_pattern(t)) {
            let cwd = std::env::current_dir().map_err(|e| ConfigError::new(p, e.to_string()))?;
            let dir = cwd.join(pattern_dir(text));
            if !dir.is_dir() {
                return Err(ConfigError::new(
                    p,
                    format!("pattern {text}: no such directory {}", dir.display()),
                )
                .expected(PROGRAM_PATH_EXPECTED));
            }
            out.push(ConfiguredProgram::plain(Program {
                name: text.to_string(),
                source: pattern_source(&cwd, text),
                args: vec![],
                expect: Expectation::default(),
                test: None,
            }));
            continue;
        }
        let abs = std::fs::canonicalize(p).map_err(|e| {
            ConfigError::new(p, format!("program: {e}")).expected(PROGRAM_PATH_EXPECTED)
        })?;
        let (name, source, golden) = if abs.is_dir() {
            let name = abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "main".into());
            (name, ProgramSource::Dir(abs.clone()), None)
        } else if abs.extension().is_some_and(|e| e == "go") {
            let name = abs
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "main".into());
            let golden = read_golden(&abs).map_err(|e| ConfigError::new(p, e))?;
            (name, ProgramSource::File(abs.clone()), golden)
        } else {
            return Err(
                ConfigError::new(p, "program: neither a directory nor a .go file")
                    .expected(PROGRAM_PATH_EXPECTED),
            );
        };
        if out
            .iter()
            .any(|o| sanitize(&o.program.name) == sanitize(&name))
        {
            return Err(
                ConfigError::new(p, format!("two programs are named `{name}`"))
                    .expected("programs with distinct directory names or file stems"),
            );
        }
        let mut prog = Program {
            name,
            source,
            args: vec![],
            expect: Expectation::default(),
            test: None,
        };
        prog.expect.stdout = golden;
        out.push(ConfiguredProgram::plain(prog));
    }
    Ok(out)
}
