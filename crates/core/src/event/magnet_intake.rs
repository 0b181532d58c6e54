//! Kind 2: recycled magnet feed received from a recycler or collector.

use super::composition::Composition;
use super::documents::{check_documents, decode_documents, encode_documents, Document};
use super::facility::read_facility;
use super::fields::{check_mass, check_name, read_country, read_lot};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::error::{DecodeError, FieldError};
use crate::ids::{FacilityId, LotId};

code_enum!(
    /// Where recycled magnet feed comes from.
    MagnetCategory {
        /// End-of-life electric-vehicle traction motors.
        EvMotor = 1, "ev_motor";
        /// Wind-turbine generators.
        WindTurbine = 2, "wind_turbine";
        /// Hard-disk drives.
        HardDisk = 3, "hard_disk";
        /// Manufacturing swarf, grinding sludge, off-cuts.
        IndustrialSwarf = 4, "industrial_swarf";
        /// Rejected magnets from production.
        ProductionReject = 5, "production_reject";
        /// Consumer electronics, speakers, small motors.
        ConsumerElectronics = 6, "consumer_electronics";
    }
);

code_enum!(
    /// Pre- or post-consumer scrap; the EU CRMA (Art. 29) asks for post-consumer shares separately.
    ScrapClass {
        /// Manufacturing waste that never reached a consumer.
        PreConsumer = 1, "pre_consumer";
        /// End-of-life products.
        PostConsumer = 2, "post_consumer";
    }
);

/// Recycled magnet feed received from a recycler or collector (creates the lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MagnetIntake {
    pub lot: LotId,
    /// The collection point or recycling plant of the signing recycler: it decides the origin.
    pub facility: FacilityId,
    pub recycler: String,
    pub category: MagnetCategory,
    pub scrap: ScrapClass,
    /// Country of collection: must be the site's.
    pub country: Country,
    pub mass_g: u64,
    pub content: Composition,
    pub documents: Vec<Document>,
}

impl MagnetIntake {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("recycler", &self.recycler)?;
        check_mass("mass_g", self.mass_g)?;
        check_documents("documents", &self.documents)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.lot.bytes());
        w.raw(&self.facility.bytes());
        w.str("recycler", &self.recycler)?;
        w.u8(self.category as u8);
        w.u8(self.scrap as u8);
        w.raw(&self.country.bytes());
        w.u64(self.mass_g);
        self.content.encode(w);
        encode_documents(w, &self.documents)
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(MagnetIntake {
            lot: read_lot(r)?,
            facility: read_facility(r)?,
            recycler: r.str()?,
            category: {
                let c = r.u8()?;
                MagnetCategory::from_code(c)
                    .ok_or_else(|| r.err(format!("unknown magnet category {c}")))?
            },
            scrap: {
                let c = r.u8()?;
                ScrapClass::from_code(c).ok_or_else(|| r.err(format!("unknown scrap class {c}")))?
            },
            country: read_country(r)?,
            mass_g: r.u64()?,
            content: Composition::decode(r)?,
            documents: decode_documents(r)?,
        })
    }
}
