//! End to end, through the real binaries (`ree serve`, the `ree` CLI, `ree-verify`): one test
//! binary, one module a feature. The crash and durability tests are binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod auth;
mod backup;
mod claims;
mod cli;
mod crma;
mod data_safety;
mod disclosure;
mod fixtures;
mod hardening;
mod monitor;
mod newcomer;
mod queries;
mod readme;
mod registry;
mod rules;
mod submit;
mod tiles;
mod tlog;
mod tls;
mod treefile;
mod verify;
mod watch;
mod witnessing;
