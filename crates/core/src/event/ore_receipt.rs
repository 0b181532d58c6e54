//! Kind 1: ore concentrate received from a mine.

use super::composition::Composition;
use super::documents::{check_documents, decode_documents, encode_documents, Document};
use super::facility::read_facility;
use super::fields::{check_mass, check_name, check_ppm, read_country, read_lot};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::error::{DecodeError, FieldError};
use crate::ids::{FacilityId, LotId};

/// Ore concentrate received from a mine (creates the lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OreReceipt {
    pub lot: LotId,
    /// The mine site, registered and operated by the signing supplier: it decides the origin.
    pub facility: FacilityId,
    /// Free text for display; the signer is the supplier.
    pub supplier: String,
    /// Free text for display; `facility` is the site.
    pub mine_site: String,
    /// Country of extraction: must be the site's.
    pub country: Country,
    pub mass_g: u64,
    /// Total rare-earth oxide grade, ppm of the lot's mass.
    pub reo_grade_ppm: u32,
    /// Per-element content, ppm of element (not oxide) in the lot's mass.
    pub assay: Composition,
    pub documents: Vec<Document>,
}

impl OreReceipt {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.lot]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("supplier", &self.supplier)?;
        check_name("mine_site", &self.mine_site)?;
        check_mass("mass_g", self.mass_g)?;
        check_ppm("reo_grade_ppm", self.reo_grade_ppm, false)?;
        check_documents("documents", &self.documents)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.lot.bytes());
        w.raw(&self.facility.bytes());
        w.str("supplier", &self.supplier)?;
        w.str("mine_site", &self.mine_site)?;
        w.raw(&self.country.bytes());
        w.u64(self.mass_g);
        w.u32(self.reo_grade_ppm);
        self.assay.encode(w);
        encode_documents(w, &self.documents)
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(OreReceipt {
            lot: read_lot(r)?,
            facility: read_facility(r)?,
            supplier: r.str()?,
            mine_site: r.str()?,
            country: read_country(r)?,
            mass_g: r.u64()?,
            reo_grade_ppm: r.u32()?,
            assay: Composition::decode(r)?,
            documents: decode_documents(r)?,
        })
    }
}
