//! Identifiers and hashes.

use uuid::Uuid;

use crate::field_error::FieldError;

/// A lot's identity. New lots use UUID v7 so ids sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LotId(pub Uuid);

/// A participant's identity (supplier, recycler, plant operator, customer, auditor, administrator).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ParticipantId(pub Uuid);

/// A registered facility (mine, collection point, recycling or separation plant, laboratory):
/// a UUID chosen by the administrator's client.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FacilityId(pub Uuid);

/// The client's id for one submitted event: the idempotency key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EventId(pub Uuid);

macro_rules! uuid_newtype {
    ($t:ident) => {
        impl $t {
            /// A fresh time-ordered (v7) id.
            pub fn new_v7() -> Self {
                $t(Uuid::now_v7())
            }
            /// The 16 bytes as laid out in records (RFC 9562 byte order).
            pub fn bytes(&self) -> [u8; 16] {
                *self.0.as_bytes()
            }
            /// Parses the hyphenated text form; the error names what was wrong.
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                Uuid::parse_str(s)
                    .map($t)
                    .map_err(|e| FieldError::new("", format!("{s:?} is not a UUID: {e}")))
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}
uuid_newtype!(LotId);
uuid_newtype!(EventId);
uuid_newtype!(ParticipantId);
uuid_newtype!(FacilityId);

/// The participant registry's lot id (a fixed UUID v8, the same in every ledger): the registry
/// is a chain like any lot's, its state in that lot's `LotDetail::Registry`.
pub const REGISTRY_LOT: LotId = LotId(Uuid::from_u128(0x0000_0000_0000_8000_8000_0000_0000_0001));

/// A blake3 digest: record hashes, heads, document digests.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The previous-hash of every genesis event.
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// Lower-case hex, as printed on certificates.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(FieldError::new(
                "",
                format!("a hash is 64 hex digits, got {} characters", b.len()),
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
                _ => return Err(FieldError::new("", format!("{s:?} is not hex"))),
            }
        }
        Ok(Hash32(out))
    }

    /// Accepts exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Result<Self, FieldError> {
        <[u8; 32]>::try_from(b)
            .map(Hash32)
            .map_err(|_| FieldError::new("", format!("a digest is 32 bytes, got {}", b.len())))
    }
}

impl std::fmt::Display for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash32({})", &self.to_hex()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hex_round_trip_and_rejects() {
        let h = Hash32(*blake3::hash(b"x").as_bytes());
        assert_eq!(Hash32::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(h.to_hex(), blake3::hash(b"x").to_hex().as_str());
        assert!(Hash32::from_hex("zz").is_err());
        assert!(Hash32::from_hex(&"g".repeat(64)).is_err());
    }
}
