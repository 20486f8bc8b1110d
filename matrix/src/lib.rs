//! The matrix: what crossmatrix builds and runs. Owns the axis types (toolchain, target, cgo,
//! libc, rootfs, program), the `Cell` with its stable id, expansion of axes into a `Plan`,
//! filtering and sharding. Nothing here touches the host: callers pass in what they discovered.

mod cause;
mod cell;
mod config;
mod defaults;
mod emulator;
mod expand;
mod go_version;
mod shard;
mod target;

pub use cause::Cause;
pub use cell::{
    Cell, CellId, CellSettings, Expectation, ExpectedFailure, GoPackage, ModuleRef, OutputStream,
    Program, ProgramSource, RootfsSpec, Skip, TestSpec, Toolchain, parse_byte_size,
};
pub use config::{
    AxisMatch, BuildSettings, CONFIG_FILE_NAME, Config, ConfigError, ConfigErrorDetail,
    ConfiguredProgram, ConfiguredTarget, ExpectFailRule, IncludeRule, Location, RunSettings,
    ToolchainSpec, ToolchainSpecKind, closest, is_package_pattern, load_config, parse_config,
    pattern_source, programs_from_paths,
};
pub use defaults::{DEFAULT_CGO_ARCHES, default_matrix};
pub use emulator::{Emulator, EmulatorBinary, EmulatorSpec, runs_emulated};
pub use expand::{Axes, CgoMode, Filter, FilterError, Plan, Shard, ShardError};
pub use go_version::{ParsedVersion, compare_go_versions, parse_go_version};
pub use shard::{GITHUB_MAX_JOBS, github_matrix, shard_assignment};
pub use target::{
    LINUX_ARCHES, Libc, OTHER_PORTS, Target, TargetError, VARIANT_KNOBS, VariantKnob, go_minor,
    goarch_for_machine, is_known_port, known_ports,
};
