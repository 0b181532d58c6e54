//! The process's Unix settings, made before anything else runs: the crate's only unsafe code.
#![allow(unsafe_code)]

/// Restores SIGPIPE's default (like any Unix filter, a closed pipe as in `ree events X | head`
/// ends the process quietly instead of panicking on the next write) and sets umask 077 (the
/// ledger and its backups are confidential: whatever ree, or sled, creates is owner-only).
pub fn prepare() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; no thread is running yet.
    unsafe {
        libc::umask(0o077);
    }
}
