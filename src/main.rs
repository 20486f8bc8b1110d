//! The `crossmatrix` binary: parses arguments and wires the crates together.

mod cli;
mod commands;
mod doctor;
mod fetch;
mod probe;
mod reporters;
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
        cli::Command::WasmExec(a) => return commands::wasm_exec(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
