//! ree-ledger's transparency log, as a pure library: no I/O, no async, no clock.
//!
//! Every stored record is a leaf of one RFC 6962 Merkle tree (SHA-256) in global order: leaf
//! `i` is the record whose `global_seq` is `i + 1`, and the leaf is the record's 32-byte blake3
//! hash. The log signs C2SP checkpoints (signed notes) of the tree, witnesses cosign them
//! (tlog-cosignature v1) when they are consistent with what they saw before (tlog-witness), and
//! bundles carry inclusion proofs that verify offline. The server, the store, the witness
//! server and `ree-verify` call this crate; it never reads a file or a socket, so the offline
//! verifier can depend on it.
//!
//! Modules: [`tree`] (roots and proofs from a [`HashReader`]), [`verify`] (proof checks),
//! [`memstore`] and [`frontier`] (in-memory hash storage and the incremental root), [`note`]
//! (signed notes and keys), [`checkpoint`], [`cosignature`], [`tiles`] and [`witness`].
#![forbid(unsafe_code)]

pub mod batch;
pub mod checkpoint;
pub mod cosignature;
#[cfg(test)]
mod example;
pub mod frontier;
pub mod hash;
pub mod memstore;
pub mod multiproof;
pub mod note;
pub mod tiles;
pub mod tree;
pub mod verify;
pub mod witness;

pub use batch::InclusionBatch;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosignature::{CosignatureError, Cosigner};
pub use frontier::Frontier;
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HASH_LEN};
pub use memstore::MemHashStore;
pub use multiproof::{multi_proof, verify_multi};
pub use note::{Note, NoteError, NoteSignature, NoteSigner, SigType, VerifierKey};
pub use tree::{
    consistency_proof, inclusion_proof, root, HashReader, NodeId, ReadError, TreeError,
};
pub use verify::{verify_consistency, verify_inclusion, ProofError};
