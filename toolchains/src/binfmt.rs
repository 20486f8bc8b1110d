//! binfmt_misc: which foreign executables the kernel hands to an interpreter (qemu-user), and
//! whether that works inside a sandbox (the F flag: interpreter opened at registration).

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the kernel exposes binfmt_misc.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// How an entry recognises its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinfmtMatch {
    /// Bytes at an offset (`magic`/`mask`).
    Magic,
    /// A file-name extension (`extension .exe`); never matches by header.
    Extension(String),
}

/// One registration, e.g. `qemu-aarch64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinfmtEntry {
    pub name: String,
    pub enabled: bool,
    pub interpreter: PathBuf,
    /// The flag letters (`P`, `O`, `C`, `F`).
    pub flags: String,
    pub kind: BinfmtMatch,
    pub offset: usize,
    pub magic: Vec<u8>,
    /// Same length as `magic` (all `ff` when the entry has no mask).
    pub mask: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinfmtError {
    #[error("binfmt entry {name}: first line is neither `enabled` nor `disabled`")]
    NoState { name: String },
    #[error("binfmt entry {name}: no `interpreter` line")]
    NoInterpreter { name: String },
    #[error("binfmt entry {name}: neither `magic` nor `extension`")]
    NoMatch { name: String },
    #[error("binfmt entry {name}: bad {field} `{value}`")]
    Bad {
        name: String,
        field: &'static str,
        value: String,
    },
}

/// Parses the text of `/proc/sys/fs/binfmt_misc/<name>`.
pub fn parse_entry(name: &str, text: &str) -> Result<BinfmtEntry, BinfmtError> {
    let mut lines = text.lines();
    let enabled = match lines.next().map(str::trim) {
        Some("enabled") => true,
        Some("disabled") => false,
        _ => return Err(BinfmtError::NoState { name: name.into() }),
    };
    let bad = |field: &'static str, value: &str| BinfmtError::Bad {
        name: name.into(),
        field,
        value: value.into(),
    };
    let mut interpreter = None;
    let mut flags = String::new();
    let mut offset = 0usize;
    let mut magic = None;
    let mut mask = None;
    let mut extension = None;
    for line in lines {
        let line = line.trim();
        let (key, value) = match line.split_once(' ') {
            Some((k, v)) => (k.trim_end_matches(':'), v.trim()),
            None => (line.trim_end_matches(':'), ""),
        };
        match key {
            "interpreter" => interpreter = Some(PathBuf::from(value)),
            "flags" => flags = value.to_string(),
            "offset" => offset = value.parse().map_err(|_| bad("offset", value))?,
            "magic" => magic = Some(hex::decode(value).map_err(|_| bad("magic", value))?),
            "mask" => mask = Some(hex::decode(value).map_err(|_| bad("mask", value))?),
            "extension" => extension = Some(value.to_string()),
            _ => {}
        }
    }
    let interpreter =
        interpreter.ok_or_else(|| BinfmtError::NoInterpreter { name: name.into() })?;
    let (kind, magic, mask) = match (magic, extension) {
        (Some(magic), _) => {
            let mut mask = mask.unwrap_or_else(|| vec![0xff; magic.len()]);
            mask.resize(magic.len(), 0xff);
            (BinfmtMatch::Magic, magic, mask)
        }
        (None, Some(ext)) => (BinfmtMatch::Extension(ext), vec![], vec![]),
        (None, None) => return Err(BinfmtError::NoMatch { name: name.into() }),
    };
    Ok(BinfmtEntry {
        name: name.into(),
        enabled,
        interpreter,
        flags,
        kind,
        offset,
        magic,
        mask,
    })
}

impl BinfmtEntry {
    /// Whether the kernel would hand a file starting with `header` to this entry.
    pub fn matches(&self, header: &[u8]) -> bool {
        if !self.enabled || self.kind != BinfmtMatch::Magic || self.magic.is_empty() {
            return false;
        }
        let Some(window) = header.get(self.offset..self.offset + self.magic.len()) else {
            return false;
        };
        window
            .iter()
            .zip(&self.magic)
            .zip(&self.mask)
            .all(|((h, m), k)| h & k == m & k)
    }

    /// The F flag: the kernel opened the interpreter when it was registered, so it works in
    /// mount namespaces (containers, bwrap) where its path does not exist.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }
}

/// What binfmt_misc offers on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BinfmtStatus {
    /// binfmt_misc is mounted and globally enabled.
    pub available: bool,
    /// Every registration that parsed, sorted by name.
    pub entries: Vec<BinfmtEntry>,
}

impl BinfmtStatus {
    /// The enabled entry the kernel would use for a file starting with `header`.
    pub fn handler_for(&self, header: &[u8]) -> Option<&BinfmtEntry> {
        if !self.available {
            return None;
        }
        self.entries.iter().find(|e| e.matches(header))
    }
}

/// Reads binfmt_misc from `dir` (normally [`BINFMT_DIR`]). A missing or unreadable directory
/// is "not available", not an error; entries that do not parse are left out.
pub fn read_binfmt(dir: &Path) -> BinfmtStatus {
    let available = std::fs::read_to_string(dir.join("status"))
        .map(|s| s.trim() == "enabled")
        .unwrap_or(false);
    let mut entries = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "status" || name == "register" {
                continue;
            }
            let parsed = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|text| parse_entry(&name, &text).ok());
            entries.extend(parsed);
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    BinfmtStatus { available, entries }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/binfmt");

    fn fixture(name: &str) -> BinfmtEntry {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
        parse_entry(name, &text).unwrap()
    }

    /// The first 20 bytes of an ELF executable: class, data, e_type, e_machine.
    fn elf(class: u8, data: u8, machine: u16, etype: u16) -> Vec<u8> {
        let mut h = vec![
            0x7f, b'E', b'L', b'F', class, data, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        if data == 1 {
            h.extend(etype.to_le_bytes());
            h.extend(machine.to_le_bytes());
        } else {
            h.extend(etype.to_be_bytes());
            h.extend(machine.to_be_bytes());
        }
        h.extend([0u8; 44]);
        h
    }

    #[test]
    fn parses_qemu_entry() {
        let e = fixture("qemu-aarch64");
        assert!(e.enabled);
        assert_eq!(
            e.interpreter,
            PathBuf::from("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        );
        assert_eq!(e.flags, "PF");
        assert!(e.fix_binary());
        assert_eq!(e.offset, 0);
        assert_eq!(e.magic.len(), 20);
        assert_eq!(e.mask.len(), 20);
        assert_eq!(&e.magic[..4], b"\x7fELF");
        assert_eq!(e.kind, BinfmtMatch::Magic);
    }

    #[test]
    fn parses_extension_and_flagless_entries() {
        let e = fixture("dotnet-exe");
        assert_eq!(e.kind, BinfmtMatch::Extension(".exe".into()));
        assert!(!e.matches(b"MZ\x90\x00"));
        let jar = fixture("jar");
        assert_eq!(jar.flags, "");
        assert!(!jar.fix_binary());
        assert_eq!(jar.mask, [0xff; 4]);
        assert!(jar.matches(b"PK\x03\x04rest"));
    }

    #[test]
    fn rejects_broken_entries() {
        assert!(matches!(
            parse_entry("x", ""),
            Err(BinfmtError::NoState { .. })
        ));
        assert!(matches!(
            parse_entry("x", "enabled\nflags: F\nmagic 7f\n"),
            Err(BinfmtError::NoInterpreter { .. })
        ));
        assert!(matches!(
            parse_entry("x", "enabled\ninterpreter /q\nmagic 7g\n"),
            Err(BinfmtError::Bad { field: "magic", .. })
        ));
        assert!(matches!(
            parse_entry("x", "enabled\ninterpreter /q\n"),
            Err(BinfmtError::NoMatch { .. })
        ));
    }

    #[test]
    fn matches_elf_headers_by_machine() {
        let aarch64 = fixture("qemu-aarch64");
        assert!(aarch64.matches(&elf(2, 1, 183, 2)));
        assert!(
            aarch64.matches(&elf(2, 1, 183, 3)),
            "PIE (ET_DYN) is masked in"
        );
        assert!(!aarch64.matches(&elf(2, 1, 62, 2)), "x86-64");
        assert!(!aarch64.matches(&elf(1, 1, 183, 2)), "32-bit class");
        assert!(!aarch64.matches(&elf(2, 1, 183, 2)[..10]), "short header");
        let mipsel = fixture("qemu-mipsel");
        assert_eq!(mipsel.magic.len(), 37);
        assert!(mipsel.matches(&elf(1, 1, 8, 2)));
        assert!(!mipsel.matches(&elf(1, 2, 8, 2)), "big-endian mips");
    }

    #[test]
    fn disabled_entries_never_match() {
        let e = fixture("qemu-riscv64-disabled");
        assert!(!e.enabled);
        assert!(!e.matches(&elf(2, 1, 243, 2)));
    }

    #[test]
    fn reads_a_directory() {
        let st = read_binfmt(Path::new(FIXTURES));
        assert!(st.available);
        let names: Vec<&str> = st.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dotnet-exe",
                "jar",
                "qemu-aarch64",
                "qemu-mipsel",
                "qemu-riscv64-disabled"
            ]
        );
        assert_eq!(
            st.handler_for(&elf(2, 1, 183, 2)).map(|e| e.name.as_str()),
            Some("qemu-aarch64")
        );
        assert_eq!(st.handler_for(&elf(2, 1, 243, 2)), None);
        let off = BinfmtStatus {
            available: false,
            ..st
        };
        assert_eq!(off.handler_for(&elf(2, 1, 183, 2)), None);
        let missing = read_binfmt(Path::new("/nonexistent/binfmt"));
        assert!(!missing.available && missing.entries.is_empty());
    }
}
