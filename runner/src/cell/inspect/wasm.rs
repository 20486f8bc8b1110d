//! The Go version of a wasm module: Go's build info when the module carries one, else its
//! `producers` section.

use super::buildinfo::{no_addresses, search_go_buildinfo};

/// Largest linear-memory image of data segments we rebuild to look for build info.
const MAX_WASM_IMAGE: u64 = 256 << 20;

/// Go's own build info blob when a wasm module carries one (searched like an address space in
/// the rebuilt data segments, since Go's wasm linker drops runs of 8+ zero bytes and so splits a
/// blob's header from its strings); otherwise the `producers` custom section's `language: Go`
/// version, which is where Go ≤1.24 records it (its wasm linker does not emit `.go.buildinfo`).
pub(crate) fn wasm_go_version(module: &[u8]) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::buildinfo::tests::inline_blob;
    use crate::inspect::buildinfo::{HEADER_SIZE, scan_go_buildinfo};

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
}
