//! Capturing a child's output with a cap: the first bytes and the last kept, the middle
//! counted, so crossmatrix's memory stays flat whatever a program prints.

/// Bytes of a program's output kept per stream in records: the first `HEAD` and the last
/// `TAIL`.
pub(crate) const HEAD: usize = 16 * 1024;
pub(crate) const TAIL: usize = 48 * 1024;

/// How much of a stream is kept: the first `head` bytes and the last `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub head: usize,
    pub tail: usize,
}

impl Caps {
    /// What records keep of a program's output (crossmatrix's memory stays flat whatever a
    /// program prints).
    pub const RECORD: Caps = Caps {
        head: HEAD,
        tail: TAIL,
    };
    /// What crossmatrix reads from tools it runs for their answer (`go list -json`, a test
    /// binary's event stream): all of it up to a generous bound.
    pub const TOOL: Caps = Caps {
        head: 256 << 20,
        tail: 16 << 20,
    };
}

impl Default for Caps {
    fn default() -> Self {
        Caps::RECORD
    }
}

/// A stream captured with a cap.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    /// Bytes seen but kept in neither head nor tail.
    pub dropped: u64,
}

impl Captured {
    /// The captured text, with a marker where bytes were dropped.
    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            s.push_str(&format!("\n[… {} bytes dropped …]\n", self.dropped));
        }
        s.push_str(&String::from_utf8_lossy(&self.tail));
        s
    }

    /// The last `lines` lines, for records — and of those at most the last `TAIL` bytes, however
    /// long the lines (a test binary's stream is captured with [`Caps::TOOL`]: hundreds of MiB
    /// can be one line).
    pub fn last_lines(&self, lines: usize) -> String {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        let mut kept = all[start..].join("\n");
        let mut dropped = self.dropped;
        if kept.len() > TAIL {
            let mut cut = kept.len() - TAIL;
            while !kept.is_char_boundary(cut) {
                cut += 1;
            }
            kept.drain(..cut);
            dropped += cut as u64;
        }
        if dropped > 0 && (dropped != self.dropped || !kept.contains("bytes dropped …]")) {
            // Say that output was cut even when the marker scrolled out of the kept lines.
            return format!("[… {dropped} bytes dropped …]\n{kept}");
        }
        kept
    }

    pub(crate) fn push(&mut self, mut chunk: &[u8], caps: Caps) {
        let Caps { head, tail } = caps;
        if self.head.len() < head {
            let n = (head - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
        }
        if chunk.is_empty() {
            return;
        }
        self.tail.extend_from_slice(chunk);
        // Trimmed only when twice the cap: one move per `tail` bytes read, not one per chunk
        // (a test printing gigabytes is read at pipe speed). `trim` makes it exact at the end.
        if self.tail.len() > tail.saturating_mul(2).max(64 * 1024) {
            self.trim(caps);
        }
    }

    /// Keeps the last `caps.tail` bytes of the tail, counting the rest as dropped.
    pub(crate) fn trim(&mut self, caps: Caps) {
        if self.tail.len() > caps.tail {
            let excess = self.tail.len() - caps.tail;
            self.tail.drain(..excess);
            self.dropped += excess as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_are_bounded_however_long_the_lines() {
        let mut c = Captured::default();
        c.push(&vec![b'y'; 1 << 20], Caps::TOOL);
        c.push(b"\n--- PASS: TestLoud (2.43s)\nPASS\n", Caps::TOOL);
        let last = c.last_lines(20);
        assert!(last.len() < TAIL + 100, "{}", last.len());
        assert!(last.starts_with("[… "), "{}", &last[..40]);
        assert!(last.ends_with("--- PASS: TestLoud (2.43s)\nPASS"));
    }

    #[test]
    fn chunked_capture_keeps_exactly_the_head_and_the_last_bytes() {
        let caps = Caps {
            head: 10,
            tail: 100_000,
        };
        let mut c = Captured::default();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(7_777) {
            c.push(chunk, caps);
        }
        c.trim(caps);
        assert_eq!(c.head, data[..10]);
        assert_eq!(c.tail, data[data.len() - 100_000..]);
        assert_eq!(c.dropped, (data.len() - 10 - 100_000) as u64);
    }
}
