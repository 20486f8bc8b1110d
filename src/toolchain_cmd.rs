//! `crossmatrix toolchain list|install`: shows the Go toolchains found, installs official ones
//! into the cache (progress bar on a terminal, plain lines otherwise).

use crate::cli::{ToolchainArgs, ToolchainCommand, ToolchainInstallArgs, ToolchainListArgs};
use anyhow::{Result, bail};
use crossmatrix_toolchains::go::discover_go;
use crossmatrix_toolchains::install::{
    DownloadSource, InstallProgress, Installer, VersionRequest, default_toolchains_dir,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;

pub fn toolchain(a: ToolchainArgs) -> Result<ExitCode> {
    match a.command {
        ToolchainCommand::List(a) => list(a),
        ToolchainCommand::Install(a) => install(a),
    }
}

fn list(a: ToolchainListArgs) -> Result<ExitCode> {
    let found = discover_go();
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&found)?),
        "table" => {
            if found.is_empty() {
                println!(
                    "no Go toolchain found (looked at PATH, /usr/lib/go-1.*, $GOROOT and {})",
                    default_toolchains_dir().display()
                );
                println!("install one with: crossmatrix toolchain install latest");
            }
            let w = found.iter().map(|t| t.version.len()).max().unwrap_or(0);
            for t in &found {
                let source = serde_json::to_value(t.source)?;
                println!(
                    "{:<w$}  {:<10}  {:>3} ports  {}",
                    t.version,
                    source.as_str().unwrap_or("?"),
                    t.ports.len(),
                    t.goroot.display()
                );
            }
        }
        other => bail!("--format {other}: expected table or json"),
    }
    Ok(ExitCode::SUCCESS)
}

fn install(a: ToolchainInstallArgs) -> Result<ExitCode> {
    let mut requests = Vec::new();
    for v in &a.versions {
        match v.parse::<VersionRequest>() {
            Ok(r) => requests.push(r),
            Err(e) => bail!("{e}"),
        }
    }
    let source = DownloadSource::from_flag_or_env(a.mirror.as_deref())?;
    let dir = default_toolchains_dir();
    let installer = Installer::new(&dir, source);
    let progress = Progress::new(a.no_progress);
    let mut failed = 0;
    for r in &requests {
        match installer.install(r, &progress) {
            Ok(done) => {
                progress.finish();
                let what = if done.newly_installed {
                    "installed"
                } else {
                    "already installed:"
                };
                println!("{what} {} at {}", done.version, done.goroot.display());
            }
            Err(e) if e.is_usage() => bail!("{e}"),
            Err(e) => {
                progress.finish();
                failed += 1;
                eprintln!("error: installing {r}: {e}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A byte progress bar on a terminal, one line per step otherwise.
struct Progress {
    bar: Option<Mutex<Option<ProgressBar>>>,
}

impl Progress {
    fn new(no_progress: bool) -> Self {
        let tty = !no_progress && std::io::stderr().is_terminal();
        Progress {
            bar: tty.then(|| Mutex::new(None)),
        }
    }

    fn finish(&self) {
        if let Some(slot) = &self.bar {
            if let Some(b) = slot.lock().ok().and_then(|mut s| s.take()) {
                b.finish_and_clear();
            }
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(b) = self
            .bar
            .as_ref()
            .and_then(|slot| slot.lock().ok())
            .and_then(|s| s.clone())
        {
            f(&b);
        }
    }
}

impl InstallProgress for Progress {
    fn resolved(&self, request: &VersionRequest, version: &str) {
        if request.to_string() != version {
            eprintln!("{request} is {version}");
        }
    }

    fn waiting_for_lock(&self, version: &str, lock: &Path) {
        eprintln!(
            "another crossmatrix is installing {version}: waiting for it ({})",
            lock.display()
        );
    }

    fn download_started(&self, url: &str, size: Option<u64>) {
        match &self.bar {
            Some(slot) => {
                let bar = ProgressBar::new(size.unwrap_or(0));
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
                if let Ok(mut s) = slot.lock() {
                    *s = Some(bar);
                }
            }
            None => match size {
                Some(n) => eprintln!("downloading {url} ({:.1} MiB)", n as f64 / 1048576.0),
                None => eprintln!("downloading {url}"),
            },
        }
    }

    fn downloaded(&self, bytes: u64) {
        self.with_bar(|b| b.set_position(bytes));
    }

    fn verified(&self, _url: &str, sha256: &str) {
        self.finish();
        eprintln!("sha256 {sha256} matches the index");
    }

    fn unpacking(&self, version: &str) {
        eprintln!("unpacking {version}");
    }
}
