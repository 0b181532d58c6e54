//! Kind 9: a loss or stock-count correction; a gain carries an auditor's countersignature.

use super::fields::{check_reason, read_lot, MAX_MASS_G};
use super::{EventBody, EventKind};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::LotId;

/// What an auditor's countersignature signs: these bytes, then the event body's canonical bytes
/// with the countersignature absent (docs/format.md, "Adjustment countersignature"). The prefix
/// starts with `r`, never a body's version byte 1, so it can never be taken for a body.
pub const COUNTERSIGNATURE_DOMAIN: &[u8] = b"ree-ledger adjustment countersignature v1";

/// An auditor's ed25519 signature vouching for a stock-count gain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Countersignature {
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// A loss (negative) or stock-count correction, with a reason. Never an edit of history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Adjustment {
    pub lot: LotId,
    pub delta_g: i64,
    pub reason: String,
    /// Required on a gain (checked against the registry by the rules, not here).
    pub countersignature: Option<Countersignature>,
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
        match &self.countersignature {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                w.raw(&c.public_key);
                w.raw(&c.signature);
            }
        }
        Ok(())
    }
    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Adjustment {
            lot: read_lot(r)?,
            delta_g: r.i64()?,
            reason: r.str()?,
            countersignature: if r.flag()? {
                Some(Countersignature {
                    public_key: r.array()?,
                    signature: r.array()?,
                })
            } else {
                None
            },
        })
    }
}

/// The bytes an auditor countersigns for an adjustment event: [`COUNTERSIGNATURE_DOMAIN`] then
/// the body's canonical bytes with its countersignature absent (flag 0). The body includes the
/// event id, time and expected head, so a countersignature vouches for this one event only.
pub fn countersignature_message(body: &EventBody) -> Result<Vec<u8>, FieldError> {
    let EventKind::Adjustment(a) = &body.kind else {
        return Err(FieldError::new(
            "adjustment",
            "only an adjustment is countersigned",
        ));
    };
    let mut bare = body.clone();
    bare.kind = EventKind::Adjustment(Adjustment {
        countersignature: None,
        ..a.clone()
    });
    let mut msg = COUNTERSIGNATURE_DOMAIN.to_vec();
    msg.extend_from_slice(&bare.encode()?);
    Ok(msg)
}

/// Countersigns an adjustment event with an auditor's secret key, replacing any countersignature.
pub fn countersign(body: &mut EventBody, secret: &[u8; 32]) -> Result<(), FieldError> {
    let msg = countersignature_message(body)?;
    let sig = crate::record::Signature::sign(secret, &msg);
    if let EventKind::Adjustment(a) = &mut body.kind {
        a.countersignature = Some(Countersignature {
            public_key: sig.public_key,
            signature: sig.signature,
        });
    }
    Ok(())
}
