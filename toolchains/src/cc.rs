//! C compilers for cgo builds, per (GOARCH, libc): zig cc for any target it ships a libc for,
//! else Debian cross gcc, musl-gcc or the host gcc — always CC and CXX from the same toolchain.

use crate::paths::host_goarch;
use crossmatrix_matrix::Libc;
use crossmatrix_sandbox::host as command;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The glibc version zig links against unless the target needs newer: old enough that the
/// binaries run on Debian 11 / Ubuntu 20.04 and newer.
pub const DEFAULT_GLIBC: &str = "2.31";

const ZIG_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which kind of compiler a [`CCompiler`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CcKind {
    Zig,
    DebianCross,
    MuslGcc,
    HostGcc,
}

impl CcKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CcKind::Zig => "zig",
            CcKind::DebianCross => "debian-cross",
            CcKind::MuslGcc => "musl-gcc",
            CcKind::HostGcc => "host-gcc",
        }
    }
}

/// The C (and C++) compiler a cgo build uses, ready to put in `CC`/`CXX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CCompiler {
    pub kind: CcKind,
    /// The whole CC value, e.g. `/opt/…/zig cc -target aarch64-linux-musl` (Go splits it on
    /// spaces).
    pub cc: String,
    /// The CXX value from the same toolchain.
    pub cxx: String,
    /// Why this one was chosen, for logs and reports.
    pub why: String,
    /// Directories the build sandbox must see read-only (canonical paths, not symlinks).
    pub bind_paths: Vec<PathBuf>,
    /// Whether the build needs a writable `ZIG_GLOBAL_CACHE_DIR`.
    pub needs_zig_cache: bool,
    /// Extra environment the build needs (e.g. `ZIG_LIBC` for a prebuilt musl sysroot).
    pub env: Vec<(String, String)>,
}

impl CCompiler {
    /// zig for a `*-linux-musl` target, linking against a prebuilt musl from `sysroot` (an
    /// extracted Debian `musl-dev`) instead of compiling musl from source: that build costs
    /// ~90 s of CPU per architecture on a cold cache, this one only zig's compiler-rt (~20 s).
    /// zig reads the libc location from a paths file named by `ZIG_LIBC`; the file, and the
    /// empty `crtbegin.o`/`crtend.o` zig insists on for a Linux libc (musl needs neither: it
    /// runs `.init_array` itself), are written once under `sysroot/.crossmatrix/`.
    /// `zig_cache` is the `ZIG_GLOBAL_CACHE_DIR` for the one `zig cc -c` that makes them.
    pub fn with_musl_sysroot(
        mut self,
        sysroot: &Path,
        lib_rel: &str,
        zig_cache: &Path,
    ) -> Result<CCompiler, String> {
        if self.kind != CcKind::Zig || !self.cc.contains("-linux-musl") {
            return Ok(self);
        }
        let lib_dir = sysroot.join(lib_rel).parent().map(Path::to_path_buf);
        let Some(lib_dir) = lib_dir.filter(|d| d.join("libc.a").is_file()) else {
            return Err(format!(
                "no libc.a under {}",
                sysroot.join(lib_rel).display()
            ));
        };
        // Debian: headers in usr/include/<triple>, libraries in usr/lib/<triple>.
        let triple = lib_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let include = sysroot.join("usr/include").join(triple.unwrap_or_default());
        if !include.join("stdlib.h").is_file() {
            return Err(format!("no stdlib.h in {}", include.display()));
        }
        let own = sysroot.join(".crossmatrix");
        let paths = own.join("libc.txt");
        // Files written before `gcc_dir` was added are rewritten.
        let current = std::fs::read_to_string(&paths).is_ok_and(|t| t.contains("\ngcc_dir="));
        if !current {
            std::fs::create_dir_all(&own).map_err(|e| format!("{}: {e}", own.display()))?;
            let target = self
                .cc
                .split_whitespace()
                .skip_while(|w| *w != "-target")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let zig = self.cc.split(" cc ").next().unwrap_or("zig").to_string();
            // Cells of one arch may get here at once (threads of one process): unique names.
            let unique = || {
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("{}.{n}", std::process::id())
            };
            for name in ["crtbegin.o", "crtend.o"] {
                let tmp = own.join(format!(".{name}.{}", unique()));
                let mut cmd = Command::new(&zig);
                cmd.args(["cc", "-c", "-target", &target, "-x", "c", "/dev/null", "-o"])
                    .arg(&tmp)
                    .env("ZIG_GLOBAL_CACHE_DIR", zig_cache);
                command::run_checked(&mut cmd, ZIG_PROBE_TIMEOUT)
                    .map_err(|e| format!("zig cc -c for {name}: {e}"))?;
                std::fs::rename(&tmp, own.join(name))
                    .map_err(|e| format!("{}: {e}", own.display()))?;
            }
            let text = libc_paths_file(&include, &own, &lib_dir);
            let tmp = own.join(format!(".libc.txt.{}", unique()));
            std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &paths).map_err(|e| format!("{}: {e}", paths.display()))?;
        }
        self.why = format!("{} with Debian's prebuilt musl-dev", self.why);
        self.bind_paths.push(sysroot.to_path_buf());
        self.env
            .push(("ZIG_LIBC".into(), paths.display().to_string()));
        Ok(self)
    }
}

/// zig's libc paths file (`ZIG_LIBC`) for a sysroot. The field for the directory holding
/// `crtbegin.o`/`crtend.o` is `gcc_dir` up to zig 0.15 and `cc_dir` after it; newer zigs read
/// `gcc_dir` as the old name of `cc_dir`, older ones ignore `cc_dir`, so both are written with
/// the same value (checked with zig 0.15.1 and 0.17.1: each links with this file and fails
/// without its own field).
fn libc_paths_file(include: &Path, own: &Path, lib: &Path) -> String {
    format!(
        "include_dir={inc}\nsys_include_dir={inc}\ncc_dir={own}\ncrt_dir={lib}\n\
         msvc_lib_dir=\nkernel32_lib_dir=\ndarwin_sdk_dir=\ngcc_dir={own}\n",
        inc = include.display(),
        own = own.display(),
        lib = lib.display(),
    )
}

/// No C compiler for a (GOARCH, libc); `hint` names what to install.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no C compiler for cgo on linux/{goarch} ({libc}): {hint}")]
pub struct NoCCompiler {
    pub goarch: String,
    pub libc: Libc,
    pub hint: String,
}

/// The glibc version zig's libc for this GOARCH starts at, when newer than [`DEFAULT_GLIBC`].
fn min_glibc(goarch: &str) -> Option<&'static str> {
    match goarch {
        "loong64" => Some("2.36"),
        _ => None,
    }
}

fn newer_glibc<'a>(a: &'a str, b: &'a str) -> &'a str {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    if parse(a) >= parse(b) { a } else { b }
}

/// zig's `-target` for GOARCH and libc; for glibc with the symbol version (`…-gnu.2.31`, raised
/// to the first glibc the architecture has). `None` when there is no such mapping.
pub fn zig_target(goarch: &str, libc: Libc, glibc: &str) -> Option<String> {
    let (arch, gnu_abi, musl_abi) = match goarch {
        "amd64" => ("x86_64", "gnu", Some("musl")),
        "arm64" => ("aarch64", "gnu", Some("musl")),
        "386" => ("x86", "gnu", Some("musl")),
        "arm" => ("arm", "gnueabihf", Some("musleabihf")),
        "riscv64" => ("riscv64", "gnu", Some("musl")),
        "ppc64le" => ("powerpc64le", "gnu", Some("musl")),
        "s390x" => ("s390x", "gnu", Some("musl")),
        "mips64le" => ("mips64el", "gnuabi64", Some("muslabi64")),
        "mips64" => ("mips64", "gnuabi64", Some("muslabi64")),
        "mipsle" => ("mipsel", "gnueabihf", Some("musleabihf")),
        "mips" => ("mips", "gnueabihf", Some("musleabihf")),
        "loong64" => ("loongarch64", "gnu", Some("musl")),
        "ppc64" => ("powerpc64", "gnu", None),
        _ => return None,
    };
    match libc {
        Libc::Gnu => {
            let v = match min_glibc(goarch) {
                Some(min) => newer_glibc(glibc, min),
                None => glibc,
            };
            Some(format!("{arch}-linux-{gnu_abi}.{v}"))
        }
        Libc::Musl => musl_abi.map(|abi| format!("{arch}-linux-{abi}")),
    }
}

/// The Debian/GNU triple whose `<triple>-gcc` cross-compiles for GOARCH with glibc.
pub fn debian_triple(goarch: &str) -> Option<&'static str> {
    Some(match goarch {
        "amd64" => "x86_64-linux-gnu",
        "arm64" => "aarch64-linux-gnu",
        "386" => "i686-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "ppc64le" => "powerpc64le-linux-gnu",
        "ppc64" => "powerpc64-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "mips64le" => "mips64el-linux-gnuabi64",
        "mips64" => "mips64-linux-gnuabi64",
        "mipsle" => "mipsel-linux-gnu",
        "mips" => "mips-linux-gnu",
        "loong64" => "loongarch64-linux-gnu",
        _ => return None,
    })
}

/// The Debian package with `<triple>-gcc` (`gcc-x86-64-linux-gnu`, `gcc-aarch64-linux-gnu`…).
fn debian_gcc_package(triple: &str) -> String {
    format!("gcc-{}", triple.replace('_', "-"))
}

/// Where zig is: `zig` on PATH, else the PyPI `ziglang` module's directory.
pub fn find_zig() -> Option<PathBuf> {
    if let Ok(p) = which::which("zig") {
        return Some(p);
    }
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import ziglang,os;print(os.path.dirname(ziglang.__file__))",
    ]);
    let out = command::run_checked(&mut cmd, ZIG_PROBE_TIMEOUT).ok()?;
    let dir = PathBuf::from(out.stdout_str().trim());
    let zig = dir.join("zig");
    zig.is_file().then_some(zig)
}

/// zig as the build sandbox sees it: its real executable, its install dir, and the libc
/// targets it ships (`None` when `zig targets` could not be read: then every mapped target is
/// tried).
#[derive(Debug)]
struct Zig {
    exe: PathBuf,
    dir: PathBuf,
    libcs: Option<HashSet<String>>,
}

fn zig() -> Option<&'static Zig> {
    static ZIG: OnceLock<Option<Zig>> = OnceLock::new();
    ZIG.get_or_init(|| {
        let exe = std::fs::canonicalize(find_zig()?).ok()?;
        let dir = exe.parent()?.to_path_buf();
        // Only the libc list is kept: `zig targets` prints ~100 KB and takes ~0.1 s.
        let listed = crate::facts::remembered(&exe, &["targets", "(libc list)"], &[], || {
            let mut cmd = Command::new(&exe);
            cmd.arg("targets");
            let out = command::run_checked(&mut cmd, ZIG_PROBE_TIMEOUT).ok()?;
            let mut libcs: Vec<String> = parse_zig_libcs(&out.stdout_str())?.into_iter().collect();
            libcs.sort();
            Some(libcs.join("\n"))
        });
        let libcs = listed.map(|l| l.lines().map(str::to_string).collect());
        Some(Zig { exe, dir, libcs })
    })
    .as_ref()
}

/// The `.libc = .{ "aarch64-linux-gnu", … }` list of `zig targets` (ZON in zig ≥ 0.14, JSON
/// before: both quote each entry inside the `libc` block).
fn parse_zig_libcs(text: &str) -> Option<HashSet<String>> {
    let start = text
        .find(".libc = .{")
        .or_else(|| text.find("\"libc\": ["))?;
    let rest = &text[start..];
    let open = rest.find(['{', '['])? + 1;
    let close = rest[open..].find(['}', ']'])? + open;
    let set: HashSet<String> = rest[open..close]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (!set.is_empty()).then_some(set)
}

fn zig_supports(zig: &Zig, target: &str) -> bool {
    let Some(libcs) = &zig.libcs else {
        return true;
    };
    // `aarch64-linux-gnu.2.31` is listed as `aarch64-linux-gnu`.
    let base = match target.split_once("-gnu") {
        Some((head, tail)) => {
            let abi_end = tail.find('.').unwrap_or(tail.len());
            format!("{head}-gnu{}", &tail[..abi_end])
        }
        None => target.to_string(),
    };
    libcs.contains(&base)
}

fn zig_compiler(zig: &Zig, target: &str) -> CCompiler {
    let exe = zig.exe.display();
    CCompiler {
        kind: CcKind::Zig,
        cc: format!("{exe} cc -target {target}"),
        cxx: format!("{exe} c++ -target {target}"),
        why: format!("zig cc -target {target}"),
        bind_paths: vec![zig.dir.clone()],
        needs_zig_cache: true,
        env: vec![],
    }
}

fn which_str(name: &str) -> Option<String> {
    which::which(name).ok().map(|p| p.display().to_string())
}

/// The C compiler for cgo on linux/GOARCH with `libc`, or what to install.
pub fn pick_c_compiler(goarch: &str, libc: Libc) -> Result<CCompiler, NoCCompiler> {
    pick_with(goarch, libc, zig(), host_goarch(), &which_str)
}

/// [`pick_c_compiler`] with the host lookups passed in, so tests can fake them.
fn pick_with(
    goarch: &str,
    libc: Libc,
    zig: Option<&Zig>,
    host: &str,
    which: &dyn Fn(&str) -> Option<String>,
) -> Result<CCompiler, NoCCompiler> {
    let target = zig_target(goarch, libc, DEFAULT_GLIBC);
    if let (Some(zig), Some(target)) = (zig, target.as_deref()) {
        if zig_supports(zig, target) {
            return Ok(zig_compiler(zig, target));
        }
    }
    let native = goarch == host;
    match libc {
        Libc::Gnu => {
            let cross = debian_triple(goarch)
                .and_then(|triple| Some((triple, which(&format!("{triple}-gcc"))?)));
            if let Some((triple, cc)) = cross {
                let cxx =
                    which(&format!("{triple}-g++")).unwrap_or_else(|| format!("{triple}-g++"));
                return Ok(CCompiler {
                    kind: CcKind::DebianCross,
                    cc,
                    cxx,
                    why: format!("Debian cross compiler {triple}-gcc"),
                    bind_paths: vec![],
                    needs_zig_cache: false,
                    env: vec![],
                });
            }
            if let Some(cc) = which("gcc").filter(|_| native) {
                let cxx = which("g++").unwrap_or_else(|| "g++".into());
                return Ok(CCompiler {
                    kind: CcKind::HostGcc,
                    cc,
                    cxx,
                    why: "host gcc (native target)".into(),
                    bind_paths: vec![],
                    needs_zig_cache: false,
                    env: vec![],
                });
            }
        }
        Libc::Musl => {
            if let Some(cc) = which("musl-gcc").filter(|_| native) {
                return Ok(CCompiler {
                    kind: CcKind::MuslGcc,
                    cxx: cc.clone(),
                    cc,
                    why: "musl-gcc wrapper (host arch, C only: no C++)".into(),
                    bind_paths: vec![],
                    needs_zig_cache: false,
                    env: vec![],
                });
            }
        }
    }
    Err(NoCCompiler {
        goarch: goarch.to_string(),
        libc,
        hint: no_compiler_hint(goarch, libc, zig.is_some(), target.is_some(), native),
    })
}

fn no_compiler_hint(
    goarch: &str,
    libc: Libc,
    have_zig: bool,
    zig_maps: bool,
    native: bool,
) -> String {
    let mut ways = Vec::new();
    if !have_zig && zig_maps {
        ways.push("pip install ziglang (zig cc covers every target)".to_string());
    }
    match libc {
        Libc::Gnu => {
            if let Some(triple) = debian_triple(goarch) {
                ways.push(format!("apt-get install {}", debian_gcc_package(triple)));
            }
        }
        Libc::Musl if native => ways.push("apt-get install musl-tools".into()),
        Libc::Musl => {}
    }
    if ways.is_empty() {
        if have_zig && zig_maps {
            format!(
                "this zig ships no {libc} libc for linux/{goarch}; try a newer zig (pip install -U ziglang)"
            )
        } else {
            format!(
                "no known C toolchain builds {libc} binaries for linux/{goarch}; use cgo=0 for this target"
            )
        }
    } else {
        ways.join(", or ")
    }
}

impl CCompiler {
    /// The compiler's first word (the program Go will exec).
    pub fn program(&self) -> &Path {
        Path::new(self.cc.split_whitespace().next().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_matrix::LINUX_ARCHES;

    fn fake_zig(libcs: Option<&[&str]>) -> Zig {
        Zig {
            exe: PathBuf::from("/opt/zig/zig"),
            dir: PathBuf::from("/opt/zig"),
            libcs: libcs.map(|l| l.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn zig_targets_per_arch() {
        let cases = [
            ("amd64", "x86_64-linux-gnu.2.31", Some("x86_64-linux-musl")),
            (
                "arm64",
                "aarch64-linux-gnu.2.31",
                Some("aarch64-linux-musl"),
            ),
            ("386", "x86-linux-gnu.2.31", Some("x86-linux-musl")),
            (
                "arm",
                "arm-linux-gnueabihf.2.31",
                Some("arm-linux-musleabihf"),
            ),
            (
                "riscv64",
                "riscv64-linux-gnu.2.31",
                Some("riscv64-linux-musl"),
            ),
            (
                "ppc64le",
                "powerpc64le-linux-gnu.2.31",
                Some("powerpc64le-linux-musl"),
            ),
            ("s390x", "s390x-linux-gnu.2.31", Some("s390x-linux-musl")),
            (
                "mips64le",
                "mips64el-linux-gnuabi64.2.31",
                Some("mips64el-linux-muslabi64"),
            ),
            (
                "mips64",
                "mips64-linux-gnuabi64.2.31",
                Some("mips64-linux-muslabi64"),
            ),
            (
                "mipsle",
                "mipsel-linux-gnueabihf.2.31",
                Some("mipsel-linux-musleabihf"),
            ),
            (
                "mips",
                "mips-linux-gnueabihf.2.31",
                Some("mips-linux-musleabihf"),
            ),
            (
                "loong64",
                "loongarch64-linux-gnu.2.36",
                Some("loongarch64-linux-musl"),
            ),
            ("ppc64", "powerpc64-linux-gnu.2.31", None),
        ];
        for (goarch, gnu, musl) in cases {
            assert_eq!(
                zig_target(goarch, Libc::Gnu, DEFAULT_GLIBC).as_deref(),
                Some(gnu),
                "{goarch}"
            );
            assert_eq!(
                zig_target(goarch, Libc::Musl, DEFAULT_GLIBC).as_deref(),
                musl,
                "{goarch}"
            );
        }
        assert_eq!(zig_target("wasm", Libc::Gnu, DEFAULT_GLIBC), None);
        assert_eq!(
            zig_target("arm64", Libc::Gnu, "2.28").as_deref(),
            Some("aarch64-linux-gnu.2.28")
        );
        assert_eq!(
            zig_target("loong64", Libc::Gnu, "2.38").as_deref(),
            Some("loongarch64-linux-gnu.2.38")
        );
        for a in LINUX_ARCHES {
            assert!(zig_target(a, Libc::Gnu, DEFAULT_GLIBC).is_some(), "{a}");
            assert!(debian_triple(a).is_some(), "{a}");
        }
    }

    #[test]
    fn debian_packages() {
        assert_eq!(
            debian_gcc_package("x86_64-linux-gnu"),
            "gcc-x86-64-linux-gnu"
        );
        assert_eq!(
            debian_gcc_package("aarch64-linux-gnu"),
            "gcc-aarch64-linux-gnu"
        );
    }

    #[test]
    fn parses_zon_and_json_target_lists() {
        let zon = ".{\n    .arch = .{ \"x\" },\n    .libc = .{\n        \"aarch64-linux-gnu\",\n        \"aarch64-linux-musl\",\n    },\n    .glibc = .{ \"2.0.0\" },\n}";
        let set = parse_zig_libcs(zon).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains("aarch64-linux-musl"));
        let json = "{\"arch\": [\"x\"], \"libc\": [\"x86_64-linux-gnu\", \"x86_64-linux-musl\"], \"glibc\": []}";
        assert!(parse_zig_libcs(json).unwrap().contains("x86_64-linux-gnu"));
        assert_eq!(parse_zig_libcs("nothing"), None);
    }

    #[test]
    fn zig_support_strips_glibc_version() {
        let z = fake_zig(Some(&[
            "aarch64-linux-gnu",
            "mips64el-linux-gnuabi64",
            "x86-linux-musl",
        ]));
        assert!(zig_supports(&z, "aarch64-linux-gnu.2.31"));
        assert!(zig_supports(&z, "mips64el-linux-gnuabi64.2.31"));
        assert!(zig_supports(&z, "x86-linux-musl"));
        assert!(!zig_supports(&z, "powerpc64-linux-gnu.2.31"));
        assert!(zig_supports(&fake_zig(None), "anything"));
    }

    #[test]
    fn zig_first_and_cc_cxx_agree() {
        let z = fake_zig(Some(&["aarch64-linux-musl"]));
        let none = |_: &str| None;
        let cc = pick_with("arm64", Libc::Musl, Some(&z), "amd64", &none).unwrap();
        assert_eq!(cc.kind, CcKind::Zig);
        assert_eq!(cc.cc, "/opt/zig/zig cc -target aarch64-linux-musl");
        assert_eq!(cc.cxx, "/opt/zig/zig c++ -target aarch64-linux-musl");
        assert_eq!(cc.bind_paths, [PathBuf::from("/opt/zig")]);
        assert!(cc.needs_zig_cache);
        assert_eq!(cc.program(), Path::new("/opt/zig/zig"));
    }

    #[test]
    fn falls_back_to_debian_cross_then_host() {
        let z = fake_zig(Some(&["aarch64-linux-musl"]));
        let have = |n: &str| {
            [
                "aarch64-linux-gnu-gcc",
                "aarch64-linux-gnu-g++",
                "gcc",
                "g++",
                "musl-gcc",
            ]
            .contains(&n)
            .then(|| format!("/usr/bin/{n}"))
        };
        let cc = pick_with("arm64", Libc::Gnu, Some(&z), "amd64", &have).unwrap();
        assert_eq!(cc.kind, CcKind::DebianCross);
        assert_eq!(cc.cc, "/usr/bin/aarch64-linux-gnu-gcc");
        assert_eq!(cc.cxx, "/usr/bin/aarch64-linux-gnu-g++");
        assert!(!cc.needs_zig_cache);

        let cc = pick_with("amd64", Libc::Gnu, None, "amd64", &have).unwrap();
        assert_eq!(
            (cc.kind, cc.cc.as_str(), cc.cxx.as_str()),
            (CcKind::HostGcc, "/usr/bin/gcc", "/usr/bin/g++")
        );

        let cc = pick_with("amd64", Libc::Musl, None, "amd64", &have).unwrap();
        assert_eq!(cc.kind, CcKind::MuslGcc);
        assert_eq!(cc.cc, cc.cxx);

        // musl-gcc only builds for the host arch.
        let err = pick_with("riscv64", Libc::Musl, None, "amd64", &have).unwrap_err();
        assert!(err.hint.contains("pip install ziglang"), "{}", err.hint);
    }

    #[test]
    fn hints_name_packages() {
        let none = |_: &str| None;
        let err = pick_with("arm64", Libc::Gnu, None, "amd64", &none).unwrap_err();
        assert!(err.hint.contains("pip install ziglang"), "{}", err.hint);
        assert!(
            err.hint.contains("apt-get install gcc-aarch64-linux-gnu"),
            "{}",
            err.hint
        );
        let err = pick_with("amd64", Libc::Musl, None, "amd64", &none).unwrap_err();
        assert!(err.hint.contains("musl-tools"), "{}", err.hint);
        let z = fake_zig(Some(&["x86_64-linux-gnu"]));
        let err = pick_with("ppc64", Libc::Musl, Some(&z), "amd64", &none).unwrap_err();
        assert!(err.hint.contains("cgo=0"), "{}", err.hint);
        assert!(err.to_string().contains("linux/ppc64 (musl)"), "{err}");
    }

    #[test]
    fn libc_paths_file_names_the_crt_dir_for_old_and_new_zig() {
        let t = libc_paths_file(
            Path::new("/s/inc"),
            Path::new("/s/own"),
            Path::new("/s/lib"),
        );
        let fields: std::collections::HashMap<&str, &str> =
            t.lines().filter_map(|l| l.split_once('=')).collect();
        assert_eq!(fields["cc_dir"], "/s/own");
        assert_eq!(fields["gcc_dir"], "/s/own");
        assert_eq!(fields["crt_dir"], "/s/lib");
        assert_eq!(fields["include_dir"], "/s/inc");
        assert_eq!(fields["sys_include_dir"], "/s/inc");
    }

    #[test]
    fn musl_sysroot_needs_libc_and_headers_and_leaves_others_alone() {
        let zig = fake_zig(None);
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("zig-cache");
        // Not zig: unchanged.
        let gcc = pick_with("amd64", Libc::Musl, None, "amd64", &|n| {
            (n == "musl-gcc").then(|| "/usr/bin/musl-gcc".to_string())
        })
        .unwrap();
        let same = gcc
            .clone()
            .with_musl_sysroot(d.path(), "usr/lib/x86_64-linux-musl/libc.a", &cache)
            .unwrap();
        assert_eq!(same, gcc);
        // zig for glibc: unchanged.
        let gnu = zig_compiler(&zig, "aarch64-linux-gnu.2.31");
        let same = gnu
            .clone()
            .with_musl_sysroot(d.path(), "usr/lib/aarch64-linux-musl/libc.a", &cache)
            .unwrap();
        assert_eq!(same, gnu);
        // zig for musl, but the sysroot lacks libc.a, then headers: an error naming the path.
        let musl = zig_compiler(&zig, "aarch64-linux-musl");
        let e = musl
            .clone()
            .with_musl_sysroot(d.path(), "usr/lib/aarch64-linux-musl/libc.a", &cache)
            .unwrap_err();
        assert!(e.contains("usr/lib/aarch64-linux-musl/libc.a"), "{e}");
        std::fs::create_dir_all(d.path().join("usr/lib/aarch64-linux-musl")).unwrap();
        std::fs::write(
            d.path().join("usr/lib/aarch64-linux-musl/libc.a"),
            "!<arch>\n",
        )
        .unwrap();
        let e = musl
            .with_musl_sysroot(d.path(), "usr/lib/aarch64-linux-musl/libc.a", &cache)
            .unwrap_err();
        assert!(e.contains("usr/include/aarch64-linux-musl"), "{e}");
    }
}
