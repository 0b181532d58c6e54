//! Conversions between the wire types (`ree.v1`) and the domain (`ree-core`): the server's
//! requests and answers, and what the CLI sends and prints.

mod crma;
mod facility;
mod from_wire;
mod to_wire;

pub use crma::{crma_pb, reassay_pb};
pub use facility::{facility_id, facility_pb};
pub use from_wire::*;
pub use to_wire::*;
