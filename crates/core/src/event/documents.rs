//! Documents attached by digest, shared by ore receipts and magnet intakes.

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, FieldError};
use crate::ids::Hash32;

/// Most document digests on one event.
pub const MAX_DOCUMENTS: usize = 16;

code_enum!(
    /// What a document digest attests.
    DocKind {
        /// Certificate of origin of mined material.
        CertificateOfOrigin = 1, "certificate_of_origin";
        /// Bill of lading.
        BillOfLading = 2, "bill_of_lading";
        /// OECD-style supply-chain due-diligence report.
        DueDiligenceReport = 3, "due_diligence_report";
        /// A laboratory's assay certificate.
        AssayCertificate = 4, "assay_certificate";
        /// Packing list, invoice or delivery note of a shipment.
        ShipmentDocument = 5, "shipment_document";
        /// Recycler's waste-origin / collection certificate.
        CollectionCertificate = 6, "collection_certificate";
    }
);

/// A document attached by digest (the document itself stays with its owner).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Document {
    /// What it is.
    pub kind: DocKind,
    /// blake3 of the document's bytes.
    pub digest: Hash32,
}

pub(super) fn check_documents(field: &str, docs: &[Document]) -> Result<(), FieldError> {
    if docs.len() > MAX_DOCUMENTS {
        return Err(FieldError::new(
            field,
            format!("{} documents, at most {MAX_DOCUMENTS}", docs.len()),
        ));
    }
    Ok(())
}

/// Sorted: the canonical order does not depend on the order the submitter listed them in.
pub(super) fn encode_documents(w: &mut Writer, docs: &[Document]) -> Result<(), FieldError> {
    let mut d = docs.to_vec();
    d.sort();
    w.count("documents", d.len())?;
    for x in d {
        w.u8(x.kind as u8);
        w.raw(&x.digest.0);
    }
    Ok(())
}

pub(super) fn decode_documents(r: &mut Reader) -> Result<Vec<Document>, DecodeError> {
    let n = r.u8()? as usize;
    if n > MAX_DOCUMENTS {
        return Err(r.err(format!("{n} documents, at most {MAX_DOCUMENTS}")));
    }
    let mut v: Vec<Document> = Vec::with_capacity(n);
    for _ in 0..n {
        let c = r.u8()?;
        let kind =
            DocKind::from_code(c).ok_or_else(|| r.err(format!("unknown document kind {c}")))?;
        let d = Document {
            kind,
            digest: Hash32(r.array()?),
        };
        if v.last().is_some_and(|l| *l >= d) {
            return Err(r.err("documents must be sorted by kind then digest, without duplicates"));
        }
        v.push(d);
    }
    Ok(v)
}
