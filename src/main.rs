//! The `crossmatrix` binary: parses arguments and wires the crates together.

mod cli;
mod commands;
mod doctor;
mod fetch;
mod probe;
mod progress;
mod resume;
mod run;
mod toolchain_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `run|test --resume DIR` alone continues the plan DIR recorded.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match resume::expand(&argv) {
        Ok(Some((replayed, cwd))) => {
            if let Some(dir) = cwd {
                if let Err(e) = std::env::set_current_dir(&dir) {
                    eprintln!(
                        "error: --resume: cannot enter {dir}, where the run was planned: {e}"
                    );
                    return ExitCode::from(2);
                }
            }
            eprintln!(
                "crossmatrix: resuming the recorded plan: crossmatrix {}",
                replayed[1..]
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            resume::set_effective_args(&replayed);
            cli::Cli::parse_from(replayed)
        }
        Ok(None) => {
            resume::set_effective_args(&argv);
            cli::Cli::parse_from(argv)
        }
        Err(e) => {
            eprintln!("error: {}", message(&e));
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        cli::Command::Run(a) => run::run(a),
        cli::Command::Test(a) => run::test(a),
        cli::Command::Probe(a) => probe::probe(a),
        cli::Command::Plan(a) => commands::plan(a),
        cli::Command::Fetch(a) => fetch::fetch(a),
        cli::Command::Report(a) => commands::report(a),
        cli::Command::Compare(a) => commands::compare(a),
        cli::Command::History(a) => commands::history(a),
        cli::Command::Merge(a) => commands::merge(a),
        cli::Command::Doctor(a) => doctor::doctor(a),
        cli::Command::Toolchain(a) => toolchain_cmd::toolchain(a),
        cli::Command::Cache(a) => commands::cache(a),
        cli::Command::WasmExec(a) => return commands::wasm_exec(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: most of our errors already name their source in
/// their own message (`writing FILE: {source}`), which `{:#}` would repeat.
fn message(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("writing out: {source}")]
        struct Outer {
            source: std::io::Error,
        }
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(Outer { source: io });
        assert_eq!(super::message(&e), "writing out: disk full");
        let e = anyhow::anyhow!("root cause").context("reading config");
        assert_eq!(super::message(&e), "reading config: root cause");
    }
}
