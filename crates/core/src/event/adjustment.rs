//! Kind 9: a loss or stock-count correction.

use super::fields::{check_reason, read_lot, MAX_MASS_G};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::LotId;

/// A loss (negative) or stock-count correction, with a reason. Never an edit of history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Adjustment {
    pub lot: LotId,
    pub delta_g: i64,
    pub reason: String,
}

impl Adjustment {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        if self.delta_g == 0 {
            return Err(FieldError::new("delta_g", "must not be 0"));
        }
        if self.delta_g.unsigned_abs() > MAX_MASS_G {
            return Err(FieldError::new(
                "delta_g",
                format!("|delta| exceeds {MAX_MASS_G} g"),
            ));
        }
        check_reason("reason", &self.reason)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.lot.bytes());
        w.i64(self.delta_g);
        w.str("reason", &self.reason)?;
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Adjustment {
            lot: read_lot(r)?,
            delta_g: r.i64()?,
            reason: r.str()?,
        })
    }
}
