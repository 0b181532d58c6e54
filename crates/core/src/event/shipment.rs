//! Kind 7: oxide shipped to a customer.

use super::fields::{check_mass, check_name, read_country, read_lot};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::error::{DecodeError, FieldError};
use crate::ids::{Hash32, LotId};

/// Oxide shipped to a customer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Shipment {
    pub lot: LotId,
    pub mass_g: u64,
    pub customer: String,
    pub destination: Country,
    pub document: Hash32,
}

impl Shipment {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_mass("mass_g", self.mass_g)?;
        check_name("customer", &self.customer)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.lot.bytes());
        w.u64(self.mass_g);
        w.str("customer", &self.customer)?;
        w.raw(&self.destination.bytes());
        w.raw(&self.document.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Shipment {
            lot: read_lot(r)?,
            mass_g: r.u64()?,
            customer: r.str()?,
            destination: read_country(r)?,
            document: Hash32(r.array()?),
        })
    }
}
