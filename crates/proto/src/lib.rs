//! ree-ledger's gRPC contract, the one crate that knows the wire: the `ree.v1` messages and
//! services generated from `proto/` by `build.rs`, with protobuf-JSON serde (for `ree submit`'s
//! JSON lines) and the encoded file descriptor set (for server reflection); the conversions to
//! and from the domain; and what a client needs beside them (credential files, the batch limit,
//! the clock it stamps events with), so the CLI's client commands need no server or engine.
#![forbid(unsafe_code)]

pub mod convert;
pub mod creds;

/// Generated `ree.v1` types, clients and servers.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/ree.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/ree.v1.serde.rs"));
}

/// The encoded `FileDescriptorSet` of every proto file (with imports), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ree_descriptor.bin"));

pub use pbjson_types;

/// Most events in one `SubmitBatch` request (the engine refuses more; `ree_engine::MAX_BATCH`
/// is the same number, checked at compile time by the server).
pub const MAX_BATCH: usize = 1000;

/// Now, as the wall clock says: what a client stamps an event's `occurred_at` with.
pub fn now_utc() -> ree_core::UtcMicros {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ree_core::UtcMicros(since_epoch.as_micros().min(i64::MAX as u128) as i64)
}
