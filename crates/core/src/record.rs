//! The stored record: one event on one lot's chain. Its hash is blake3 in derive-key mode over
//! the record's exact stored bytes (docs/format.md, "Record"). Nothing is re-encoded to verify.

use crate::codec::{Reader, Writer};
use crate::error::DecodeError;
use crate::ids::{EventId, Hash32, LotId};
use crate::time::UtcMicros;

/// Version byte at the start of every record.
pub const RECORD_VERSION: u8 = 1;
/// blake3 derive-key context: the domain separation of record hashes. Changing the layout means
/// a new version byte and a new context.
pub const RECORD_HASH_CONTEXT: &str = "ree-ledger 2026-11 event record v1";
/// Largest body a record may carry, in bytes.
pub const MAX_BODY_LEN: usize = 16 * 1024;

/// A cross-lot link: the counterpart lot's record (and so its whole chain) that this record names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Link {
    pub lot: LotId,
    pub seq: u64,
    pub hash: Hash32,
}

/// An ed25519 signature by the submitter over the body bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Signature {
    /// The signer's public key (the key id).
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl Signature {
    /// Signs canonical body bytes with a 32-byte ed25519 secret key (seed).
    pub fn sign(secret: &[u8; 32], body: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(secret);
        Signature {
            public_key: key.verifying_key().to_bytes(),
            signature: key.sign(body).to_bytes(),
        }
    }

    /// Checks the signature over `body`: [`bad_signatures`] of one.
    pub fn verify(&self, body: &[u8]) -> Result<(), String> {
        match bad_signatures(&[(body, self)], &|_| None).pop() {
            None => Ok(()),
            Some((_, e)) => Err(e),
        }
    }
}

/// Checks ed25519 signatures over their bodies: the accepted set of `crate::signature`
/// (docs/format.md "Signatures"), exactly, so that the server, `ree-verify` and libsodium agree.
/// `cached` may return a key's [`Verifier`](crate::signature::Verifier) (the registry keeps one
/// per key, with its fixed-base table); other keys are parsed once per call. Returns every bad
/// item (index, why), in order; empty when all are good. Many items are checked in batches
/// (`signature::check_many`), with the same verdicts.
pub fn bad_signatures(
    items: &[(&[u8], &Signature)],
    cached: &dyn Fn(&[u8; 32]) -> Option<crate::signature::Verifier>,
) -> Vec<(usize, String)> {
    use crate::signature::{SignatureError, Verifier};
    let mut keys: std::collections::HashMap<[u8; 32], Result<Verifier, SignatureError>> =
        std::collections::HashMap::new();
    for (_, s) in items {
        keys.entry(s.public_key).or_insert_with(|| {
            cached(&s.public_key).map_or_else(|| Verifier::new(&s.public_key), Ok)
        });
    }
    let mut bad = Vec::new();
    let mut checkable = Vec::with_capacity(items.len());
    let mut index = Vec::with_capacity(items.len());
    for (i, (body, s)) in items.iter().enumerate() {
        match &keys[&s.public_key] {
            Ok(k) => {
                checkable.push((k, *body, &s.signature));
                index.push(i);
            }
            Err(e) => bad.push((i, e.to_string())),
        }
    }
    for (j, e) in crate::signature::check_many(&checkable) {
        bad.push((index[j], e.to_string()));
    }
    bad.sort_by_key(|(i, _)| *i);
    bad
}

/// A decoded record. `body` is the submitted body's canonical bytes, kept verbatim.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    pub lot: LotId,
    /// Position in the lot's chain; 0 for the genesis event.
    pub seq: u64,
    /// Position in the ledger's single global append order, gap-free from 1.
    pub global_seq: u64,
    /// Hash of the lot's previous record; all zeros for the genesis event.
    pub prev: Hash32,
    /// When the ledger appended it (server clock, UTC).
    pub recorded_at: UtcMicros,
    /// The participant registry's head when the record was appended: it pins the registry state
    /// that authorised the signer, so no registry event before it can be dropped or swapped.
    pub registry: Hash32,
    pub link: Option<Link>,
    pub body: Vec<u8>,
    pub signature: Option<Signature>,
}

/// The hash of a record's stored bytes.
pub fn record_hash(bytes: &[u8]) -> Hash32 {
    use blake3::hazmat::HasherExt;
    // The context's key is derived once: identical to `blake3::derive_key(RECORD_HASH_CONTEXT,
    // bytes)` (a test pins that), without re-hashing the context for every record.
    static CONTEXT_KEY: std::sync::OnceLock<blake3::hazmat::ContextKey> =
        std::sync::OnceLock::new();
    let key =
        CONTEXT_KEY.get_or_init(|| blake3::hazmat::hash_derive_key_context(RECORD_HASH_CONTEXT));
    let mut h = blake3::Hasher::new_from_context_key(key);
    h.update(bytes);
    Hash32(*h.finalize().as_bytes())
}

/// What the idempotency index keeps of a submission, read from the record that starts it.
/// The one place outside the event codec that knows where a body keeps its event id, so the
/// stores and the engine need not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmissionKey {
    /// The submitter's idempotency key.
    pub event_id: EventId,
    /// BLAKE3 of the body bytes: the same id with other content is another event.
    pub body_hash: Hash32,
}

impl Record {
    /// The submission this record starts, or `None` for the second, linked record of a
    /// two-lot event (a submission's records are consecutive and share one body).
    pub fn submission_key(&self) -> Option<SubmissionKey> {
        if self.link.is_some() {
            return None;
        }
        // Event body layout (docs/format.md): version, kind, then the 16-byte event id.
        let id: [u8; 16] = self.body.get(2..18)?.try_into().ok()?;
        Some(SubmissionKey {
            event_id: EventId(uuid::Uuid::from_bytes(id)),
            body_hash: Hash32(*blake3::hash(&self.body).as_bytes()),
        })
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128 + self.body.len());
        w.u8(RECORD_VERSION);
        w.raw(&self.lot.bytes());
        w.u64(self.seq);
        w.u64(self.global_seq);
        w.raw(&self.prev.0);
        w.i64(self.recorded_at.0);
        w.raw(&self.registry.0);
        match &self.link {
            None => w.u8(0),
            Some(l) => {
                w.u8(1);
                w.raw(&l.lot.bytes());
                w.u64(l.seq);
                w.raw(&l.hash.0);
            }
        }
        w.u32(self.body.len() as u32);
        w.raw(&self.body);
        match &self.signature {
            None => w.u8(0),
            Some(s) => {
                w.u8(1);
                w.raw(&s.public_key);
                w.raw(&s.signature);
            }
        }
        w.buf
    }

    /// Parses stored bytes, strictly: any byte that [`Record::encode`] would not write is an error.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut r = Reader::new(bytes, "record");
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(r.err(format!(
                "record version {v} is not supported (this build reads {RECORD_VERSION})"
            )));
        }
        let lot = LotId(uuid::Uuid::from_bytes(r.array()?));
        let seq = r.u64()?;
        let global_seq = r.u64()?;
        let prev = Hash32(r.array()?);
        let recorded_at = UtcMicros(r.i64()?);
        let registry = Hash32(r.array()?);
        let link = if r.flag()? {
            Some(Link {
                lot: LotId(uuid::Uuid::from_bytes(r.array()?)),
                seq: r.u64()?,
                hash: Hash32(r.array()?),
            })
        } else {
            None
        };
        let n = r.u32()? as usize;
        if n > MAX_BODY_LEN {
            return Err(r.err(format!("body length {n} exceeds {MAX_BODY_LEN}")));
        }
        let body = r.take(n)?.to_vec();
        let signature = match r.u8()? {
            0 => None,
            1 => Some(Signature {
                public_key: r.array()?,
                signature: r.array()?,
            }),
            s => return Err(r.err(format!("unknown signature scheme {s}"))),
        };
        r.finish()?;
        if seq == 0 && prev != Hash32::ZERO {
            return Err(DecodeError {
                what: "record",
                offset: 25,
                reason: "a genesis record's previous hash must be zero".into(),
            });
        }
        Ok(Record {
            lot,
            seq,
            global_seq,
            prev,
            recorded_at,
            registry,
            link,
            body,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = Record> {
        (
            any::<[u8; 16]>(),
            1u64..1000,
            1u64..u64::MAX,
            any::<[u8; 32]>(),
            any::<i64>(),
            prop::option::of((any::<[u8; 16]>(), any::<u64>(), any::<[u8; 32]>())),
            prop::collection::vec(any::<u8>(), 0..200),
            prop::option::of((any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 64))),
            any::<[u8; 32]>(),
        )
            .prop_map(|(lot, seq, g, prev, t, link, body, sig, reg)| Record {
                lot: LotId(uuid::Uuid::from_bytes(lot)),
                seq,
                global_seq: g,
                prev: Hash32(prev),
                recorded_at: UtcMicros(t),
                registry: Hash32(reg),
                link: link.map(|(l, s, h)| Link {
                    lot: LotId(uuid::Uuid::from_bytes(l)),
                    seq: s,
                    hash: Hash32(h),
                }),
                body,
                signature: sig.map(|(pk, s)| Signature {
                    public_key: pk,
                    signature: s.try_into().unwrap(),
                }),
            })
    }

    proptest! {
        #[test]
        fn round_trips(r in record()) {
            let b = r.encode();
            prop_assert_eq!(Record::decode(&b).unwrap(), r);
        }

        #[test]
        fn any_single_byte_change_changes_the_hash_or_fails_to_decode(r in record(), i in any::<prop::sample::Index>(), x in 1u8..=255) {
            let b = r.encode();
            let mut t = b.clone();
            let i = i.index(t.len());
            t[i] ^= x;
            prop_assert_ne!(record_hash(&t), record_hash(&b));
        }

        #[test]
        fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(r) = Record::decode(&bytes) {
                prop_assert_eq!(r.encode(), bytes);
            }
        }
    }

    #[test]
    fn batches_find_the_first_bad_signature() {
        let bodies: Vec<Vec<u8>> = (0..150u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut sigs: Vec<Signature> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| Signature::sign(&[(i % 5) as u8 + 1; 32], b))
            .collect();
        let items = |sigs: &[Signature]| -> Vec<(Vec<u8>, Signature)> {
            bodies.iter().cloned().zip(sigs.iter().copied()).collect()
        };
        let check = |v: &[(Vec<u8>, Signature)]| {
            let refs: Vec<(&[u8], &Signature)> = v.iter().map(|(b, s)| (b.as_slice(), s)).collect();
            bad_signatures(&refs, &|_| None)
                .into_iter()
                .map(|b| b.0)
                .collect::<Vec<_>>()
        };
        assert!(check(&items(&sigs)).is_empty());
        sigs[130].signature[3] ^= 1;
        sigs[70].signature[40] ^= 1;
        sigs[5].public_key = [0; 32];
        assert_eq!(check(&items(&sigs)), vec![5, 70, 130]);
        // A cached key is used as given.
        let key = crate::signature::registrable_key(&sigs[0].public_key).unwrap();
        let one = [(bodies[0].as_slice(), &sigs[0])];
        assert!(bad_signatures(&one, &|_| Some(key.clone())).is_empty());
    }

    #[test]
    fn signatures_cover_the_exact_body_bytes() {
        let secret = [7u8; 32];
        let sig = Signature::sign(&secret, b"body bytes");
        assert!(sig.verify(b"body bytes").is_ok());
        assert!(sig.verify(b"body bytez").is_err());
        let mut forged = sig;
        forged.signature[0] ^= 1;
        assert!(forged.verify(b"body bytes").is_err());
        let mut other_key = sig;
        other_key.public_key = Signature::sign(&[8u8; 32], b"x").public_key;
        assert!(other_key.verify(b"body bytes").is_err());
    }

    #[test]
    fn a_submission_is_keyed_by_its_event_id_and_body_hash() {
        let (body, record, _) = super::format_example::example();
        let body_decoded = crate::EventBody::decode(&body).expect("example body");
        let mut rec = Record::decode(&record).expect("example record");
        let key = rec
            .submission_key()
            .expect("an unlinked record starts a submission");
        assert_eq!(key.event_id, body_decoded.event_id);
        assert_eq!(key.body_hash, Hash32(*blake3::hash(&body).as_bytes()));
        rec.link = Some(Link {
            lot: LotId(uuid::Uuid::nil()),
            seq: 0,
            hash: Hash32::ZERO,
        });
        assert_eq!(rec.submission_key(), None);
    }

    #[test]
    fn hash_uses_the_documented_context() {
        let b = b"example";
        assert_eq!(record_hash(b).0, blake3::derive_key(RECORD_HASH_CONTEXT, b));
        assert_ne!(record_hash(b).0, *blake3::hash(b).as_bytes());
    }
}

/// The worked example of docs/format.md: if this test changes, the document must change too.
#[cfg(test)]
mod format_example {
    use super::*;
    use crate::event::{CampaignOpened, EventBody, EventKind};
    use crate::{Country, EventId};

    pub(super) fn example() -> (Vec<u8>, Vec<u8>, Hash32) {
        let body = EventBody {
            event_id: EventId(uuid::Uuid::from_u128(
                0x0193_6f00_0000_7000_8000_0000_0000_0001,
            )),
            occurred_at: UtcMicros(1_735_689_600_000_000),
            expected_head: None,
            kind: EventKind::CampaignOpened(CampaignOpened {
                facility_id: crate::FacilityId(uuid::Uuid::from_u128(
                    0x0193_6f00_0000_7000_8000_0000_0000_0003,
                )),
                campaign: LotId(uuid::Uuid::from_u128(
                    0x0193_6f00_0000_7000_8000_0000_0000_0002,
                )),
                facility: "Lacq".into(),
                country: Country::parse("FR").unwrap(),
            }),
        };
        let b = body.encode().unwrap();
        let rec = Record {
            lot: LotId(uuid::Uuid::from_u128(
                0x0193_6f00_0000_7000_8000_0000_0000_0002,
            )),
            seq: 0,
            global_seq: 1,
            prev: Hash32::ZERO,
            recorded_at: UtcMicros(1_735_689_601_000_000),
            registry: Hash32::ZERO,
            link: None,
            body: b.clone(),
            signature: Some(Signature::sign(&[0x2a; 32], &b)),
        };
        let bytes = rec.encode();
        let h = record_hash(&bytes);
        (b, bytes, h)
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn matches_the_document() {
        let (body, rec, hash) = example();
        assert_eq!(hex(&body), DOC_BODY);
        assert_eq!(hex(&rec), DOC_RECORD);
        assert_eq!(hash.to_hex(), DOC_HASH);
    }

    const DOC_BODY: &str = "020301936f0000007000800000000000000100600cba992a06000001936f0000007000800000000000000201936f0000007000800000000000000304004c6163714652";
    const DOC_RECORD: &str = "0101936f0000007000800000000000000200000000000000000100000000000000000000000000000000000000000000000000000000000000000000000000000040a21bba992a060000000000000000000000000000000000000000000000000000000000000000000043000000020301936f0000007000800000000000000100600cba992a06000001936f0000007000800000000000000201936f0000007000800000000000000304004c616371465201197f6b23e16c8532c6abc838facd5ea789be0c76b2920334039bfa8b3d368d61573f20b60cb92b2895ea64604e7bf015cb69653e2959e0f14d9a8d5eaca431e631ce2352e550300c9749418f930d0a32652475d064b31ec4c14318040ddda708";
    const DOC_HASH: &str = "a608f1018f0d4b9c594379df0ee16ec4fe791122c9e465cebf8634d19f6c804d";
}
