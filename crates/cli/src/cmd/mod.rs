//! What each command does, one module a family; `main.rs` dispatches to them.

pub mod audit;
pub mod backup;
pub mod check;
pub mod facility;
pub mod monitor;
pub mod participant;
pub mod query;
pub mod serve;
pub mod submit;
pub mod watch;
pub mod witness;
