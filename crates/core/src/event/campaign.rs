//! Kinds 3-6: a separation campaign opens, is charged with input lots, produces oxide lots and
//! closes.

use super::facility::read_facility;
use super::fields::{check_mass, check_name, check_ppm, read_country, read_lot, MAX_MASS_G};
use crate::codec::{Reader, Writer};
use crate::country::Country;
use crate::element::{Element, Oxide, PPM};
use crate::error::{DecodeError, FieldError};
use crate::ids::{FacilityId, Hash32, LotId};

/// Oxide code for NdPr oxide in the layout; single oxides use their element's code.
pub const OXIDE_NDPR: u8 = 100;

/// A separation campaign of one facility starts (creates the campaign lot).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignOpened {
    pub campaign: LotId,
    /// The separation plant, registered and operated by the signing plant operator.
    pub facility_id: FacilityId,
    /// Display name of the plant.
    pub facility: String,
    /// Country of processing: must be the plant's.
    pub country: Country,
}

impl CampaignOpened {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.campaign]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        check_name("facility", &self.facility)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.campaign.bytes());
        w.raw(&self.facility_id.bytes());
        w.str("facility", &self.facility)?;
        w.raw(&self.country.bytes());
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(CampaignOpened {
            campaign: read_lot(r)?,
            facility_id: read_facility(r)?,
            facility: r.str()?,
            country: read_country(r)?,
        })
    }
}

/// Grams of an ore or recycled lot charged into a campaign: one record on each lot. The body's
/// `expected_head` commits to the campaign's head and `input_head` to the input's, so the
/// signature fixes where the charge sits in both chains (docs/format.md, "The order commitment").
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputCharged {
    pub campaign: LotId,
    pub input: LotId,
    pub mass_g: u64,
    /// The input lot's head record hash when it was charged (zero only for a lot that does not
    /// exist, which the rules refuse).
    pub input_head: Hash32,
}

impl InputCharged {
    /// The input first: its debit is the subject, the campaign's credit links to it.
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.input, self.campaign]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        if self.campaign == self.input {
            return Err(FieldError::new(
                "input",
                "a lot cannot be charged into itself",
            ));
        }
        check_mass("mass_g", self.mass_g)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.campaign.bytes());
        w.raw(&self.input.bytes());
        w.u64(self.mass_g);
        w.raw(&self.input_head.0);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(InputCharged {
            campaign: read_lot(r)?,
            input: read_lot(r)?,
            mass_g: r.u64()?,
            input_head: Hash32(r.array()?),
        })
    }
}

/// An oxide lot produced from a campaign: a debit record on the campaign and the new lot's genesis.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutputProduced {
    pub campaign: LotId,
    pub output: LotId,
    pub oxide: Oxide,
    pub mass_g: u64,
    pub purity_ppm: u32,
}

impl OutputProduced {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.campaign, self.output]
    }
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        if self.campaign == self.output {
            return Err(FieldError::new("output", "must differ from the campaign"));
        }
        if let Oxide::NdPr { nd2o3_ppm } = self.oxide {
            if nd2o3_ppm as u64 > PPM {
                return Err(FieldError::new(
                    "ndpr_nd2o3_ppm",
                    format!("{nd2o3_ppm} ppm is more than 1,000,000"),
                ));
            }
        }
        check_mass("mass_g", self.mass_g)?;
        check_ppm("purity_ppm", self.purity_ppm, false)
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.campaign.bytes());
        w.raw(&self.output.bytes());
        match self.oxide {
            Oxide::Single(el) => w.u8(el as u8),
            Oxide::NdPr { nd2o3_ppm } => {
                w.u8(OXIDE_NDPR);
                w.u32(nd2o3_ppm);
            }
        }
        w.u64(self.mass_g);
        w.u32(self.purity_ppm);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let campaign = read_lot(r)?;
        let output = read_lot(r)?;
        let c = r.u8()?;
        let oxide = if c == OXIDE_NDPR {
            Oxide::NdPr {
                nd2o3_ppm: r.u32()?,
            }
        } else {
            Oxide::Single(
                Element::from_code(c).ok_or_else(|| r.err(format!("unknown oxide code {c}")))?,
            )
        };
        Ok(OutputProduced {
            campaign,
            output,
            oxide,
            mass_g: r.u64()?,
            purity_ppm: r.u32()?,
        })
    }
}

/// A campaign ends with its declared process losses.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CampaignClosed {
    pub campaign: LotId,
    pub losses_g: u64,
}

impl CampaignClosed {
    pub(super) fn lots(&self) -> Vec<LotId> {
        vec![self.campaign]
    }
    /// Losses may be zero, unlike every other mass.
    pub(super) fn validate(&self) -> Result<(), FieldError> {
        if self.losses_g > MAX_MASS_G {
            return Err(FieldError::new(
                "losses_g",
                format!("exceeds {MAX_MASS_G} g"),
            ));
        }
        Ok(())
    }
    pub(super) fn encode(&self, w: &mut Writer) -> Result<(), FieldError> {
        w.raw(&self.campaign.bytes());
        w.u64(self.losses_g);
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(CampaignClosed {
            campaign: read_lot(r)?,
            losses_g: r.u64()?,
        })
    }
}
