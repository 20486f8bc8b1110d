//! `--resume DIR` continues the plan recorded in DIR: alone (`crossmatrix run --resume DIR`) it
//! re-plans with the command `run.json` recorded, from the directory it ran in; with axis flags
//! it must plan the same matrix, or it is refused with the difference named — two plans never
//! mix in one result.

use anyhow::{Result, bail};
use crossmatrix_results::RunMeta;
use std::ffi::OsString;
use std::path::Path;

/// Flags of `run`/`test` that take a value and do not change the plan: given with `--resume`
/// alone, they apply to the resumed run.
const PLAN_NEUTRAL_VALUED: &[&str] = &["-j", "--jobs", "--format", "--cache-dir"];
/// The same, without a value.
const PLAN_NEUTRAL_SWITCHES: &[&str] = &["--no-progress", "--rerun", "--recheck"];

/// The command line the run was parsed from (the replayed one when resuming), after the
/// program name: set once by `main`.
static EFFECTIVE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

pub fn set_effective_args(args: &[OsString]) {
    let _ = EFFECTIVE.set(
        args.iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    );
}

/// What `run.json` records as the command: the effective command line without `--out` and
/// `--resume`.
pub fn recorded_command() -> Vec<String> {
    let args = EFFECTIVE
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::args().skip(1).collect());
    planning_command(args.into_iter())
}

/// The command line to record: `args` (after the program name) without `--out` and `--resume`
/// and their values.
pub fn planning_command(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    let mut after_dashdash = false;
    for a in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if !after_dashdash {
            if a == "--" {
                after_dashdash = true;
            } else if a == "--out" || a == "--resume" {
                skip_value = true;
                continue;
            } else if a.starts_with("--out=") || a.starts_with("--resume=") {
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// `args` (the whole command line) for `run`/`test --resume DIR` with nothing that changes the
/// plan: the command DIR's `run.json` recorded, with the plan-neutral flags given now, and the
/// directory to run it in. `None` when the command line is to be taken as it is.
pub fn expand(args: &[OsString]) -> Result<Option<(Vec<OsString>, Option<String>)>> {
    let strs: Vec<String> = match args.iter().map(|a| a.clone().into_string()).collect() {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let Some(sub) = strs.get(1).filter(|s| *s == "run" || *s == "test") else {
        return Ok(None);
    };
    let mut dir = None;
    let mut neutral: Vec<String> = Vec::new();
    let mut i = 2;
    while i < strs.len() {
        let a = &strs[i];
        if a == "--resume" {
            dir = strs.get(i + 1).cloned();
            i += 2;
        } else if let Some(d) = a.strip_prefix("--resume=") {
            dir = Some(d.to_string());
            i += 1;
        } else if PLAN_NEUTRAL_VALUED.contains(&a.as_str()) && i + 1 < strs.len() {
            neutral.extend([a.clone(), strs[i + 1].clone()]);
            i += 2;
        } else if PLAN_NEUTRAL_SWITCHES.contains(&a.as_str())
            || PLAN_NEUTRAL_VALUED
                .iter()
                .any(|f| f.starts_with("--") && a.starts_with(&format!("{f}=")))
        {
            neutral.push(a.clone());
            i += 1;
        } else {
            // Anything else (an axis, a package, a config, test flags): the command is the
            // plan; `check_same_plan` compares it with DIR's.
            return Ok(None);
        }
    }
    let Some(dir) = dir else {
        return Ok(None);
    };
    let Ok(meta) = crossmatrix_results::read_run_meta(Path::new(&dir)) else {
        return Ok(None); // no plan recorded: the run's own error says what is wrong
    };
    if meta.command.is_empty() {
        return Ok(None); // recorded before commands were: as before, the flags given decide
    }
    if meta.command.first() != Some(sub) {
        bail!(
            "--resume {dir}: that directory holds a `crossmatrix {}` run; resume it with `crossmatrix {} --resume {dir}`",
            meta.command[0],
            meta.command[0]
        );
    }
    let mut recorded = meta.command.clone();
    // The flags given now replace the recorded ones of the same name.
    for flag in neutral.iter().filter(|f| f.starts_with('-')) {
        let name = flag.split('=').next().unwrap_or(flag).to_string();
        remove_flag(&mut recorded, &name);
    }
    let at = recorded
        .iter()
        .position(|a| a == "--")
        .unwrap_or(recorded.len());
    let mut tail = recorded.split_off(at);
    recorded.extend(neutral);
    recorded.extend(["--resume".to_string(), dir]);
    recorded.append(&mut tail);
    let mut out: Vec<OsString> = vec![args[0].clone()];
    out.extend(recorded.into_iter().map(OsString::from));
    let cwd = (!meta.cwd.is_empty() && Path::new(&meta.cwd).is_dir()).then(|| meta.cwd.clone());
    Ok(Some((out, cwd)))
}

/// Removes `name` (and its value, for a valued flag) from `cmd`, before any `--`.
fn remove_flag(cmd: &mut Vec<String>, name: &str) {
    let valued = PLAN_NEUTRAL_VALUED.contains(&name);
    let mut i = 0;
    while i < cmd.len() && cmd[i] != "--" {
        if cmd[i] == name {
            let n = if valued { 2 } else { 1 };
            cmd.drain(i..(i + n).min(cmd.len()));
        } else if cmd[i].starts_with(&format!("{name}=")) {
            cmd.remove(i);
        } else {
            i += 1;
        }
    }
}

/// With `--resume DIR`: refuses a plan other than the one DIR recorded, naming the difference.
pub fn check_same_plan(
    dir: &Path,
    matrix_hash: &str,
    shard: Option<&str>,
    ids: &[String],
) -> Result<()> {
    let Ok(meta) = crossmatrix_results::read_run_meta(dir) else {
        return Ok(()); // nothing recorded yet: whatever this run plans is its plan
    };
    if meta.matrix_hash == matrix_hash && meta.shard.as_deref() == shard {
        return Ok(());
    }
    bail!("{}", difference(dir, &meta, shard, ids));
}

fn difference(dir: &Path, meta: &RunMeta, shard: Option<&str>, ids: &[String]) -> String {
    let theirs: &[String] = if meta.matrix_planned.is_empty() {
        &meta.planned
    } else {
        &meta.matrix_planned
    };
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        let b: std::collections::HashSet<&String> = b.iter().collect();
        a.iter().filter(|x| !b.contains(x)).cloned().collect()
    };
    let (here, there) = (only(ids, theirs), only(theirs, ids));
    let list = |v: &[String]| {
        let mut s: Vec<String> = v.iter().take(3).cloned().collect();
        if v.len() > 3 {
            s.push(format!("… {} more", v.len() - 3));
        }
        s.join(", ")
    };
    let mut what = Vec::new();
    if !here.is_empty() {
        what.push(format!(
            "{} planned here are not in its plan ({})",
            here.len(),
            list(&here)
        ));
    }
    if !there.is_empty() {
        what.push(format!(
            "{} of its cells are not planned here ({})",
            there.len(),
            list(&there)
        ));
    }
    if meta.shard.as_deref() != shard {
        what.push(format!(
            "it is shard {}, this is {}",
            meta.shard.as_deref().unwrap_or("(none)"),
            shard.unwrap_or("(none)")
        ));
    }
    if what.is_empty() {
        what.push("the same cells with other inputs (toolchain versions)".to_string());
    }
    let recorded = if meta.command.is_empty() {
        String::new()
    } else {
        format!(
            " (it was planned by `crossmatrix {}`)",
            meta.command.join(" ")
        )
    };
    format!(
        "--resume {}: this command plans another matrix than the run there: {}. Run `crossmatrix {} --resume {}` alone to continue its plan{recorded}, or give --out a new directory",
        dir.display(),
        what.join("; "),
        meta.command.first().map_or("run", String::as_str),
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_recorded_command_drops_out_and_resume() {
        let args = [
            "run",
            "--out",
            "o",
            "--target",
            "linux/arm64",
            "--resume=x",
            "--",
            "--out",
        ];
        let cmd = planning_command(args.iter().map(|s| s.to_string()));
        assert_eq!(cmd, ["run", "--target", "linux/arm64", "--", "--out"]);
    }

    #[test]
    fn resume_alone_replays_the_recorded_command_with_the_flags_given_now() {
        let d = tempfile::tempdir().unwrap();
        let mut meta = crossmatrix_results::RunMeta {
            command: [
                "test",
                "./...",
                "--target",
                "linux/arm64",
                "-j",
                "1",
                "--",
                "-short",
            ]
            .map(String::from)
            .to_vec(),
            cwd: d.path().display().to_string(),
            ..serde_json::from_value(serde_json::json!({
                "schema": 1, "crossmatrix_version": "x", "started_at": "", "finished_at": "",
                "wall_ms": 0, "host": {"hostname": "h", "os": "linux", "arch": "amd64",
                "kernel": "", "cores": 1, "user": "u", "binfmt": false},
                "tools": [], "toolchains": [], "matrix_hash": "h", "planned": [], "jobs": 1,
                "reps": 0, "totals": {"cells": 0, "pass": 0, "fail": 0, "skipped": 0, "built": 0}
            }))
            .unwrap()
        };
        crossmatrix_results::write_run_meta(d.path(), &meta).unwrap();
        let dir = d.path().display().to_string();
        let (args, cwd) = expand(&os(&["cm", "test", "--resume", &dir, "-j", "4"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            args,
            os(&[
                "cm",
                "test",
                "./...",
                "--target",
                "linux/arm64",
                "-j",
                "4",
                "--resume",
                &dir,
                "--",
                "-short"
            ])
        );
        assert_eq!(cwd.as_deref(), Some(dir.as_str()));
        // With an axis flag, the command line is the plan (and is checked against DIR's).
        assert!(
            expand(&os(&[
                "cm",
                "test",
                "--resume",
                &dir,
                "--target",
                "linux/amd64"
            ]))
            .unwrap()
            .is_none()
        );
        // Another subcommand's run is refused.
        let err = expand(&os(&["cm", "run", "--resume", &dir])).unwrap_err();
        assert!(
            err.to_string().contains("crossmatrix test --resume"),
            "{err}"
        );
        // A different plan is refused, naming the difference.
        meta.planned = vec!["a".into(), "b".into()];
        crossmatrix_results::write_run_meta(d.path(), &meta).unwrap();
        let err = check_same_plan(d.path(), "other", None, &["b".into(), "c".into()]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("1 planned here are not in its plan (c)"),
            "{msg}"
        );
        assert!(
            msg.contains("1 of its cells are not planned here (a)"),
            "{msg}"
        );
        assert!(
            msg.contains("crossmatrix test ./... --target linux/arm64"),
            "{msg}"
        );
        assert!(check_same_plan(d.path(), "h", None, &[]).is_ok());
    }
}
