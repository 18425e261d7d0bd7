//! The `server` binary: parse the command line, run it. Everything else is in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    wxhub::return_large_allocations_to_the_os();
    let cli = match wxhub::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(wxhub::cli::run(cli))
}
