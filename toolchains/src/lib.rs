//! crossmatrix's view of the host: Go toolchains, C compilers for cgo, target root
//! filesystems (assembled, or unpacked from container images), and the executors (native,
//! binfmt_misc qemu, qemu-user, wasmtime) that run foreign binaries. Every probe of the host
//! lives here; every external command has a timeout.

pub mod binfmt;
pub mod cc;
pub mod counter;
pub mod cpu_model;
pub mod doctor;
pub mod emulator;
pub mod executor;
pub mod facts;
pub mod go;
pub mod host_root;
pub mod image;
pub mod install;
mod lock;
pub mod paths;
pub mod rootfs;
pub mod support;
pub mod version;

pub use binfmt::{BinfmtEntry, BinfmtStatus, read_binfmt};
pub use cc::{CCompiler, CcKind, NoCCompiler, find_zig, pick_c_compiler};
pub use executor::{ExecutorChoice, ExecutorKind, ExecutorPreference, Host, Qemu, find_qemu};
pub use go::{
    GoSource, GoToolchain, SelectError, discover_go, discover_go_in, go_toolchain_at,
    select_toolchains,
};
pub use image::{
    DEFAULT_MAX_UNPACKED_BYTES, Image, ImageError, ImagePlatform, ImageSourceKind, ImageStore,
};
pub use install::{DownloadSource, InstallError, InstallProgress, Installed, Installer};
pub use paths::{default_cache_dir, default_toolchains_dir, host_goarch};
pub use rootfs::{RootfsError, RootfsFlavor, RootfsStore};
pub use version::VersionRequest;
