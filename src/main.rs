//! The `crossmatrix` binary: parses arguments and wires the crates together.

mod cli;
mod doctor;
mod hostinfo;
mod run;
mod toolchain_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Run(a) => run::run(a),
        cli::Command::Plan(a) => run::plan(a),
        cli::Command::Report(a) => run::report(a),
        cli::Command::Compare(a) => run::compare(a),
        cli::Command::Merge(a) => run::merge(a),
        cli::Command::Doctor(a) => doctor::doctor(a),
        cli::Command::Toolchain(a) => toolchain_cmd::toolchain(a),
        cli::Command::WasmExec(a) => return run::wasm_exec(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
