//! C2SP signed-note: a UTF-8 text ending in a newline, a blank line, then signature lines
//! `— <name> base64(key ID || signature)`. Keys are named; the key ID is
//! `SHA-256(name || 0x0A || type || public key)[:4]`, so a verifier matches a line to a key by
//! (name, ID) and ignores lines of keys it does not know (witness cosignatures ride along).
//!
//! Key encodings (Go's sumdb/note, which the C2SP ecosystem shares): a verifier key is
//! `<name>+<8 hex digits of key ID>+base64(type || public key)`, a secret key is
//! `PRIVATE+KEY+<name>+<key ID>+base64(type || 32-byte ed25519 seed)`.
//!
//! Parsing is strict and total: every malformed input is a typed [`NoteError`], never a panic.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// A verifier must accept 16 signatures; past this many a note is refused (bounded work).
pub const MAX_SIGNATURES: usize = 100;
/// Largest note accepted, in bytes: a checkpoint with 100 cosignatures is ~10 kB.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// The signature types ree-ledger uses (signed-note's registry of type bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigType {
    /// 0x01: ed25519 over the note text (the log's checkpoint signature).
    Ed25519,
    /// 0x04: timestamped ed25519 witness cosignature (c2sp.org/tlog-cosignature v1).
    CosignatureV1,
}

impl SigType {
    pub fn byte(self) -> u8 {
        match self {
            SigType::Ed25519 => 0x01,
            SigType::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(b: u8) -> Option<SigType> {
        match b {
            0x01 => Some(SigType::Ed25519),
            0x04 => Some(SigType::CosignatureV1),
            _ => None,
        }
    }
}

/// Why a note, a signature line or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is larger than {MAX_NOTE_LEN} bytes")]
    TooLarge,
    #[error("note is not valid UTF-8")]
    NotUtf8,
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    #[error("note text must end with a newline")]
    NoFinalNewline,
    #[error("note has no blank line before its signatures")]
    NoSignatureBlock,
    #[error("note has no signature")]
    NoSignatures,
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("malformed signature line: {0}")]
    BadSignatureLine(&'static str),
    #[error("invalid key name {0:?}: empty, or contains a space or '+'")]
    BadKeyName(String),
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    #[error("key ID in the key does not match its name and public key")]
    KeyIdMismatch,
    #[error("signature by {name} does not verify")]
    BadSignature { name: String },
    #[error("no signature by a known key")]
    NoKnownSignature,
    #[error("a {0:?} key cannot make this signature")]
    WrongKeyType(SigType),
}

/// `SHA-256(name || "\n" || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, sig_type: SigType, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type.byte()]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names are non-empty with no Unicode space and no '+' (the key encodings split on '+').
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName(name.to_owned()))
    }
}

/// Splits `name+hhhhhhhh+base64(type || key)` into its name, ID, type and key bytes.
fn split_key(s: &str) -> Result<(&str, u32, SigType, Vec<u8>), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected name+id+key"));
    };
    check_name(name)?;
    let id_ok = id_hex.len() == 8 && id_hex.bytes().all(|b| b.is_ascii_hexdigit());
    let id = u32::from_str_radix(id_hex, 16)
        .ok()
        .filter(|_| id_ok)
        .ok_or(NoteError::BadKey("key ID is not 8 hex digits"))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::BadKey("key is not base64"))?;
    let (&ty, key) = raw.split_first().ok_or(NoteError::BadKey("empty key"))?;
    let ty = SigType::from_byte(ty).ok_or(NoteError::UnsupportedType(ty))?;
    Ok((name, id, ty, key.to_vec()))
}

/// A public key a note is verified with: the log's (type 0x01) or a witness's (type 0x04).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    sig_type: SigType,
    key: VerifyingKey,
    id: u32,
}

impl VerifierKey {
    pub fn new(name: &str, sig_type: SigType, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        check_name(name)?;
        let id = key_id(name, sig_type, key.as_bytes());
        Ok(VerifierKey {
            name: name.to_owned(),
            sig_type,
            key,
            id,
        })
    }

    /// Parses `name+hhhhhhhh+base64(type || 32-byte key)` (e.g. the contents of `log.vkey`).
    pub fn parse(s: &str) -> Result<VerifierKey, NoteError> {
        let (name, id, ty, key) = split_key(s.trim_end_matches('\n'))?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::BadKey("ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::BadKey("not an ed25519 point"))?;
        let vk = VerifierKey::new(name, ty, key)?;
        if vk.id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(vk)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn id(&self) -> u32 {
        self.id
    }
    pub fn sig_type(&self) -> SigType {
        self.sig_type
    }
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verifies one signature line's bytes over `text`; for a cosignature, returns its time.
    pub fn verify(&self, text: &[u8], sig: &NoteSignature) -> Result<Option<u64>, NoteError> {
        let bad = || NoteError::BadSignature {
            name: self.name.clone(),
        };
        match self.sig_type {
            SigType::Ed25519 => {
                let s = Signature::from_slice(&sig.sig).map_err(|_| bad())?;
                self.key.verify_strict(text, &s).map_err(|_| bad())?;
                Ok(None)
            }
            SigType::CosignatureV1 => {
                let (time, s) = crate::cosignature::split_timestamped(&sig.sig).ok_or_else(bad)?;
                let msg = crate::cosignature::signed_message(time, text);
                self.key.verify_strict(&msg, &s).map_err(|_| bad())?;
                Ok(Some(time))
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![self.sig_type.byte()];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

/// A named secret key (the log's `log.key`, a witness's `witness.key`).
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    sig_type: SigType,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NoteSigner({}, {:?}, <secret>)",
            self.name, self.sig_type
        )
    }
}

impl NoteSigner {
    pub fn new(name: &str, sig_type: SigType, key: SigningKey) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            sig_type,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+base64(type || seed)`; the ID must match the public key.
    pub fn parse(s: &str) -> Result<NoteSigner, NoteError> {
        let rest = s
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("secret key must start with PRIVATE+KEY+"))?;
        let (name, id, ty, seed) = split_key(rest)?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::BadKey("ed25519 seed is not 32 bytes"))?;
        let signer = NoteSigner::new(name, ty, SigningKey::from_bytes(&seed))?;
        if signer.verifier_key().id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The secret key's text encoding (what goes into a 0600 key file; never logged).
    pub fn to_secret_string(&self) -> String {
        let vk = self.verifier_key();
        let mut raw = vec![self.sig_type.byte()];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            vk.id,
            B64.encode(raw)
        )
    }

    pub fn verifier_key(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            sig_type: self.sig_type,
            id: key_id(&self.name, self.sig_type, key.as_bytes()),
            key,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn sig_type(&self) -> SigType {
        self.sig_type
    }

    /// Raw ed25519 signature of `msg` (the cosigner builds its own message).
    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// Signs a note text with an ed25519 (type 0x01) key.
    pub fn sign(&self, text: &[u8]) -> Result<NoteSignature, NoteError> {
        if self.sig_type != SigType::Ed25519 {
            return Err(NoteError::WrongKeyType(self.sig_type));
        }
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.verifier_key().id,
            sig: self.sign_raw(text).to_vec(),
        })
    }
}

/// One signature line: key name, key ID and the signature bytes after the ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// `— <name> base64(id || sig)` followed by a newline.
    pub fn line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.sig);
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }

    /// Parses one line, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<NoteSignature, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or(NoteError::BadSignatureLine(
                "must start with an em dash and a space",
            ))?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::BadSignatureLine(
            "no space between name and signature",
        ))?;
        check_name(name)?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadSignatureLine("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::BadSignatureLine(
                "signature shorter than 5 bytes",
            ));
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            sig: raw[4..].to_vec(),
        })
    }
}

/// A note text with its signatures, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    sigs: Vec<NoteSignature>,
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

impl Note {
    /// A note with no signature yet; `text` must end in a newline.
    pub fn new(text: &str) -> Result<Note, NoteError> {
        check_chars(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        Ok(Note {
            text: text.to_owned(),
            sigs: Vec::new(),
        })
    }

    /// Parses a signed note; the text ends at the last blank line.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        check_chars(s)?;
        if !s.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&s[..split + 1], &s[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let mut sigs = Vec::new();
        for line in block.split_terminator('\n') {
            if sigs.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            sigs.push(NoteSignature::parse_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            sigs,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.sigs
    }

    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.sigs.push(sig);
    }

    /// The note as served: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone().into_bytes();
        out.push(b'\n');
        for s in &self.sigs {
            out.extend_from_slice(s.line().as_bytes());
        }
        out
    }

    /// Verifies the signatures of known keys (matched by name and ID; others are ignored).
    /// A known key's bad signature rejects the note; so does having none from a known key.
    /// Returns each verified key's index in `keys` and, for a cosignature, its timestamp.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<(usize, Option<u64>)>, NoteError> {
        let mut ok = Vec::new();
        for sig in &self.sigs {
            let known = keys
                .iter()
                .position(|k| k.name == sig.name && k.id == sig.key_id);
            if let Some(i) = known {
                let time = keys[i].verify(self.text.as_bytes(), sig)?;
                if !ok.iter().any(|&(j, _)| j == i) {
                    ok.push((i, time));
                }
            }
        }
        if ok.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, ty: SigType) -> NoteSigner {
        NoteSigner::new(name, ty, SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    #[test]
    fn key_encodings_round_trip() {
        let s = signer("example.com/log", SigType::Ed25519);
        let back = NoteSigner::parse(&s.to_secret_string()).unwrap();
        assert_eq!(back.verifier_key(), s.verifier_key());
        let vk = s.verifier_key().to_string();
        assert_eq!(VerifierKey::parse(&vk).unwrap(), s.verifier_key());
        assert_eq!(
            VerifierKey::parse(&format!("{vk}\n")).unwrap(),
            s.verifier_key()
        );
        let w = signer("w", SigType::CosignatureV1).verifier_key();
        assert_ne!(w.id(), signer("w", SigType::Ed25519).verifier_key().id());
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        let vk = signer("a", SigType::Ed25519).verifier_key().to_string();
        let (_, rest) = vk.split_once('+').unwrap();
        assert_eq!(
            VerifierKey::parse(&format!("b+{rest}")),
            Err(NoteError::KeyIdMismatch)
        );
        assert!(matches!(
            VerifierKey::parse("a+zz+AQ=="),
            Err(NoteError::BadKey(_))
        ));
        assert!(matches!(
            VerifierKey::parse("a b+00000000+AQ=="),
            Err(NoteError::BadKeyName(_))
        ));
        assert_eq!(
            VerifierKey::parse("a+00000000+Ag=="),
            Err(NoteError::UnsupportedType(2))
        );
        assert!(matches!(NoteSigner::parse(&vk), Err(NoteError::BadKey(_))));
    }

    #[test]
    fn sign_parse_verify() {
        let s = signer("example.com/log", SigType::Ed25519);
        let mut n = Note::new("hello\n\nworld\n").unwrap();
        n.add_signature(s.sign(n.text().as_bytes()).unwrap());
        let bytes = n.to_bytes();
        let back = Note::parse(&bytes).unwrap();
        assert_eq!(back, n);
        assert_eq!(back.verify(&[s.verifier_key()]).unwrap(), [(0, None)]);
        let other = signer("other", SigType::Ed25519).verifier_key();
        assert_eq!(back.verify(&[other]), Err(NoteError::NoKnownSignature));
        let mut tampered = bytes.clone();
        tampered[0] = b'j';
        assert!(matches!(
            Note::parse(&tampered).unwrap().verify(&[s.verifier_key()]),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes() {
        assert_eq!(Note::parse(b"a\n"), Err(NoteError::NoSignatureBlock));
        assert_eq!(Note::parse(b"a\n\n"), Err(NoteError::NoSignatures));
        assert_eq!(Note::parse(b"a\n\nx"), Err(NoteError::NoFinalNewline));
        assert_eq!(Note::parse(b"a\t\n\n"), Err(NoteError::ControlCharacter));
        assert_eq!(Note::parse(b"\xff\n\n"), Err(NoteError::NotUtf8));
        assert!(matches!(
            Note::parse("a\n\n\u{2014} n AAAA\n".as_bytes()),
            Err(NoteError::BadSignatureLine(_))
        ));
        assert!(matches!(
            Note::parse("a\n\n- n AAAAAAA=\n".as_bytes()),
            Err(NoteError::BadSignatureLine(_))
        ));
        let many = format!("a\n\n{}", "\u{2014} n AAAAAAA=\n".repeat(101));
        assert_eq!(
            Note::parse(many.as_bytes()),
            Err(NoteError::TooManySignatures)
        );
        assert_eq!(Note::new("no newline"), Err(NoteError::NoFinalNewline));
        assert!(signer("w", SigType::CosignatureV1).sign(b"x\n").is_err());
    }
}
