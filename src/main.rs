//! The `crossmatrix` binary: parses arguments and wires the crates together.

mod cli;
mod commands;
mod doctor;
mod fetch;
mod probe;
mod progress;
mod run;
mod toolchain_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Run(a) => run::run(a),
        cli::Command::Test(a) => run::test(a),
        cli::Command::Probe(a) => probe::probe(a),
        cli::Command::Plan(a) => commands::plan(a),
        cli::Command::Fetch(a) => fetch::fetch(a),
        cli::Command::Report(a) => commands::report(a),
        cli::Command::Compare(a) => commands::compare(a),
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
