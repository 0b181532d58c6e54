//! Kind 8: a laboratory's corrected content of an ore or recycled lot.

use super::composition::Composition;
use super::fields::{check_name, read_lot};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::{Hash32, LotId};

/// A laboratory's corrected content of an ore or recycled lot; applies to later charges.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssayRecorded {
    pub lot: LotId,
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
        w.str("lab", &self.lab)?;
        self.content.encode(w);
        w.raw(&self.certificate.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(AssayRecorded {
            lot: read_lot(r)?,
            lab: r.str()?,
            content: Composition::decode(r)?,
            certificate: Hash32(r.array()?),
        })
    }
}
