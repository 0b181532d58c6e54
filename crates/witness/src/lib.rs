//! ree-ledger's witness (C2SP tlog-witness `add-checkpoint`, tlog-cosignature v1) and the
//! monitor's consistency check.
//!
//! The decision itself is pure and lives in `ree_tlog::witness`; this crate adds what a real
//! witness needs around it: its key pair on disk ([`keys`]), the last cosigned checkpoint per
//! origin, persisted atomically *before* a cosignature leaves the process ([`state`]), the HTTP
//! endpoint with per-origin serialization ([`server`]), and the monitor's check of a new
//! checkpoint against the one it saved ([`monitor`]) and its fetch-check-save loop ([`follow`]).
#![forbid(unsafe_code)]

pub mod follow;
pub mod keys;
pub mod monitor;
pub mod server;
pub mod state;

pub use follow::{follow, step, CheckpointSource, Outcome};
pub use keys::{load_log_keys, load_or_create, KeyError, WitnessKeys};
pub use monitor::{check, MonitorError, MonitorState};
pub use server::{router, serve, ServeError, Witness};
pub use state::{StateError, StateStore};
