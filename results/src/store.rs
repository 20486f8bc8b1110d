//! The durable store: `OUT/cells.jsonl` (one record per finished cell, appended and synced as
//! each cell ends) and `OUT/run.json` (the run's metadata, replaced atomically).
//!
//! A run killed at any moment leaves every finished cell readable and at most one partial
//! last line, which readers skip with a warning and `--resume` trims before appending.

use crate::schema::{CellRecord, RunMeta, SCHEMA_VERSION};
use serde::de::DeserializeOwned;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The records file inside an output directory.
pub const CELLS_FILE: &str = "cells.jsonl";
/// The run metadata file inside an output directory.
pub const RUN_META_FILE: &str = "run.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create output directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{} already holds results from an earlier run; pass --resume to continue it, \
         or choose an empty output directory",
        path.display()
    )]
    AlreadyHasRecords { path: PathBuf },
    #[error("{}:{line}: not a valid cell record: {source}", path.display())]
    CorruptLine {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{}: not a valid run metadata file: {source}", path.display())]
    CorruptRunMeta {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{}: written with result schema {found}, but this crossmatrix reads schema {supported} \
         at most; upgrade crossmatrix to read it",
        location
    )]
    NewerSchema {
        /// `path` or `path:line`.
        location: String,
        found: u64,
        supported: u32,
    },
    #[error("cannot serialize the run metadata: {0}")]
    SerializeRunMeta(serde_json::Error),
    #[error("cannot serialize the record of cell {id}: {source}")]
    Serialize {
        id: String,
        source: serde_json::Error,
    },
}

/// Appends cell records to `cells.jsonl`, one synced line per record.
#[derive(Debug)]
pub struct CellWriter {
    file: File,
    path: PathBuf,
    warnings: Vec<String>,
}

impl CellWriter {
    /// Starts a new `cells.jsonl` in `out_dir` (created if needed). Refuses a file that
    /// already holds results, so a run never silently mixes with an older one.
    pub fn create(out_dir: &Path) -> Result<Self, StoreError> {
        create_out_dir(out_dir)?;
        let path = out_dir.join(CELLS_FILE);
        // Only the start is looked at: any non-blank byte there means an earlier run wrote it.
        let mut head = Vec::new();
        match File::open(&path).and_then(|f| f.take(64 * 1024).read_to_end(&mut head)) {
            Ok(_) if head.iter().any(|b| !b.is_ascii_whitespace()) => {
                return Err(StoreError::AlreadyHasRecords { path });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Read { path, source }),
        }
        let file = open_for_append(&path)?;
        file.set_len(0).map_err(|source| StoreError::Write {
            path: path.clone(),
            source,
        })?;
        sync_dir(out_dir);
        Ok(CellWriter {
            file,
            path,
            warnings: Vec::new(),
        })
    }

    /// Opens `out_dir/cells.jsonl` to continue a run (`--resume`), creating it if missing.
    /// A partial last line left by a killed run is cut off first; a complete last record
    /// that only lacks its newline is kept. What was repaired is in [`CellWriter::warnings`].
    pub fn open_append(out_dir: &Path) -> Result<Self, StoreError> {
        create_out_dir(out_dir)?;
        let path = out_dir.join(CELLS_FILE);
        let mut file = open_for_append(&path)?;
        let mut warnings = Vec::new();
        if let Some(w) = repair_tail(&mut file, &path)? {
            warnings.push(w);
        }
        sync_dir(out_dir);
        Ok(CellWriter {
            file,
            path,
            warnings,
        })
    }

    /// Writes `rec` as one JSON line and syncs it to disk before returning.
    pub fn append(&mut self, rec: &CellRecord) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(rec).map_err(|source| StoreError::Serialize {
            id: rec.id.clone(),
            source,
        })?;
        line.push(b'\n');
        // One write call per record: a kill can cut this line short but never interleave it.
        self.file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|source| StoreError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// The `cells.jsonl` this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `open_append` repaired (a cut partial line), for the caller to show.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn create_out_dir(out_dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(out_dir).map_err(|source| StoreError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })
}

fn open_for_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Makes a newly created or renamed file's directory entry durable. Best effort: some
/// file systems refuse to sync a directory, and the data itself is already synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Cuts whatever follows the last newline unless it is a complete JSON value, in which case
/// the missing newline is added. Returns a warning when something was cut.
fn repair_tail(file: &mut File, path: &Path) -> Result<Option<String>, StoreError> {
    const CHUNK: u64 = 8192;
    let read_err = |source| StoreError::Read {
        path: path.to_path_buf(),
        source,
    };
    let write_err = |source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map_err(read_err)?.len();
    // Scan backwards for the last newline; the tail is everything after it.
    let mut tail: Vec<u8> = Vec::new();
    let mut end = len;
    let tail_start = loop {
        if end == 0 {
            break 0;
        }
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(read_err)?;
        file.read_exact(&mut chunk).map_err(read_err)?;
        if let Some(pos) = chunk.iter().rposition(|b| *b == b'\n') {
            chunk.drain(..=pos);
            chunk.extend_from_slice(&tail);
            tail = chunk;
            break start + pos as u64 + 1;
        }
        chunk.extend_from_slice(&tail);
        tail = chunk;
        end = start;
    };
    if tail.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    if serde_json::from_slice::<serde_json::Value>(&tail).is_ok() {
        file.write_all(b"\n")
            .and_then(|()| file.sync_data())
            .map_err(write_err)?;
        return Ok(None);
    }
    let line = count_lines_before(file, tail_start).map_err(read_err)? + 1;
    file.set_len(tail_start).map_err(write_err)?;
    file.sync_data().map_err(write_err)?;
    Ok(Some(format!(
        "{}:{line}: removed a partial last line ({} bytes) left by an interrupted run",
        path.display(),
        tail.len()
    )))
}

fn count_lines_before(file: &mut File, offset: u64) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = [0u8; 64 * 1024];
    let mut left = offset;
    let mut lines = 0;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        left -= n as u64;
    }
    Ok(lines)
}

/// The records of a `cells.jsonl`, and what was wrong with it but could be skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellsRead {
    pub records: Vec<CellRecord>,
    pub warnings: Vec<String>,
}

/// Reads `cells.jsonl`, given either the file or its output directory.
///
/// A last line that is not valid JSON (a run killed mid-write) is skipped with a warning;
/// any other bad line is an error naming `file:line`. Records from a newer schema are refused.
pub fn read_cells(path_or_dir: &Path) -> Result<CellsRead, StoreError> {
    let path = if path_or_dir.is_dir() {
        path_or_dir.join(CELLS_FILE)
    } else {
        path_or_dir.to_path_buf()
    };
    let bytes = fs::read(&path).map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let is_blank = |l: &[u8]| l.iter().all(|b| b.is_ascii_whitespace());
    let last = lines.iter().rposition(|l| !is_blank(l));
    let mut out = CellsRead::default();
    for (idx, line) in lines.iter().enumerate() {
        if is_blank(line) {
            continue;
        }
        let lineno = idx + 1;
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) if Some(idx) == last => {
                out.warnings.push(format!(
                    "{}:{lineno}: skipped a partial last line (the run was probably \
                     interrupted while writing it): {e}",
                    path.display()
                ));
                continue;
            }
            Err(source) => {
                return Err(StoreError::CorruptLine {
                    path,
                    line: lineno,
                    source,
                });
            }
        };
        let location = || format!("{}:{lineno}", path.display());
        let record = from_checked_value(value, location).map_err(|e| match e {
            ValueError::Newer(err) => err,
            ValueError::Shape(source) => StoreError::CorruptLine {
                path: path.clone(),
                line: lineno,
                source,
            },
        })?;
        out.records.push(record);
    }
    Ok(out)
}

/// Writes `out_dir/run.json` atomically: a temporary file in the same directory, synced,
/// then renamed over the old one, so readers see the old or the new metadata, never a mix.
pub fn write_run_meta(out_dir: &Path, meta: &RunMeta) -> Result<(), StoreError> {
    create_out_dir(out_dir)?;
    let path = out_dir.join(RUN_META_FILE);
    let write_err = |source| StoreError::Write {
        path: path.clone(),
        source,
    };
    let mut json = serde_json::to_vec_pretty(meta).map_err(StoreError::SerializeRunMeta)?;
    json.push(b'\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(".run.json.")
        .suffix(".tmp")
        .tempfile_in(out_dir)
        .map_err(write_err)?;
    tmp.write_all(&json).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(&path).map_err(|e| write_err(e.error))?;
    sync_dir(out_dir);
    Ok(())
}

/// Reads `run.json`, given either the file or its output directory.
pub fn read_run_meta(out_dir: &Path) -> Result<RunMeta, StoreError> {
    let path = if out_dir.is_dir() {
        out_dir.join(RUN_META_FILE)
    } else {
        out_dir.to_path_buf()
    };
    let bytes = fs::read(&path).map_err(|source| StoreError::Read {
        path: path.clone(),
        source,
    })?;
    let corrupt = |source| StoreError::CorruptRunMeta {
        path: path.clone(),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(corrupt)?;
    from_checked_value(value, || path.display().to_string()).map_err(|e| match e {
        ValueError::Newer(err) => err,
        ValueError::Shape(source) => corrupt(source),
    })
}

enum ValueError {
    Newer(StoreError),
    Shape(serde_json::Error),
}

/// Checks `schema` before the shape, so a newer file says "upgrade" rather than
/// "missing field".
fn from_checked_value<T: DeserializeOwned>(
    value: serde_json::Value,
    location: impl FnOnce() -> String,
) -> Result<T, ValueError> {
    if let Some(found) = value.get("schema").and_then(serde_json::Value::as_u64)
        && found > u64::from(SCHEMA_VERSION)
    {
        return Err(ValueError::Newer(StoreError::NewerSchema {
            location: location(),
            found,
            supported: SCHEMA_VERSION,
        }));
    }
    serde_json::from_value(value).map_err(ValueError::Shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{fixture_meta, fixture_records};

    fn lines_of(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn append_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let records = fixture_records();
        let mut w = CellWriter::create(&out).unwrap();
        for r in &records {
            w.append(r).unwrap();
        }
        drop(w);
        assert_eq!(lines_of(&out.join(CELLS_FILE)).len(), records.len());
        let read = read_cells(&out).unwrap();
        assert_eq!(read.records, records);
        assert!(read.warnings.is_empty());
        // The file path works as well as the directory.
        let read = read_cells(&out.join(CELLS_FILE)).unwrap();
        assert_eq!(read.records.len(), records.len());
    }

    #[test]
    fn create_refuses_existing_results() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CellWriter::create(dir.path()).unwrap();
        w.append(&fixture_records()[0]).unwrap();
        drop(w);
        let err = CellWriter::create(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyHasRecords { .. }));
        assert!(err.to_string().contains("--resume"), "{err}");
        // An empty file left by a run that finished nothing is fine.
        fs::write(dir.path().join(CELLS_FILE), "").unwrap();
        CellWriter::create(dir.path()).unwrap();
    }

    #[test]
    fn partial_last_line_is_skipped_with_warning() {
        let dir = tempfile::tempdir().unwrap();
        let records = fixture_records();
        let mut w = CellWriter::create(dir.path()).unwrap();
        w.append(&records[0]).unwrap();
        w.append(&records[1]).unwrap();
        drop(w);
        let path = dir.path().join(CELLS_FILE);
        let full = serde_json::to_string(&records[2]).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&full.as_bytes()[..full.len() / 2]).unwrap();
        drop(f);

        let read = read_cells(dir.path()).unwrap();
        assert_eq!(read.records, records[..2]);
        assert_eq!(read.warnings.len(), 1);
        let w = &read.warnings[0];
        assert!(w.contains(&format!("{}:3:", path.display())), "{w}");
        assert!(w.contains("partial last line"), "{w}");
    }

    #[test]
    fn corrupt_middle_line_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let records = fixture_records();
        let path = dir.path().join(CELLS_FILE);
        let good = |i: usize| serde_json::to_string(&records[i]).unwrap();
        fs::write(
            &path,
            format!("{}\n{{\"schema\":1,\n{}\n", good(0), good(1)),
        )
        .unwrap();
        let err = read_cells(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::CorruptLine { line: 2, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:", path.display())),
            "{err}"
        );

        // Valid JSON of the wrong shape is an error even on the last line: it is not a
        // torn write.
        fs::write(&path, format!("{}\n{{\"schema\":1}}\n", good(0))).unwrap();
        let err = read_cells(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::CorruptLine { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn newer_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CELLS_FILE);
        let mut v = serde_json::to_value(&fixture_records()[0]).unwrap();
        v["schema"] = (SCHEMA_VERSION + 1).into();
        // A future schema may also have reshaped fields; the version check comes first.
        v["build"] = serde_json::json!("reshaped");
        fs::write(&path, format!("{v}\n")).unwrap();
        let err = read_cells(&path).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("upgrade crossmatrix"), "{msg}");
        assert!(msg.contains(&format!("{}:1", path.display())), "{msg}");

        let mut meta = serde_json::to_value(fixture_meta()).unwrap();
        meta["schema"] = (SCHEMA_VERSION + 1).into();
        fs::write(dir.path().join(RUN_META_FILE), meta.to_string()).unwrap();
        let err = read_run_meta(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
    }

    #[test]
    fn open_append_truncates_partial_tail() {
        let dir = tempfile::tempdir().unwrap();
        let records = fixture_records();
        let mut w = CellWriter::create(dir.path()).unwrap();
        w.append(&records[0]).unwrap();
        drop(w);
        let path = dir.path().join(CELLS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"schema\":1,\"id\":\"go1.24/li").unwrap();
        drop(f);

        let mut w = CellWriter::open_append(dir.path()).unwrap();
        assert_eq!(w.warnings().len(), 1, "{:?}", w.warnings());
        assert!(w.warnings()[0].contains(":2:"), "{:?}", w.warnings());
        w.append(&records[1]).unwrap();
        drop(w);
        let read = read_cells(dir.path()).unwrap();
        assert_eq!(read.records, records[..2]);
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    }

    #[test]
    fn open_append_keeps_a_complete_record_missing_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let records = fixture_records();
        let path = dir.path().join(CELLS_FILE);
        fs::write(&path, serde_json::to_string(&records[0]).unwrap()).unwrap();
        let mut w = CellWriter::open_append(dir.path()).unwrap();
        assert!(w.warnings().is_empty());
        w.append(&records[1]).unwrap();
        drop(w);
        assert_eq!(read_cells(&path).unwrap().records, records[..2]);

        // A missing file is a fresh start; a long partial tail (> one scan chunk) is cut.
        let fresh = dir.path().join("fresh");
        let mut w = CellWriter::open_append(&fresh).unwrap();
        w.append(&records[0]).unwrap();
        drop(w);
        let mut f = OpenOptions::new()
            .append(true)
            .open(fresh.join(CELLS_FILE))
            .unwrap();
        f.write_all(format!("{{\"id\":\"{}", "x".repeat(20_000)).as_bytes())
            .unwrap();
        drop(f);
        let w = CellWriter::open_append(&fresh).unwrap();
        assert_eq!(w.warnings().len(), 1);
        drop(w);
        assert_eq!(read_cells(&fresh).unwrap().records, records[..1]);
    }

    #[test]
    fn run_meta_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut meta = fixture_meta();
        write_run_meta(&out, &meta).unwrap();
        assert_eq!(read_run_meta(&out).unwrap(), meta);
        meta.interrupted = true;
        meta.totals.cells = 3;
        write_run_meta(&out, &meta).unwrap();
        assert_eq!(read_run_meta(&out.join(RUN_META_FILE)).unwrap(), meta);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [RUN_META_FILE]);

        fs::write(out.join(RUN_META_FILE), "{\"schema\":1").unwrap();
        let err = read_run_meta(&out).unwrap_err();
        assert!(matches!(err, StoreError::CorruptRunMeta { .. }), "{err:?}");
        assert!(err.to_string().contains("run.json"), "{err}");
    }
}
