//! ree-ledger's gRPC contract: the `ree.v1` messages and services generated from `proto/` by
//! `build.rs`, with protobuf-JSON serde (for `ree submit`'s JSON lines) and the encoded file
//! descriptor set (for server reflection).

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
