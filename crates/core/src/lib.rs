//! The domain core of ree-ledger: lots, events, their canonical bytes and hashes, the rules,
//! provenance attribution and the proof-bundle format.
//!
//! Pure by design: no I/O, no async, no clocks (callers pass the time in), no wire types. The
//! engine, the server and the offline verifier all share this crate, so they apply the same rules
//! to the same bytes. The byte layouts are specified in `docs/format.md`.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod codec;
pub mod country;
pub mod crma;
pub mod element;
pub mod error;
pub mod event;
mod field_error;
pub mod ids;
pub mod provenance;
pub mod record;
pub mod registry;
pub mod signature;
pub mod state;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod time;

pub use country::Country;
pub use element::{Element, Oxide};
pub use error::{DecodeError, FieldError, RuleError};
pub use event::EventBody;
pub use ids::{EventId, FacilityId, Hash32, LotId, ParticipantId};
pub use record::Record;
pub use state::{LedgerState, LotState};
pub use time::UtcMicros;
