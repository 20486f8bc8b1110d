//! Looks at a built binary without running it: size, sha256, format, ELF linkage (interpreter,
//! `DT_NEEDED`), machine, and the Go version embedded in Go's build info.
//!
//! The build-info reader mirrors Go's `debug/buildinfo` so `go_version` matches `go version FILE`.
//! Go's wasm linker writes no build info (Go ≤1.24), so for wasm the version comes from the
//! module's `producers` section, which Go fills with the same version ([`wasm`]); the build
//! info reader is [`buildinfo`].

pub mod buildinfo;
pub mod wasm;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crossmatrix_results::{BinaryRecord, Linkage};
use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _, SectionHeader as _};
use object::{Endianness, Object as _};
use sha2::{Digest, Sha256};

/// How many leading bytes of the file `BinaryInfo::elf_header` keeps (binfmt_misc matches on
/// at most 128 bytes).
pub const HEADER_BYTES: usize = 128;

/// What a binary is, as far as we can tell without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryInfo {
    pub size_bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
    pub format: BinaryFormat,
    pub linkage: Linkage,
    /// `PT_INTERP`, e.g. `/lib/ld-linux-aarch64.so.1`.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries in file order, e.g. `libc.so.6`.
    pub needed: Vec<String>,
    /// Named like qemu-user's binaries: `x86_64`, `i386`, `aarch64`, `arm`, `riscv64`, `mips`,
    /// `mipsel`, `mips64`, `mips64el`, `ppc64`, `ppc64le`, `s390x`, `loongarch64`, `wasm32`.
    pub machine: Option<String>,
    /// The Go version in the binary's build info, as `go version FILE` prints it (`go1.24.4`).
    pub go_version: Option<String>,
    /// The first `HEADER_BYTES` bytes of the file (fewer if it is shorter), for binfmt matching.
    pub elf_header: Vec<u8>,
}

/// The container format of a binary, told by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryFormat {
    Elf,
    Wasm,
    MachO,
    Pe,
    Unknown,
}

impl BinaryFormat {
    /// The code stored in `BinaryRecord::format`; `None` for `Unknown`.
    pub fn code(self) -> Option<&'static str> {
        match self {
            BinaryFormat::Elf => Some("elf"),
            BinaryFormat::Wasm => Some("wasm"),
            BinaryFormat::MachO => Some("macho"),
            BinaryFormat::Pe => Some("pe"),
            BinaryFormat::Unknown => None,
        }
    }

    /// Tells the format from the first bytes of a file.
    pub fn sniff(head: &[u8]) -> BinaryFormat {
        match head {
            [0x7f, b'E', b'L', b'F', ..] => BinaryFormat::Elf,
            [0x00, b'a', b's', b'm', ..] => BinaryFormat::Wasm,
            [0xfe, 0xed, 0xfa, 0xce | 0xcf, ..]
            | [0xce | 0xcf, 0xfa, 0xed, 0xfe, ..]
            | [0xca, 0xfe, 0xba, 0xbe, ..] => BinaryFormat::MachO,
            [b'M', b'Z', ..] => BinaryFormat::Pe,
            _ => BinaryFormat::Unknown,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read binary {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} looks like an ELF file but is malformed: {message}")]
    MalformedElf { path: PathBuf, message: String },
}

/// Reads `path` once (hashing as it reads) and describes it. Non-ELF files are not errors:
/// they get `Linkage::NotElf` and whatever else their format tells.
pub fn inspect_binary(path: &Path) -> Result<BinaryInfo, InspectError> {
    let io_err = |source| InspectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (data, sha256) = read_hashing(path).map_err(io_err)?;
    let format = BinaryFormat::sniff(&data);
    let mut info = BinaryInfo {
        size_bytes: data.len() as u64,
        sha256,
        format,
        linkage: Linkage::NotElf,
        interpreter: None,
        needed: Vec::new(),
        machine: None,
        go_version: None,
        elf_header: data[..data.len().min(HEADER_BYTES)].to_vec(),
    };
    match format {
        BinaryFormat::Elf => {
            let elf = inspect_elf(&data).map_err(|e| InspectError::MalformedElf {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            info.linkage = elf.linkage;
            info.interpreter = elf.interpreter;
            info.needed = elf.needed;
            info.machine = Some(elf.machine);
            info.go_version = elf.go.map(|g| g.version);
        }
        BinaryFormat::Wasm => {
            info.machine = Some("wasm32".to_owned());
            info.go_version = wasm::wasm_go_version(&data);
        }
        BinaryFormat::MachO | BinaryFormat::Pe => {
            info.machine = object::File::parse(&*data)
                .ok()
                .and_then(|f| architecture_name(f.architecture()));
            info.go_version =
                buildinfo::scan_go_buildinfo(&data, &buildinfo::no_addresses).map(|g| g.version);
        }
        BinaryFormat::Unknown => {}
    }
    Ok(info)
}

impl BinaryInfo {
    /// The `binary` part of a cell record; `path` is stored as given.
    pub fn to_record(&self, path: &Path) -> BinaryRecord {
        BinaryRecord {
            path: path.display().to_string(),
            size_bytes: self.size_bytes,
            sha256: self.sha256.clone(),
            linkage: self.linkage,
            interpreter: self.interpreter.clone(),
            needed: self.needed.clone(),
            go_version: self.go_version.clone(),
            format: self.format.code().map(str::to_owned),
            machine: self.machine.clone(),
        }
    }
}

/// Reads the whole file in chunks, feeding each chunk to the hasher as it arrives.
fn read_hashing(path: &Path) -> io::Result<(Vec<u8>, String)> {
    let mut file = File::open(path)?;
    let expected = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut data = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&chunk[..n]);
        data.extend_from_slice(&chunk[..n]);
    }
    Ok((data, hex::encode(hasher.finalize())))
}

fn architecture_name(arch: object::Architecture) -> Option<String> {
    use object::Architecture as A;
    let name = match arch {
        A::X86_64 => "x86_64",
        A::I386 => "i386",
        A::Aarch64 => "aarch64",
        A::Arm => "arm",
        A::Riscv64 => "riscv64",
        A::PowerPc64 => "ppc64",
        A::S390x => "s390x",
        A::LoongArch64 => "loongarch64",
        A::Wasm32 => "wasm32",
        _ => return None,
    };
    Some(name.to_owned())
}

// ---------------------------------------------------------------------------------------------
// ELF

struct ElfFacts {
    linkage: Linkage,
    interpreter: Option<String>,
    needed: Vec<String>,
    machine: String,
    go: Option<buildinfo::GoBuildInfo>,
}

/// Why an ELF file could not be read; `object`'s messages or our own.
type ElfResult<T> = Result<T, String>;

fn inspect_elf(data: &[u8]) -> ElfResult<ElfFacts> {
    // e_ident[EI_CLASS]
    match data.get(4).copied() {
        Some(elf::ELFCLASS64) => inspect_elf_as::<elf::FileHeader64<Endianness>>(data),
        Some(elf::ELFCLASS32) => inspect_elf_as::<elf::FileHeader32<Endianness>>(data),
        _ => Err("unknown ELF class".to_owned()),
    }
}

/// A `PT_LOAD` segment's file bytes and where they are mapped.
struct Load<'a> {
    vaddr: u64,
    bytes: &'a [u8],
}

/// Reads `len` bytes at virtual address `addr` from the file image of the loadable segments.
fn read_vaddr<'a>(loads: &[Load<'a>], addr: u64, len: u64) -> Option<&'a [u8]> {
    loads.iter().find_map(|l| {
        let start = usize::try_from(addr.checked_sub(l.vaddr)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        l.bytes.get(start..end)
    })
}

fn inspect_elf_as<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> ElfResult<ElfFacts> {
    let e = |e: object::read::Error| e.to_string();
    let header = Elf::parse(data).map_err(e)?;
    let endian = header.endian().map_err(e)?;
    let phdrs = header.program_headers(endian, data).map_err(e)?;

    let mut interpreter = None;
    let mut dynamic = None;
    let mut loads = Vec::new();
    for ph in phdrs {
        if let Some(interp) = ph.interpreter(endian, data).map_err(e)? {
            let interp = interp.split(|&b| b == 0).next().unwrap_or_default();
            interpreter = Some(String::from_utf8_lossy(interp).into_owned());
        }
        if dynamic.is_none() {
            dynamic = ph.dynamic(endian, data).map_err(e)?;
        }
        if ph.p_type(endian) == elf::PT_LOAD {
            // A segment whose file bytes lie outside the file is not ours to judge; skip it.
            if let Ok(bytes) = ph.data(endian, data) {
                loads.push(Load {
                    vaddr: ph.p_vaddr(endian).into(),
                    bytes,
                });
            }
        }
    }

    // DT_NEEDED through the loader's view (PT_DYNAMIC + DT_STRTAB), so it works without
    // section headers too.
    let mut needed = Vec::new();
    if let Some(dyns) = dynamic {
        let mut strtab = None;
        let mut strsz = None;
        let mut offsets = Vec::new();
        for d in dyns {
            let tag = d.tag(endian);
            match tag {
                elf::DT_NULL => break,
                elf::DT_NEEDED => offsets.push(d.val(endian)),
                elf::DT_STRTAB => strtab = Some(d.val(endian)),
                elf::DT_STRSZ => strsz = Some(d.val(endian)),
                _ => {}
            }
        }
        if !offsets.is_empty() {
            let table = strtab
                .zip(strsz)
                .and_then(|(addr, size)| read_vaddr(&loads, addr, size))
                .ok_or("DT_NEEDED without a readable DT_STRTAB")?;
            for off in offsets {
                let s = usize::try_from(off)
                    .ok()
                    .and_then(|o| table.get(o..))
                    .and_then(|t| t.split(|&b| b == 0).next())
                    .ok_or("DT_NEEDED points outside DT_STRTAB")?;
                needed.push(String::from_utf8_lossy(s).into_owned());
            }
        }
    }

    let linkage = if interpreter.is_some() {
        Linkage::Dynamic
    } else if header.e_type(endian) == elf::ET_DYN {
        Linkage::StaticPie
    } else {
        Linkage::Static
    };

    let resolve = |addr: u64, len: u64| read_vaddr(&loads, addr, len);
    // Go looks in `.go.buildinfo` when the section table has one; otherwise scan the file.
    let section = header.sections(endian, data).ok().and_then(|sections| {
        let (_, sh) = sections.section_by_name(endian, b".go.buildinfo")?;
        Some((sh.sh_addr(endian).into(), sh.data(endian, data).ok()?))
    });
    let go = match section {
        Some((addr, bytes)) => buildinfo::search_go_buildinfo(bytes, addr, &resolve),
        None => buildinfo::scan_go_buildinfo(data, &resolve),
    };

    Ok(ElfFacts {
        linkage,
        interpreter,
        needed,
        machine: elf_machine_name(header, endian),
        go,
    })
}

fn elf_machine_name<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
) -> String {
    let is64 = header.is_class_64();
    let big = endian == Endianness::Big;
    let name = match header.e_machine(endian) {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "i386",
        elf::EM_AARCH64 if big => "aarch64_be",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM if big => "armeb",
        elf::EM_ARM => "arm",
        elf::EM_RISCV if is64 => "riscv64",
        elf::EM_RISCV => "riscv32",
        elf::EM_MIPS => match (is64, big) {
            (false, true) => "mips",
            (false, false) => "mipsel",
            (true, true) => "mips64",
            (true, false) => "mips64el",
        },
        elf::EM_PPC64 if big => "ppc64",
        elf::EM_PPC64 => "ppc64le",
        elf::EM_PPC => "ppc",
        elf::EM_S390 if is64 => "s390x",
        elf::EM_S390 => "s390",
        elf::EM_LOONGARCH if is64 => "loongarch64",
        elf::EM_LOONGARCH => "loongarch32",
        elf::EM_SPARCV9 => "sparc64",
        other => return format!("elf-machine-{other}"),
    };
    name.to_owned()
}

// ---------------------------------------------------------------------------------------------
// WebAssembly

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_formats() {
        assert_eq!(BinaryFormat::sniff(b"\x7fELF\x02"), BinaryFormat::Elf);
        assert_eq!(BinaryFormat::sniff(b"\0asm\x01\0\0\0"), BinaryFormat::Wasm);
        assert_eq!(
            BinaryFormat::sniff(&[0xcf, 0xfa, 0xed, 0xfe]),
            BinaryFormat::MachO
        );
        assert_eq!(BinaryFormat::sniff(b"MZ\x90\0"), BinaryFormat::Pe);
        assert_eq!(BinaryFormat::sniff(b"#!/bin/sh"), BinaryFormat::Unknown);
        assert_eq!(BinaryFormat::sniff(b""), BinaryFormat::Unknown);
    }
}
