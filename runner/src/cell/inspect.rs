//! Looks at a built binary without running it: size, sha256, format, ELF linkage (interpreter,
//! `DT_NEEDED`), machine, and the Go version embedded in Go's build info.
//!
//! The build-info reader mirrors Go's `debug/buildinfo` so `go_version` matches `go version FILE`.
//! Go's wasm linker writes no build info (Go ≤1.24), so for wasm the version comes from the
//! module's `producers` section, which Go fills with the same version.

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
            info.go_version = wasm_go_version(&data);
        }
        BinaryFormat::MachO | BinaryFormat::Pe => {
            info.machine = object::File::parse(&*data)
                .ok()
                .and_then(|f| architecture_name(f.architecture()));
            info.go_version = scan_go_buildinfo(&data, &no_addresses).map(|g| g.version);
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
    go: Option<GoBuildInfo>,
}

/// Why an ELF file could not be read; `object`'s messages or our own.
type ElfResult<T> = Result<T, String>;

fn inspect_elf(data: &[u8]) -> ElfResult<ElfFacts> {
    // e_ident[EI_CLASS]
    match data.get(4).copied().map(elf::FileClass) {
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
        Some((addr, bytes)) => search_go_buildinfo(bytes, addr, &resolve),
        None => scan_go_buildinfo(data, &resolve),
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
        other => return format!("elf-machine-{}", other.0),
    };
    name.to_owned()
}

// ---------------------------------------------------------------------------------------------
// WebAssembly

/// Largest linear-memory image of data segments we rebuild to look for build info.
const MAX_WASM_IMAGE: u64 = 256 << 20;

/// Go's own build info blob when a wasm module carries one (searched like an address space in
/// the rebuilt data segments, since Go's wasm linker drops runs of 8+ zero bytes and so splits a
/// blob's header from its strings); otherwise the `producers` custom section's `language: Go`
/// version, which is where Go ≤1.24 records it (its wasm linker does not emit `.go.buildinfo`).
fn wasm_go_version(module: &[u8]) -> Option<String> {
    use wasmparser::{KnownCustom, Parser, Payload};
    let mut image = None;
    let mut producers = None;
    // Stops at the first malformed section, keeping what came before it.
    for payload in Parser::new(0).parse_all(module) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::DataSection(data) if image.is_none() => image = wasm_data_image(data),
            Payload::CustomSection(c) if producers.is_none() => {
                if let KnownCustom::Producers(fields) = c.as_known() {
                    producers = producers_language_version(fields, "Go");
                }
            }
            _ => {}
        }
    }
    if let Some((base, image)) = image {
        if let Some(info) = search_go_buildinfo(&image, base, &no_addresses) {
            return Some(info.version);
        }
    }
    producers
}

/// In a `producers` custom section (tool-conventions), the version of `language: <language>`.
fn producers_language_version(
    fields: wasmparser::ProducersSectionReader<'_>,
    language: &str,
) -> Option<String> {
    for field in fields {
        let field = field.ok()?;
        if field.name != "language" {
            continue;
        }
        for value in field.values {
            let value = value.ok()?;
            if value.name == language {
                return Some(value.version.to_string());
            }
        }
    }
    None
}

/// The active data segments of a wasm data section laid out at their memory addresses
/// (zero-filled between them); returns the address of the image's first byte.
fn wasm_data_image(section: wasmparser::DataSectionReader<'_>) -> Option<(u64, Vec<u8>)> {
    use wasmparser::{DataKind, Operator};
    let mut segments = Vec::new();
    for data in section {
        let data = data.ok()?;
        let DataKind::Active { offset_expr, .. } = data.kind else {
            continue;
        };
        // `i32.const N end` or `i64.const N end`: the segment's address.
        let addr = match offset_expr.get_operators_reader().read().ok()? {
            Operator::I32Const { value } => u64::from(value as u32),
            Operator::I64Const { value } => value as u64,
            _ => return None,
        };
        segments.push((addr, data.data));
    }
    let base = segments.iter().map(|&(a, _)| a).min()?;
    let end = segments
        .iter()
        .map(|&(a, b)| a.saturating_add(b.len() as u64))
        .max()?;
    if end - base > MAX_WASM_IMAGE {
        return None;
    }
    let mut image = vec![0u8; usize::try_from(end - base).ok()?];
    for (addr, bytes) in segments {
        let at = usize::try_from(addr - base).ok()?;
        image[at..at + bytes.len()].copy_from_slice(bytes);
    }
    Some((base, image))
}

// ---------------------------------------------------------------------------------------------
// Go build info (Go's `debug/buildinfo`, `runtime/debug.modinfo`)

/// The 14-byte magic that starts Go's build info blob; a 32-byte header follows from it.
pub const GO_BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: u64 = 16;
const FLAG_BIG_ENDIAN: u8 = 0x1;
const FLAG_INLINE_STRINGS: u8 = 0x2;

/// What Go's build info holds: the toolchain version and `go version -m`'s module/settings text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// `runtime.Version()` of the toolchain that linked the binary, e.g. `go1.24.4`.
    pub version: String,
    /// The module and build settings text (`path`, `mod`, `dep`, `build` lines), sentinels
    /// removed; empty when the binary has none.
    pub modinfo: String,
}

impl GoBuildInfo {
    /// A `build` setting from the module info, e.g. `setting("CGO_ENABLED") == Some("0")`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.modinfo.lines().find_map(|line| {
            let kv = line.strip_prefix("build\t")?;
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }
}

/// Why a blob is not readable Go build info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildInfoError {
    #[error("no Go build info magic")]
    NoMagic,
    #[error("Go build info is truncated")]
    Truncated,
    #[error("Go build info has a malformed length varint")]
    BadVarint,
    #[error("Go build info has an unsupported pointer size {0}")]
    BadPointerSize(u8),
    #[error("Go build info points to an address that is not in the file")]
    BadAddress,
    #[error("Go build info has an empty version")]
    EmptyVersion,
}

/// Reads `len` bytes at a virtual address of the binary (for the pre-Go 1.18 pointer form).
pub type AddressReader<'a, 'd> = dyn Fn(u64, u64) -> Option<&'d [u8]> + 'a;

fn no_addresses<'d>(_: u64, _: u64) -> Option<&'d [u8]> {
    None
}

/// Parses one build info blob that starts with the magic. Go ≥1.18 stores the strings inline
/// after the header; older Go stores pointers to Go strings, which `resolve` turns into bytes.
pub fn parse_go_buildinfo<'d>(
    blob: &'d [u8],
    resolve: &AddressReader<'_, 'd>,
) -> Result<GoBuildInfo, BuildInfoError> {
    if !blob.starts_with(GO_BUILDINFO_MAGIC) {
        return Err(BuildInfoError::NoMagic);
    }
    let header = blob.get(..HEADER_SIZE).ok_or(BuildInfoError::Truncated)?;
    let ptr_size = header[14];
    let flags = header[15];
    let (version, modinfo) = if flags & FLAG_INLINE_STRINGS != 0 {
        let (version, rest) = decode_string(&blob[HEADER_SIZE..])?;
        let (modinfo, _) = decode_string(rest)?;
        (version, modinfo)
    } else {
        let big = flags & FLAG_BIG_ENDIAN != 0;
        let read_ptr = |b: &[u8]| -> u64 {
            match (b.len(), big) {
                (4, false) => u32::from_le_bytes(b.try_into().unwrap_or_default()).into(),
                (4, true) => u32::from_be_bytes(b.try_into().unwrap_or_default()).into(),
                (_, false) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
                (_, true) => u64::from_be_bytes(b.try_into().unwrap_or_default()),
            }
        };
        let p = match ptr_size {
            4 | 8 => usize::from(ptr_size),
            other => return Err(BuildInfoError::BadPointerSize(other)),
        };
        // A Go string header: data pointer, then length.
        let read_go_string = |field: &[u8]| -> Result<&'d [u8], BuildInfoError> {
            let hdr = resolve(read_ptr(field), 2 * p as u64).ok_or(BuildInfoError::BadAddress)?;
            let (ptr, len) = (read_ptr(&hdr[..p]), read_ptr(&hdr[p..2 * p]));
            resolve(ptr, len).ok_or(BuildInfoError::BadAddress)
        };
        let version = read_go_string(&header[16..16 + p])?;
        // Go ignores an unreadable module string; so do we.
        let modinfo = read_go_string(&header[16 + p..16 + 2 * p]).unwrap_or_default();
        (version, modinfo)
    };
    if version.is_empty() {
        return Err(BuildInfoError::EmptyVersion);
    }
    // Module info is wrapped in 16-byte sentinels (runtime/debug.modinfo).
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        &[][..]
    };
    Ok(GoBuildInfo {
        version: String::from_utf8_lossy(version).into_owned(),
        modinfo: String::from_utf8_lossy(modinfo).into_owned(),
    })
}

/// A uvarint length, then that many bytes (Go's `binary.Uvarint`).
fn decode_string(b: &[u8]) -> Result<(&[u8], &[u8]), BuildInfoError> {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    let mut i = 0;
    loop {
        let byte = *b.get(i).ok_or(BuildInfoError::Truncated)?;
        i += 1;
        if i > 10 || (i == 10 && byte > 1) {
            return Err(BuildInfoError::BadVarint);
        }
        len |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    let len = usize::try_from(len).map_err(|_| BuildInfoError::Truncated)?;
    let end = i.checked_add(len).ok_or(BuildInfoError::Truncated)?;
    let s = b.get(i..end).ok_or(BuildInfoError::Truncated)?;
    Ok((s, &b[end..]))
}

/// Go's search: the first magic at a 16-byte aligned address within a data region that
/// starts at virtual address `base`.
fn search_go_buildinfo<'d>(
    region: &'d [u8],
    base: u64,
    resolve: &AddressReader<'_, 'd>,
) -> Option<GoBuildInfo> {
    let skip = base.wrapping_neg() % ALIGN;
    let mut off = usize::try_from(skip).ok()?;
    while off < region.len() {
        let rest = &region[off..];
        let i = find(rest, GO_BUILDINFO_MAGIC)?;
        let at = off + i;
        if (base.wrapping_add(at as u64)) % ALIGN == 0 {
            return parse_go_buildinfo(&region[at..], resolve).ok();
        }
        off = at + 1;
    }
    None
}

/// Whole-file fallback (ELF without `.go.buildinfo`, Mach-O, PE): file offsets are not
/// addresses, so alignment cannot be checked; take the first magic whose header parses. The
/// magic also appears as a literal in programs that link `debug/buildinfo`; those fail to parse.
pub fn scan_go_buildinfo<'d>(
    data: &'d [u8],
    resolve: &AddressReader<'_, 'd>,
) -> Option<GoBuildInfo> {
    let mut off = 0;
    while let Some(i) = find(&data[off..], GO_BUILDINFO_MAGIC) {
        let at = off + i;
        if let Ok(info) = parse_go_buildinfo(&data[at..], resolve) {
            if plausible_go_version(&info.version) {
                return Some(info);
            }
        }
        off = at + 1;
    }
    None
}

fn plausible_go_version(v: &str) -> bool {
    (v.starts_with("go") || v.starts_with("devel")) && v.len() < 256
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut off = 0;
    while off + needle.len() <= haystack.len() {
        let i = haystack[off..=haystack.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        let at = off + i;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        off = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ptr_size: u8, flags: u8) -> Vec<u8> {
        let mut h = GO_BUILDINFO_MAGIC.to_vec();
        h.push(ptr_size);
        h.push(flags);
        h.resize(HEADER_SIZE, 0);
        h
    }

    fn inline_blob(version: &str, modinfo: &[u8]) -> Vec<u8> {
        let mut b = header(8, FLAG_INLINE_STRINGS);
        b.push(version.len() as u8);
        b.extend_from_slice(version.as_bytes());
        b.push(modinfo.len() as u8);
        b.extend_from_slice(modinfo);
        b
    }

    fn sentinel_wrapped(text: &str) -> Vec<u8> {
        let mut m = vec![0x30u8; 16];
        m.extend_from_slice(text.as_bytes());
        m.extend_from_slice(&[0xf9u8; 16]);
        m
    }

    #[test]
    fn inline_form() {
        let m = sentinel_wrapped("path\thello\nbuild\tCGO_ENABLED=0\nbuild\tGOARCH=arm64\n");
        let info = parse_go_buildinfo(&inline_blob("go1.24.4", &m), &no_addresses).unwrap();
        assert_eq!(info.version, "go1.24.4");
        assert!(info.modinfo.starts_with("path\thello\n"));
        assert_eq!(info.setting("CGO_ENABLED"), Some("0"));
        assert_eq!(info.setting("GOARCH"), Some("arm64"));
        assert_eq!(info.setting("GOOS"), None);
    }

    #[test]
    fn inline_form_without_modinfo() {
        let info = parse_go_buildinfo(&inline_blob("go1.22.12", b""), &no_addresses).unwrap();
        assert_eq!(info.version, "go1.22.12");
        assert_eq!(info.modinfo, "");
    }

    #[test]
    fn multi_byte_varint_length() {
        let version = format!("go1.24{}", "x".repeat(200));
        let mut b = header(8, FLAG_INLINE_STRINGS);
        b.extend_from_slice(&[
            0x80 | (version.len() & 0x7f) as u8,
            (version.len() >> 7) as u8,
        ]);
        b.extend_from_slice(version.as_bytes());
        b.push(0);
        assert_eq!(
            parse_go_buildinfo(&b, &no_addresses).unwrap().version,
            version
        );
    }

    #[test]
    fn bad_varint() {
        let mut b = header(8, FLAG_INLINE_STRINGS);
        b.extend_from_slice(&[0xff; 11]);
        assert_eq!(
            parse_go_buildinfo(&b, &no_addresses),
            Err(BuildInfoError::BadVarint)
        );
    }

    #[test]
    fn truncated() {
        let full = inline_blob("go1.24.4", b"");
        // Header cut short, varint missing, string cut short.
        for cut in [20, HEADER_SIZE, HEADER_SIZE + 4] {
            assert_eq!(
                parse_go_buildinfo(&full[..cut], &no_addresses),
                Err(BuildInfoError::Truncated),
                "cut at {cut}"
            );
        }
        // A length far past the end.
        let mut b = header(8, FLAG_INLINE_STRINGS);
        b.extend_from_slice(&[0xff, 0xff, 0x03, b'g', b'o']);
        assert_eq!(
            parse_go_buildinfo(&b, &no_addresses),
            Err(BuildInfoError::Truncated)
        );
    }

    #[test]
    fn not_magic_and_empty_version() {
        assert_eq!(
            parse_go_buildinfo(b"hello", &no_addresses),
            Err(BuildInfoError::NoMagic)
        );
        let b = inline_blob("", b"");
        assert_eq!(
            parse_go_buildinfo(&b, &no_addresses),
            Err(BuildInfoError::EmptyVersion)
        );
    }

    #[test]
    fn pointer_form() {
        // Pre-1.18 layout: header holds pointers to Go string headers {ptr, len}.
        let version = b"go1.16.15";
        let memory_base = 0x1000u64;
        let mut memory = [0u8; 64];
        // String header at 0x1000 -> data at 0x1010.
        memory[0..4].copy_from_slice(&(0x1010u32).to_be_bytes());
        memory[4..8].copy_from_slice(&(version.len() as u32).to_be_bytes());
        memory[16..16 + version.len()].copy_from_slice(version);
        let resolve = |addr: u64, len: u64| {
            let start = usize::try_from(addr.checked_sub(memory_base)?).ok()?;
            memory.get(start..start + usize::try_from(len).ok()?)
        };
        let mut b = header(4, FLAG_BIG_ENDIAN);
        b[16..20].copy_from_slice(&0x1000u32.to_be_bytes());
        b[20..24].copy_from_slice(&0xdead_0000u32.to_be_bytes());
        let info = parse_go_buildinfo(&b, &resolve).unwrap();
        assert_eq!(info.version, "go1.16.15");
        assert_eq!(info.modinfo, "");

        assert_eq!(
            parse_go_buildinfo(&b, &no_addresses),
            Err(BuildInfoError::BadAddress)
        );
        let bad = header(3, 0);
        assert_eq!(
            parse_go_buildinfo(&bad, &resolve),
            Err(BuildInfoError::BadPointerSize(3))
        );
    }

    #[test]
    fn search_respects_alignment_and_scan_skips_literals() {
        // A bare magic literal (as a program linking debug/buildinfo carries) at an unaligned
        // address, then the real blob at an aligned one.
        let mut region = vec![0u8; 3];
        region.extend_from_slice(GO_BUILDINFO_MAGIC);
        region.resize(32, 0);
        let real_at = region.len();
        region.extend_from_slice(&inline_blob("go1.24.4", b""));
        let found = search_go_buildinfo(&region, 0x4000, &no_addresses).unwrap();
        assert_eq!(found.version, "go1.24.4");
        assert_eq!(real_at % 16, 0);

        let scanned = scan_go_buildinfo(&region, &no_addresses).unwrap();
        assert_eq!(scanned.version, "go1.24.4");
        assert_eq!(scan_go_buildinfo(b"no magic here", &no_addresses), None);
    }

    #[test]
    fn wasm_data_segments_split_by_zero_runs() {
        // Go's linker drops the header's 16 zero bytes, leaving the magic and the strings in
        // separate segments.
        let blob = inline_blob("go1.24.4", b"");
        let (head, strings) = (&blob[..16], &blob[HEADER_SIZE..]);
        let mut data = vec![3u8]; // three segments
        let mut segment = |flags: &[u8], addr: Option<u16>, bytes: &[u8]| {
            data.extend_from_slice(flags);
            if let Some(addr) = addr {
                // i32.const (two-byte sleb128) end
                data.extend_from_slice(&[
                    0x41,
                    0x80 | (addr & 0x7f) as u8,
                    (addr >> 7) as u8,
                    0x0b,
                ]);
            }
            data.push(bytes.len() as u8);
            data.extend_from_slice(bytes);
        };
        segment(&[1], None, b"passive");
        segment(&[0], Some(0x1000), head);
        segment(&[2, 0], Some(0x1020), strings);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // a type section to skip
        module.push(11);
        module.push(data.len() as u8);
        module.extend_from_slice(&data);

        fn reader(bytes: &[u8]) -> wasmparser::Result<wasmparser::DataSectionReader<'_>> {
            wasmparser::DataSectionReader::new(wasmparser::BinaryReader::new(bytes, 0))
        }
        let (base, image) = wasm_data_image(reader(&data).unwrap()).unwrap();
        assert_eq!(base, 0x1000);
        assert_eq!(image.len(), HEADER_SIZE + strings.len());
        assert_eq!(wasm_go_version(&module).as_deref(), Some("go1.24.4"));
        // The raw file alone has no parsable blob.
        assert_eq!(scan_go_buildinfo(&module, &no_addresses), None);
        assert_eq!(reader(&[0]).ok().and_then(wasm_data_image), None);
        assert_eq!(wasm_go_version(b"\0asm\x01\0\0\0"), None);
    }

    #[test]
    fn wasm_producers_section() {
        // What Go's wasm linker writes (cmd/link/internal/wasm.writeProducerSec).
        let mut custom = Vec::new();
        let name = |out: &mut Vec<u8>, s: &str| {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        };
        name(&mut custom, "producers");
        custom.push(2);
        name(&mut custom, "language");
        custom.push(1);
        name(&mut custom, "Go");
        name(&mut custom, "go1.22.12");
        name(&mut custom, "processed-by");
        custom.push(1);
        name(&mut custom, "Go cmd/compile");
        name(&mut custom, "go1.22.12");
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.push(0);
        module.push(custom.len() as u8);
        module.extend_from_slice(&custom);
        assert_eq!(wasm_go_version(&module).as_deref(), Some("go1.22.12"));
        fn fields(bytes: &[u8]) -> wasmparser::Result<wasmparser::ProducersSectionReader<'_>> {
            let mut r = wasmparser::BinaryReader::new(bytes, 0);
            r.read_string()?; // the section's name
            wasmparser::ProducersSectionReader::new(r)
        }
        assert_eq!(
            producers_language_version(fields(&custom).unwrap(), "Rust"),
            None
        );
        // Truncated: no answer, no panic.
        assert_eq!(
            fields(&custom[..20])
                .ok()
                .and_then(|f| producers_language_version(f, "Go")),
            None
        );
    }

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
