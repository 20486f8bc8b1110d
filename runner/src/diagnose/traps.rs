//! Environment traps: a Go binary that built fine fails where it runs because the root lacks
//! something Go reads at run time (the zone database, CA roots, the user database, an
//! executable, the resolver's configuration), or the CPU lacks the level the binary was built
//! for. A trap is recognised from Go's own error string (the same in go1.22 and go1.24;
//! `tests/traps.rs` runs both) and then confirmed against the root the cell ran in: when the
//! root has what the message says is missing, the failure keeps its generic cause.

use crate::diagnose::failure::{Failure, RUN_PATH, RunContext};
use crossmatrix_matrix::{Cause, Libc};
use crossmatrix_sandbox::bwrap::HOST_DIRS;
use crossmatrix_sandbox::process::Finished;
use regex::Regex;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

/// Replaces a generic failure (`wrong-exit-code`, `wrong-output`, `signal`) with an
/// environment trap when Go's output names one and the run's root (or CPU) confirms it; any
/// other failure is returned unchanged.
pub fn refine(generic: Failure, f: &Finished, ctx: &RunContext) -> Failure {
    if !matches!(
        generic.cause,
        Cause::WrongExitCode | Cause::WrongOutput | Cause::Signal | Cause::EmulatorCrash
    ) {
        return generic;
    }
    let stderr = f.stderr.text();
    let stdout = f.stdout.text();
    if let Some(cpu) = crate::diagnose::cpu_level::cpu_level(&generic, f, &stderr, ctx) {
        return cpu;
    }
    if matches!(generic.cause, Cause::Signal | Cause::EmulatorCrash) {
        return generic;
    }
    [&stderr, &stdout]
        .into_iter()
        .find_map(|text| trap_in(text, ctx))
        .unwrap_or(generic)
}

/// The environment trap `text` (Go's output) names and the run's root confirms, if any — the
/// recognisers of [`refine`] without the CPU level: for one failed test's output.
pub fn trap_in(text: &str, ctx: &RunContext) -> Option<Failure> {
    let root = Root {
        dir: ctx.traps.root.as_deref(),
        host_programs: ctx.traps.host_programs,
    };
    let recognisers: [Recogniser; 6] = [tzdata, ca_roots, user_db, executable, dns_config, tmpdir];
    recognisers
        .into_iter()
        .find_map(|recognise| recognise(text, ctx, &root))
}

/// Reads Go's output for one trap and confirms it against the root.
type Recogniser = fn(&str, &RunContext, &Root) -> Option<Failure>;

/// A root directory seen as the sandbox sees it: paths are looked up inside it, symlinks
/// (absolute ones too) resolved against it rather than against the host — except, on the
/// `host` root, under the host's program directories, which are the host's own.
struct Root<'a> {
    dir: Option<&'a Path>,
    host_programs: bool,
}

impl Root<'_> {
    /// The host path of `path` inside the root after following symlinks; `None` when it does
    /// not exist (always, for an empty root).
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let root_dir = self.dir?;
        let host_dir = |cur: &Path| {
            self.host_programs
                && cur.components().next().is_some_and(|c| {
                    HOST_DIRS
                        .iter()
                        .any(|d| Path::new(d).file_name() == Some(c.as_os_str()))
                })
        };
        let dir_of = |cur: &Path| {
            if host_dir(cur) {
                Path::new("/")
            } else {
                root_dir
            }
        };
        let mut pending: Vec<OsString> = parts(Path::new(path));
        pending.reverse();
        let mut cur = PathBuf::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                cur.pop();
                continue;
            }
            let next = cur.join(&part);
            let dir = dir_of(&next);
            let meta = std::fs::symlink_metadata(dir.join(&next)).ok()?;
            if !meta.file_type().is_symlink() {
                cur = next;
                continue;
            }
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(dir.join(&next)).ok()?;
            if target.is_absolute() {
                cur = PathBuf::new();
            }
            pending.extend(parts(&target).into_iter().rev());
        }
        let host = dir_of(&cur).join(&cur);
        host.exists().then_some(host)
    }

    fn is_file(&self, path: &str) -> bool {
        self.resolve(path).is_some_and(|p| p.is_file())
    }

    fn is_dir(&self, path: &str) -> bool {
        self.resolve(path).is_some_and(|p| p.is_dir())
    }

    fn read(&self, path: &str) -> Option<String> {
        self.resolve(path)
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Whether `file` holds at least one PEM certificate.
    fn has_certificate(&self, file: &str) -> bool {
        self.read(file)
            .is_some_and(|t| t.contains("-----BEGIN CERTIFICATE-----"))
    }

    /// Whether some file in `dir` holds a PEM certificate (looks at the first 4096 entries).
    fn dir_has_certificate(&self, dir: &str) -> bool {
        let Some(host) = self.resolve(dir) else {
            return false;
        };
        let Ok(entries) = std::fs::read_dir(host) else {
            return false;
        };
        entries.flatten().take(4096).any(|e| {
            let name = e.file_name();
            self.has_certificate(&format!("{dir}/{}", name.to_string_lossy()))
        })
    }
}

fn parts(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn regex(re: &str) -> Regex {
    Regex::new(re).expect("static regex")
}

/// `time.LoadLocation` ("unknown time zone NAME", time/zoneinfo_read.go).
static UNKNOWN_ZONE: LazyLock<Regex> = LazyLock::new(|| regex(r"unknown time zone ([^\s:]+)"));
/// Where time.LoadLocation looks on unix (time/zoneinfo_unix.go `platformZoneSources`), after
/// `$ZONEINFO`; the GOROOT copy is never in a cell's root.
const ZONE_SOURCES: &[&str] = &[
    "/usr/share/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/usr/lib/locale/TZ",
    "/etc/zoneinfo",
];

fn tzdata(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    let zone = UNKNOWN_ZONE.captures(text)?.get(1)?.as_str();
    if let Some(z) = ctx.traps.env.get("ZONEINFO").filter(|z| !z.is_empty()) {
        if root.resolve(z).is_some() {
            return None;
        }
    }
    // Only an absent database is the trap; a database without the zone may as well be a
    // misspelt name.
    if ZONE_SOURCES.iter().any(|s| root.is_dir(s)) {
        return None;
    }
    Some(Failure::new(
        Cause::MissingTzdata,
        format!(
            "{} lacks /usr/share/zoneinfo, so time.LoadLocation fails (unknown time zone {zone}): import _ \"time/tzdata\" or build with -tags timetzdata (embeds the zone database, ~450 KB), or add tzdata to the image",
            ctx.rootfs
        ),
    ))
}

/// crypto/x509's verdicts when no root signed the chain (verify.go): an empty system pool
/// gives the first.
static UNKNOWN_AUTHORITY: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"x509: (certificate signed by unknown authority|failed to load system roots and no roots provided)",
    )
});
/// Where crypto/x509 reads the system roots on linux (crypto/x509/root_linux.go): the first
/// file that exists, then every file in the directories.
const CERT_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
const CERT_DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

fn ca_roots(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    let said = UNKNOWN_AUTHORITY.captures(text)?.get(1)?.as_str();
    let env = |k: &str| ctx.traps.env.get(k).filter(|v| !v.is_empty());
    let files: Vec<&str> = match env("SSL_CERT_FILE") {
        Some(f) => vec![f.as_str()],
        None => CERT_FILES.to_vec(),
    };
    let dirs: Vec<&str> = match env("SSL_CERT_DIR") {
        Some(d) => d.split(':').collect(),
        None => CERT_DIRS.to_vec(),
    };
    // With certificates there, the chain's root is just not among them: not this trap.
    if files.iter().any(|f| root.has_certificate(f))
        || dirs.iter().any(|d| root.dir_has_certificate(d))
    {
        return None;
    }
    let where_ = if env("SSL_CERT_FILE").is_some() || env("SSL_CERT_DIR").is_some() {
        format!(
            "in $SSL_CERT_FILE/$SSL_CERT_DIR ({})",
            files
                .iter()
                .chain(&dirs)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        "where crypto/x509 looks on linux (/etc/ssl/certs/ca-certificates.crt, /etc/ssl/cert.pem, 4 more files, /etc/ssl/certs/, /etc/pki/tls/certs/)".to_string()
    };
    Some(Failure::new(
        Cause::MissingCaRoots,
        format!(
            "{} has no CA certificates {where_}, so TLS verification fails (x509: {said}): copy ca-certificates.crt into the image (COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/), point SSL_CERT_FILE at a bundle, or embed roots (import _ \"golang.org/x/crypto/x509roots/fallback\")",
            ctx.rootfs
        ),
    ))
}

/// os/user without cgo (lookup_stubs.go) when /etc/passwd has no entry and the environment
/// lacks `$USER` or `$HOME`.
static CURRENT_NEEDS_ENV: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"user: Current requires cgo or (\$USER, \$HOME|\$USER|\$HOME) set in environment")
});
/// os/user's lookups (user.go's Unknown*Error; cgo_lookup_unix.go's `lookup userid N: errno`,
/// which go1.22 returns where go1.24 says `unknown userid N` when musl cannot open
/// /etc/passwd).
static USER_LOOKUP: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?:user: unknown userid|user: lookup userid|user: unknown user|user: lookup username|group: unknown groupid|user: lookup groupid|group: unknown group|user: lookup groupname) ([^\s:]+)",
    )
});

fn user_db(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    let (file, key, by_id, needs_env) = if let Some(m) = CURRENT_NEEDS_ENV.captures(text) {
        let env = m.get(1).map_or("", |e| e.as_str()).to_string();
        ("/etc/passwd", ctx.traps.uid.to_string(), true, Some(env))
    } else {
        let m = USER_LOOKUP.captures(text)?;
        let whole = m.get(0)?.as_str();
        let key = m.get(1)?.as_str().to_string();
        let group = whole.contains("group");
        let by_id = whole.contains("id ");
        let file = if group { "/etc/group" } else { "/etc/passwd" };
        (file, key, by_id, None)
    };
    let lacks = match root.read(file) {
        None => format!("{} has no {file}", ctx.rootfs),
        Some(db) => {
            // name:password:ID:… — the name is field 0, the id field 2.
            let field = if by_id { 2 } else { 0 };
            let listed = db
                .lines()
                .filter(|l| !l.starts_with('#'))
                .any(|l| l.split(':').nth(field) == Some(key.as_str()));
            if listed {
                return None;
            }
            let what = match (by_id, file) {
                (true, "/etc/group") => format!("gid {key}"),
                (true, _) => format!("uid {key}"),
                (false, "/etc/group") => format!("group {key}"),
                (false, _) => format!("user {key}"),
            };
            format!("{}'s {file} has no entry for {what}", ctx.rootfs)
        }
    };
    let pure_go = !ctx.cgo || ctx.traps.has_tag("osusergo");
    let line = if file == "/etc/group" {
        format!("{key}:x:{key}:")
    } else {
        format!("app:x:{key}:{key}::/home/app:/sbin/nologin")
    };
    let hint = match (&needs_env, pure_go) {
        (Some(env), _) => format!(
            "{lacks} and {env} {} not set, so user.Current fails (os/user's pure Go lookup, cgo=0): set $USER and $HOME in the environment, or ship a passwd line for the uid ({line})",
            if env.contains(',') { "are" } else { "is" }
        ),
        (None, true) => format!(
            "{lacks}, so os/user's pure Go lookup fails (cgo=0 or -tags osusergo): ship a {file} line ({line}); for user.Current alone, setting $USER and $HOME also works"
        ),
        (None, false) => {
            let via = match ctx.traps.libc {
                Some(Libc::Gnu) => "glibc's getpwuid_r, through /etc/nsswitch.conf",
                Some(Libc::Musl) => "musl's getpwuid_r",
                None => "libc's getpwuid_r",
            };
            format!(
                "{lacks}, so os/user's lookup through {via} (cgo=1) fails: ship a {file} line ({line}), or build with -tags osusergo and set $USER and $HOME"
            )
        }
    };
    Some(Failure::new(Cause::MissingUserDb, hint))
}

/// os/exec's LookPath (exec.Error with ErrNotFound) and a direct exec of an absent path.
static NOT_IN_PATH: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"exec: "([^"/]+)": executable file not found in \$PATH"#));
static FORK_EXEC_ENOENT: LazyLock<Regex> =
    LazyLock::new(|| regex(r"fork/exec (/[^:\s]+): no such file or directory"));

fn executable(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    let path_env = ctx
        .traps
        .env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| RUN_PATH.to_string());
    let (name, lacks) = if let Some(m) = NOT_IN_PATH.captures(text) {
        let name = m.get(1)?.as_str();
        let found = path_env
            .split(':')
            .filter(|d| d.starts_with('/'))
            .any(|d| root.is_file(&format!("{d}/{name}")));
        if found {
            return None;
        }
        (
            name.to_string(),
            format!("{} has no `{name}` on $PATH ({path_env})", ctx.rootfs),
        )
    } else {
        let m = FORK_EXEC_ENOENT.captures(text)?;
        let path = m.get(1)?.as_str();
        if root.resolve(path).is_some() {
            // There, but its loader or shebang interpreter is not: another problem.
            return None;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        (name.to_string(), format!("{} has no {path}", ctx.rootfs))
    };
    if name == "go" {
        return Some(Failure::new(
            Cause::NeedsGoToolchain,
            format!(
                "{lacks}: the program runs the go command at run time (go env, go list, go build…); give its cells a root with a Go toolchain, or do that work before the image is built"
            ),
        ));
    }
    Some(Failure::new(
        Cause::MissingExecutable,
        format!(
            "{lacks}, so running it fails: add `{name}` to the image (for a shell, a static busybox), or do the work in Go instead of executing `{name}`"
        ),
    ))
}

/// os.MkdirTemp / os.CreateTemp (and whatever else makes a path in the temporary directory)
/// when the directory itself is absent: a path in it (`open /tmp/upload-1: …`), or the
/// directory (`stat /tmp: …`, as go1.22's MkdirTemp reports it).
static TEMP_ENOENT: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?:mkdir|open|stat|lstat|chdir) (/[^:\s]*?)(?:/[^/:\s]+)?: no such file or directory")
});

fn tmpdir(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    // os.TempDir(): $TMPDIR, else /tmp.
    let dir = ctx
        .traps
        .env
        .get("TMPDIR")
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('/').to_string())
        .unwrap_or_else(|| "/tmp".to_string());
    let said = TEMP_ENOENT
        .captures_iter(text)
        .filter_map(|m| m.get(1))
        .any(|m| m.as_str() == dir);
    let mounted = ctx.traps.tmpfs.contains(&dir);
    if !said || mounted || root.is_dir(&dir) {
        return None;
    }
    let how = if dir == "/tmp" {
        "os.TempDir() is /tmp"
    } else {
        "os.TempDir() is $TMPDIR"
    };
    Some(Failure::new(
        Cause::MissingTmpdir,
        format!(
            "{} has no {dir} ({how}), so temporary files cannot be made (os.MkdirTemp, os.CreateTemp): create it in the image with mode 1777 (COPY --from=build --chmod=1777 /tmp /tmp), mount a tmpfs or emptyDir there (`[run] tmpfs = [\"{dir}\"]` does that here), or set TMPDIR to a writable directory",
            ctx.rootfs
        ),
    ))
}

/// A failed lookup from package net: `lookup NAME[ on SERVER]: reason`.
static LOOKUP_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"lookup ([^\s:\[\]]+)(?: on (\[[0-9a-fA-F:.]+\]:\d+|[0-9.]+:\d+))?: ([^\n]+)")
});
/// What GODEBUG=netdns=…+2 prints about the resolver net picked for a name.
static LOOKUP_ORDER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"hostLookupOrder\(([^)]*)\) = ([a-z,]+)"));

fn dns_config(text: &str, ctx: &RunContext, root: &Root) -> Option<Failure> {
    let m = LOOKUP_FAILED.captures(text)?;
    let name = m.get(1)?.as_str();
    let server = m.get(2).map(|s| s.as_str());
    // The last part says what happened (`connection refused`); the rest names sockets whose
    // ports differ per run.
    let full = m.get(3)?.as_str().trim();
    let reason = full.rsplit(": ").next().unwrap_or(full);
    let resolver = resolver_used(text, name, server.is_some(), ctx);
    let hosts = root.read("/etc/hosts");
    let in_hosts = hosts.as_deref().is_some_and(|h| hosts_lists(h, name));
    let resolv = root.is_file("/etc/resolv.conf");
    let glibc_nss = resolver.libc && ctx.traps.libc == Some(Libc::Gnu);
    let nss_skips_files = glibc_nss
        && root.read("/etc/nsswitch.conf").is_some_and(|n| {
            n.lines()
                .find(|l| l.trim_start().starts_with("hosts:"))
                .is_some_and(|l| !l.split_whitespace().any(|w| w == "files"))
        });
    let mut lacks = Vec::new();
    if hosts.is_none() {
        lacks.push("/etc/hosts".to_string());
    } else if !in_hosts {
        lacks.push(format!("{name} in /etc/hosts"));
    }
    if !in_hosts && !resolv {
        lacks.push("/etc/resolv.conf".to_string());
    }
    if in_hosts && nss_skips_files {
        lacks.push("`files` on the hosts line of /etc/nsswitch.conf".to_string());
    }
    if glibc_nss && !root.is_file("/etc/nsswitch.conf") {
        lacks.push("/etc/nsswitch.conf".to_string());
    }
    // Listed in /etc/hosts and read: not the root's doing. Absent from /etc/hosts but with a
    // resolv.conf: the query went to a nameserver, which the sandbox (no network) cannot reach.
    let confirmed = hosts.is_none() || (!in_hosts && !resolv) || (in_hosts && nss_skips_files);
    if !confirmed {
        return None;
    }
    let hostname = own_hostname().filter(|h| h.eq_ignore_ascii_case(name));
    let what = match hostname {
        Some(_) => format!("the hostname {name} (os.Hostname)"),
        None => name.to_string(),
    };
    let server_note = server.map_or(String::new(), |s| format!(" on {s}"));
    let mut hint = format!(
        "{} lacks {}, so {} cannot resolve {what} (lookup {name}{server_note}: {reason}): ",
        ctx.rootfs,
        join_and(&lacks),
        resolver.name
    );
    if hostname.is_some() {
        hint.push_str("list the hostname in /etc/hosts (container runtimes write it there) or give the root a resolv.conf whose nameserver knows it");
    } else {
        hint.push_str("add /etc/hosts (127.0.0.1 localhost) and /etc/resolv.conf to the image, or let the container runtime mount them");
    }
    hint.push_str(
        "; GODEBUG=netdns=go or =cgo picks the resolver (netdns=+2 prints which one ran)",
    );
    Some(Failure::new(Cause::DnsConfig, hint))
}

struct Resolver {
    /// libc's getaddrinfo (cgo) rather than Go's own.
    libc: bool,
    name: String,
}

/// Which resolver looked `name` up: what GODEBUG=netdns=+2 printed when it did; else Go's when
/// the error names the server it asked or the binary can only have Go's; else libc's.
fn resolver_used(text: &str, name: &str, named_server: bool, ctx: &RunContext) -> Resolver {
    let godebug = ctx.traps.env.get("GODEBUG").cloned().unwrap_or_default();
    let netdns = godebug
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix("netdns="))
        .map(|v| v.split('+').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let printed = LOOKUP_ORDER
        .captures_iter(text)
        .find(|c| c.get(1).is_some_and(|n| n.as_str() == name))
        .and_then(|c| c.get(2).map(|o| o.as_str().to_string()));
    let libc_name = match ctx.traps.libc {
        Some(Libc::Gnu) => "glibc's getaddrinfo, the cgo resolver",
        Some(Libc::Musl) => "musl's getaddrinfo, the cgo resolver",
        None => "libc's getaddrinfo, the cgo resolver",
    };
    let why_go = if !ctx.cgo {
        "cgo=0"
    } else if ctx.traps.has_tag("netgo") {
        "-tags netgo"
    } else if netdns == "go" {
        "GODEBUG=netdns=go"
    } else {
        "cgo=1, net's choice"
    };
    let libc = match printed.as_deref() {
        Some(order) => order == "cgo",
        None => ctx.cgo && !ctx.traps.has_tag("netgo") && netdns != "go" && !named_server,
    };
    let name = if libc {
        let why = if netdns == "cgo" {
            "GODEBUG=netdns=cgo"
        } else {
            "cgo=1"
        };
        format!("{libc_name} ({why})")
    } else {
        format!("Go's own resolver ({why_go})")
    };
    Resolver { libc, name }
}

/// Whether an /etc/hosts text lists `name` (case-insensitive, any address).
fn hosts_lists(hosts: &str, name: &str) -> bool {
    hosts.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        l.split_whitespace()
            .skip(1)
            .any(|n| n.eq_ignore_ascii_case(name.trim_end_matches('.')))
    })
}

/// The hostname runs see: the sandbox's UTS namespace starts as a copy of this one.
fn own_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
#[path = "traps_tests.rs"]
mod tests;
