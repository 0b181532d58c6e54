//! Kind 8: an assay of an ore or recycled lot: its owner's declaration, or a laboratory's.

use super::composition::Composition;
use super::facility::read_facility;
use super::fields::{check_name, read_lot};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::{FacilityId, Hash32, LotId};

/// An assay of an ore or recycled lot; applies to later charges only (each charge keeps the assay
/// in effect when it was made).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssayRecorded {
    pub lot: LotId,
    /// The laboratory facility (a laboratory's assay); `None` for the owner's declaration.
    pub facility: Option<FacilityId>,
    pub lab: String,
    pub content: Composition,
    pub certificate: Hash32,
}

impl AssayRecorded {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("lab", &self.lab)?;
        if self.content.is_empty() {
            return Err(FieldError::new(
                "content",
                "an assay lists at least one element",
            ));
        }
        Ok(())
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.lot.bytes());
        match &self.facility {
            None => w.u8(0),
            Some(f) => {
                w.u8(1);
                w.raw(&f.bytes());
            }
        }
        w.str("lab", &self.lab)?;
        self.content.encode(w);
        w.raw(&self.certificate.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(AssayRecorded {
            lot: read_lot(r)?,
            facility: if r.flag()? {
                Some(read_facility(r)?)
            } else {
                None
            },
            lab: r.str()?,
            content: Composition::decode(r)?,
            certificate: Hash32(r.array()?),
        })
    }
}
