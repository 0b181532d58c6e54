//! Event bodies: what a participant submits and signs. Each body has one canonical byte encoding
//! (docs/format.md, "Event body"); the stored record carries those exact bytes.
//!
//! Each kind lives in its own file with its struct, its fields' encoding, decoding and stateless
//! checks side by side; this file holds the common header and dispatches by kind. A new kind is
//! a new file and one row of `event_kinds!`.

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::{EventId, Hash32, LotId};
use crate::time::UtcMicros;

/// An enum of layout codes with its snake_case names (document kinds, magnet categories, roles).
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $c:literal, $txt:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $c),* }
        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// Decodes a layout code.
            pub fn from_code(c: u8) -> Option<Self> { match c { $($c => Some($name::$v),)* _ => None } }
            /// The snake_case name used in JSON and reports.
            pub fn name(self) -> &'static str { match self { $($name::$v => $txt),* } }
            /// Parses the snake_case name.
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|v| v.name() == s) }
        }
    };
}

mod adjustment;
mod assay;
mod attestation;
mod campaign;
mod composition;
mod documents;
mod facility;
mod fields;
mod magnet_intake;
mod ore_receipt;
mod registry;
mod shipment;
#[cfg(test)]
pub(crate) mod tests;

pub use adjustment::{
    countersign, countersignature_message, Adjustment, Countersignature, COUNTERSIGNATURE_DOMAIN,
};
pub use assay::AssayRecorded;
pub use attestation::{Attestation, AttestationKind, OriginMethod};
pub use campaign::{CampaignClosed, CampaignOpened, InputCharged, OutputProduced, OXIDE_NDPR};
pub use composition::Composition;
pub use documents::{DocKind, Document, MAX_DOCUMENTS};
pub use facility::{
    CertificationEnded, CertificationGranted, CertificationSuspended, CertificationWithdrawn,
    FacilityClosed, FacilityKind, FacilityRegistered,
};
pub use fields::{MAX_MASS_G, MAX_NAME_LEN, MAX_REASON_LEN};
pub use magnet_intake::{MagnetCategory, MagnetIntake, ScrapClass};
pub use ore_receipt::OreReceipt;
pub use registry::{
    KeyAdded, KeyRevoked, ParticipantRegistered, ParticipantSuspended, Role, TokenIssued,
};
pub use shipment::Shipment;

/// Version byte at the start of every body. 2 since ore receipts, intakes and campaigns name
/// a facility and assays and adjustments changed (issue 12): a version-1 body is refused by
/// name rather than misread.
pub const BODY_VERSION: u8 = 2;
/// How far in the future an event's own timestamp may be (clock skew), in microseconds.
pub const MAX_FUTURE_SKEW_US: i64 = 5 * 60 * 1_000_000;

/// The table of kinds: variant (named after its struct), layout code, snake_case name. Each
/// struct has `lots`, `validate`, `encode` and `decode`; this generates the dispatch to them.
macro_rules! event_kinds {
    ($($kind:ident = $code:literal, $name:literal;)*) => {
        /// What happened.
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub enum EventKind {
            $($kind($kind),)*
        }

        impl EventKind {
            /// Layout code of the kind.
            pub fn code(&self) -> u8 {
                match self { $(EventKind::$kind(_) => $code,)* }
            }
            /// snake_case name, also the field prefix in error messages.
            pub fn name(&self) -> &'static str {
                match self { $(EventKind::$kind(_) => $name,)* }
            }
            /// The lots this event appends to, in append order. The first is the subject (the lot
            /// an `expected_head` refers to); a second record links to the first's new head.
            pub fn lots(&self) -> Vec<LotId> {
                match self { $(EventKind::$kind(e) => e.lots(),)* }
            }
            /// The kind's stateless checks; field paths relative to the kind.
            fn validate_fields(&self) -> Result<(), FieldError> {
                match self { $(EventKind::$kind(e) => e.validate(),)* }
            }
            fn encode_fields(&self, w: &mut Writer) -> Result<(), FieldError> {
                match self { $(EventKind::$kind(e) => e.encode(w),)* }
            }
            /// None for an unknown code.
            fn decode_fields(code: u8, r: &mut Reader) -> Result<Option<EventKind>, DecodeError> {
                Ok(Some(match code {
                    $($code => EventKind::$kind($kind::decode(r)?),)*
                    _ => return Ok(None),
                }))
            }
        }
    };
}

event_kinds! {
    OreReceipt = 1, "ore_receipt";
    MagnetIntake = 2, "magnet_intake";
    CampaignOpened = 3, "campaign_opened";
    InputCharged = 4, "input_charged";
    OutputProduced = 5, "output_produced";
    CampaignClosed = 6, "campaign_closed";
    Shipment = 7, "shipment";
    AssayRecorded = 8, "assay_recorded";
    Adjustment = 9, "adjustment";
    ParticipantRegistered = 10, "participant_registered";
    KeyAdded = 11, "key_added";
    KeyRevoked = 12, "key_revoked";
    ParticipantSuspended = 13, "participant_suspended";
    TokenIssued = 14, "token_issued";
    FacilityRegistered = 15, "facility_registered";
    CertificationGranted = 16, "certification_granted";
    CertificationSuspended = 17, "certification_suspended";
    CertificationWithdrawn = 18, "certification_withdrawn";
    FacilityClosed = 19, "facility_closed";
    Attestation = 20, "attestation";
}

impl EventKind {
    /// The lot `expected_head` refers to: the campaign for a charge, else the event's subject
    /// (its first lot).
    pub fn committed_lot(&self) -> LotId {
        match self {
            EventKind::InputCharged(c) => c.campaign,
            _ => self.lots()[0],
        }
    }
    /// The plant's events whose order the signer must fix (`expected_head` required).
    pub fn must_commit(&self) -> bool {
        matches!(
            self,
            EventKind::InputCharged(_) | EventKind::OutputProduced(_) | EventKind::Shipment(_)
        )
    }
    /// True for the events that change the participant registry: codes 10 to 19.
    pub fn is_registry(&self) -> bool {
        (10..=19).contains(&self.code())
    }
}

/// A submitted event: the unit that is signed, deduplicated and appended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventBody {
    /// The client's idempotency key.
    pub event_id: EventId,
    /// When it happened, as the submitter says (UTC).
    pub occurred_at: UtcMicros,
    /// If set, the submission is rejected unless the head of [`EventKind::committed_lot`] is
    /// this record hash. Required for the plant's charges, outputs and shipments: signed, it
    /// fixes the event's place in that chain, so reordering or dropping events breaks a
    /// signature, not only a chain (docs/format.md, "The order commitment").
    pub expected_head: Option<Hash32>,
    pub kind: EventKind,
}

impl EventBody {
    /// Checks everything that does not depend on ledger state. `now` bounds `occurred_at`.
    /// Field paths follow the gRPC message (`ore_receipt.mass_g`).
    pub fn validate(&self, now: UtcMicros) -> Result<(), FieldError> {
        if self.occurred_at.0 > now.0.saturating_add(MAX_FUTURE_SKEW_US) {
            return Err(FieldError::new(
                "occurred_at",
                format!(
                    "{} is in the future (server time {})",
                    self.occurred_at, now
                ),
            ));
        }
        if self.occurred_at.0 < UtcMicros::EARLIEST.0 {
            return Err(FieldError::new(
                "occurred_at",
                format!("{} is before 2000-01-01", self.occurred_at),
            ));
        }
        if self.expected_head.is_none() && self.kind.must_commit() {
            return Err(FieldError::new(
                "expected_head",
                format!(
                    "required for {}: the head hash of lot {} (GetLot), which fixes the event's place in its chain",
                    self.kind.name(),
                    self.kind.committed_lot()
                ),
            ));
        }
        self.kind
            .validate_fields()
            .map_err(|e| e.at(self.kind.name()))
    }

    /// Fills the order commitments a signer must make and has left empty (`expected_head` of a
    /// kind that must commit, a charge's `input_head`) from `head`, a lot's current head hash
    /// (`None`: no such lot, whose head is zero, as a genesis record's `prev`). Called by the
    /// signer before signing, with heads it trusts (its last answers, GetLot).
    pub fn commit_to(&mut self, head: impl Fn(&LotId) -> Option<Hash32>) {
        if self.expected_head.is_none() && self.kind.must_commit() {
            self.expected_head = Some(head(&self.kind.committed_lot()).unwrap_or(Hash32::ZERO));
        }
        if let EventKind::InputCharged(c) = &mut self.kind {
            if c.input_head == Hash32::ZERO {
                c.input_head = head(&c.input).unwrap_or(Hash32::ZERO);
            }
        }
    }

    /// The head this body commits to for its record on `lot` (the record's `prev` must equal
    /// it): `expected_head` for the committed lot, a charge's `input_head` for its input.
    pub fn commitment(&self, lot: &LotId) -> Option<Hash32> {
        if let EventKind::InputCharged(c) = &self.kind {
            if *lot == c.input {
                return Some(c.input_head);
            }
        }
        self.expected_head
            .filter(|_| *lot == self.kind.committed_lot())
    }

    /// The canonical bytes (docs/format.md, "Event body"), or the field the layout cannot hold
    /// (a string past 65,535 bytes, more than 255 documents): never bytes that say something
    /// else. [`EventBody::validate`] refuses all of these, with tighter limits, and more.
    pub fn encode(&self) -> Result<Vec<u8>, FieldError> {
        let mut w = Writer::with_capacity(128);
        w.u8(BODY_VERSION);
        w.u8(self.kind.code());
        w.raw(&self.event_id.bytes());
        w.i64(self.occurred_at.0);
        match &self.expected_head {
            None => w.u8(0),
            Some(h) => {
                w.u8(1);
                w.raw(&h.0);
            }
        }
        self.kind
            .encode_fields(&mut w)
            .map_err(|e| e.at(self.kind.name()))?;
        Ok(w.buf)
    }

    /// Parses canonical bytes. Rejects anything [`EventBody::encode`] would not produce.
    pub fn decode(bytes: &[u8]) -> Result<EventBody, DecodeError> {
        let mut r = Reader::new(bytes, "event body");
        let v = r.u8()?;
        if v != BODY_VERSION {
            return Err(r.err(format!(
                "body version {v} is not supported (this build reads {BODY_VERSION})"
            )));
        }
        let code = r.u8()?;
        let event_id = EventId(uuid::Uuid::from_bytes(r.array()?));
        let occurred_at = UtcMicros(r.i64()?);
        let expected_head = if r.flag()? {
            Some(Hash32(r.array()?))
        } else {
            None
        };
        let Some(kind) = EventKind::decode_fields(code, &mut r)? else {
            return Err(DecodeError {
                what: "event body",
                offset: 1,
                reason: format!("unknown event kind {code}"),
            });
        };
        r.finish()?;
        Ok(EventBody {
            event_id,
            occurred_at,
            expected_head,
            kind,
        })
    }
}
