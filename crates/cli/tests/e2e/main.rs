//! End to end, through the real binaries (`ree serve`, the `ree` CLI, `ree-verify`): one test
//! binary, one module a feature. The crash and durability tests are binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod auth;
mod backup;
mod claims;
mod cli;
mod data_safety;
mod disclosure;
mod fixtures;
mod hardening;
mod newcomer;
mod queries;
mod readme;
mod registry;
mod rules;
mod submit;
mod tlog;
mod tls;
mod verify;
mod watch;
