//! The `server` binary: parse the command line, run it. Everything else is in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_allocations_to_the_os();
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

/// argon2 allocates 19 MiB for every password hash. glibc raises its mmap threshold after the first
/// such block is freed, and later blocks then stay in per-thread arenas: about 100 MB kept after a
/// burst of sign-ins. A fixed threshold keeps large blocks mmapped, so they go back on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_os() {
    // SAFETY: mallopt only tunes the allocator; called first thing, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}
