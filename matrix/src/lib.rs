//! The matrix: what crossmatrix builds and runs. Owns the axis types (toolchain, target, cgo,
//! libc, rootfs, program), the `Cell` with its stable id, expansion of axes into a `Plan`,
//! filtering and sharding. Nothing here touches the host: callers pass in what they discovered.

mod cause;
mod cell;
mod defaults;
mod expand;
mod target;

pub use cause::Cause;
pub use cell::{Cell, CellId, Expectation, Program, ProgramSource, RootfsSpec, Skip, Toolchain};
pub use defaults::{DEFAULT_CGO_ARCHES, default_matrix};
pub use expand::{Axes, CgoMode, Filter, FilterError, Plan, Shard, ShardError};
pub use target::{LINUX_ARCHES, Libc, Target, TargetError};
