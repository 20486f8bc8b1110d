//! Go's build info blob (Go's `debug/buildinfo`, `runtime/debug.modinfo`): where a binary
//! says which Go built it.

/// The 14-byte magic that starts Go's build info blob; a 32-byte header follows from it.
pub const GO_BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
pub(crate) const HEADER_SIZE: usize = 32;
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

pub(crate) fn no_addresses<'d>(_: u64, _: u64) -> Option<&'d [u8]> {
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
pub(crate) fn search_go_buildinfo<'d>(
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
pub(crate) mod tests {
    use super::*;

    fn header(ptr_size: u8, flags: u8) -> Vec<u8> {
        let mut h = GO_BUILDINFO_MAGIC.to_vec();
        h.push(ptr_size);
        h.push(flags);
        h.resize(HEADER_SIZE, 0);
        h
    }

    pub(crate) fn inline_blob(version: &str, modinfo: &[u8]) -> Vec<u8> {
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
}
