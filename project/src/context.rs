//! One build's view of Go source: which toolchain, GOOS/GOARCH (and sub-arch knob), cgo and
//! `-tags` — and the tags that makes true, as the go command itself reports them (release tags
//! `go1.1`…`go1.N`, tool tags such as `goexperiment.swissmap` and `arm64.v8.0`), remembered per
//! toolchain and target in the facts cache.

use crate::constraint::{TagSet, UNIX_OS};
use crossmatrix_sandbox::host as command;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const GO_LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a build of Go source depends on besides the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuildContext {
    pub goroot: PathBuf,
    /// `go1.24.4`.
    pub go_version: String,
    pub goos: String,
    pub goarch: String,
    /// A sub-architecture knob such as `("GOARM", "7")`.
    pub variant: Option<(String, String)>,
    pub cgo: bool,
    /// `-tags`.
    pub tags: Vec<String>,
}

impl BuildContext {
    pub fn go(&self) -> PathBuf {
        self.goroot.join("bin/go")
    }

    /// The environment a go command needs to see this context (GOOS, GOARCH, the knob,
    /// CGO_ENABLED), on top of a clean one.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("GOOS".to_string(), self.goos.clone()),
            ("GOARCH".to_string(), self.goarch.clone()),
            (
                "CGO_ENABLED".to_string(),
                if self.cgo { "1" } else { "0" }.to_string(),
            ),
        ];
        if let Some((k, v)) = &self.variant {
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// The tags this context satisfies; asks the toolchain once per target and remembers it.
    pub fn tags(&self) -> Result<Tags, ContextError> {
        let variant = self
            .variant
            .as_ref()
            .map(|(k, v)| format!("{k}={v}"))
            .unwrap_or_default();
        let go = self.go();
        let version_file = self.goroot.join("VERSION");
        let depends: Vec<&Path> = [version_file.as_path()]
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        let mut failure = None;
        let answer = crossmatrix_toolchains::facts::remembered(
            &go,
            &["context tags", &self.goos, &self.goarch, &variant],
            &depends,
            || match self.ask_tags() {
                Ok(text) => Some(text),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            },
        );
        let text = match (answer, failure) {
            (Some(t), _) => t,
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(ContextError::NoAnswer { go }),
        };
        let (tool, release) = text.trim().split_once('|').unwrap_or((text.trim(), ""));
        Ok(Tags {
            goos: self.goos.clone(),
            goarch: self.goarch.clone(),
            cgo: self.cgo,
            user: self.tags.clone(),
            tool: tool.split_whitespace().map(str::to_string).collect(),
            release: release.split_whitespace().map(str::to_string).collect(),
        })
    }

    fn ask_tags(&self) -> Result<String, ContextError> {
        let go = self.go();
        let mut cmd = Command::new(&go);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("GOROOT", &self.goroot)
            .env("GOTOOLCHAIN", "local")
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env("GOPATH", std::env::temp_dir().join("crossmatrix-gopath"))
            .env(
                "GOCACHE",
                std::env::temp_dir().join("crossmatrix-gocache-list"),
            )
            .envs(self.env())
            .current_dir(&self.goroot)
            .args([
                "list",
                "-find",
                "-e",
                "-f",
                "{{join context.ToolTags \" \"}}|{{join context.ReleaseTags \" \"}}",
                "unsafe",
            ]);
        let out =
            command::run_checked(&mut cmd, GO_LIST_TIMEOUT).map_err(|source| ContextError::Go {
                go: go.clone(),
                source,
            })?;
        Ok(out.stdout_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{}: cannot list its build context: {source}", go.display())]
    Go {
        go: PathBuf,
        source: command::CommandError,
    },
    #[error("{}: printed no build context", go.display())]
    NoAnswer { go: PathBuf },
}

/// The tags of one build context (see `go/build`'s `matchTag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    goos: String,
    goarch: String,
    cgo: bool,
    user: Vec<String>,
    tool: Vec<String>,
    release: Vec<String>,
}

impl TagSet for Tags {
    fn goos(&self) -> &str {
        &self.goos
    }
    fn goarch(&self) -> &str {
        &self.goarch
    }
    fn cgo(&self) -> bool {
        self.cgo
    }
    fn matches(&self, tag: &str) -> bool {
        let tag = if tag == "boringcrypto" {
            "goexperiment.boringcrypto"
        } else {
            tag
        };
        (self.cgo && tag == "cgo")
            || tag == self.goos
            || tag == self.goarch
            || tag == "gc"
            || (self.goos == "android" && tag == "linux")
            || (self.goos == "illumos" && tag == "solaris")
            || (self.goos == "ios" && tag == "darwin")
            || (tag == "unix" && UNIX_OS.contains(&self.goos.as_str()))
            || self.user.iter().any(|t| t == tag)
            || self.tool.iter().any(|t| t == tag)
            || self.release.iter().any(|t| t == tag)
    }
}
