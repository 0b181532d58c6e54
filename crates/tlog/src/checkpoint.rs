//! C2SP tlog-checkpoint: the note text `<origin>\n<size>\n<base64 root>\n[extension lines]`,
//! signed by the log's ed25519 key. What the log commits to, what witnesses cosign and what a
//! bundle's inclusion proofs are checked against.

use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSigner, SigType, VerifierKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("checkpoint text must end with a newline")]
    NoFinalNewline,
    #[error("checkpoint has fewer than three lines")]
    MissingLine,
    #[error("checkpoint origin is empty or not one line")]
    BadOrigin,
    #[error("tree size is not a decimal number without leading zeroes")]
    BadSize,
    #[error("root hash is not the base64 of 32 bytes")]
    BadRoot,
    #[error("extension lines must be non-empty single lines")]
    BadExtension,
    #[error("a checkpoint is signed with an ed25519 (type 0x01) key, not {0:?}")]
    WrongKeyType(SigType),
}

/// A tree head: origin (the log's identity), size and root, plus opaque extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b < 0x20)
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        if !one_line(origin) {
            return Err(CheckpointError::BadOrigin);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Parses a checkpoint note's text (not the signatures).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NoFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MissingLine);
        };
        if !one_line(origin) {
            return Err(CheckpointError::BadOrigin);
        }
        let digits = !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit());
        if !digits || (size.len() > 1 && size.starts_with('0')) {
            return Err(CheckpointError::BadSize);
        }
        let size: u64 = size.parse().map_err(|_| CheckpointError::BadSize)?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|r| Hash::from_slice(&r))
            .ok_or(CheckpointError::BadRoot)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if !extensions.iter().all(|e| one_line(e)) {
            return Err(CheckpointError::BadExtension);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The note text, with its final newline: exactly the bytes that are signed.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// The signed checkpoint note, signed by the log's ed25519 key.
    pub fn sign(&self, log: &NoteSigner) -> Result<Note, CheckpointError> {
        if log.sig_type() != SigType::Ed25519 {
            return Err(CheckpointError::WrongKeyType(log.sig_type()));
        }
        let text = self.to_text();
        let mut note = Note::new(&text)?;
        note.add_signature(log.sign(text.as_bytes())?);
        Ok(note)
    }

    /// Parses a signed checkpoint and checks the log's signature (only the ed25519 keys of
    /// `log_keys` count; cosignatures and unknown lines are left for the caller).
    pub fn open(
        note: &[u8],
        log_keys: &[VerifierKey],
    ) -> Result<(Checkpoint, Note), CheckpointError> {
        let note = Note::parse(note)?;
        let keys: Vec<VerifierKey> = log_keys
            .iter()
            .filter(|k| k.sig_type() == SigType::Ed25519)
            .cloned()
            .collect();
        note.verify(&keys)?;
        Ok((Checkpoint::parse(note.text())?, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn spec_example_parses_and_round_trips() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(text).unwrap();
        assert_eq!(
            (c.origin.as_str(), c.size),
            ("example.com/behind-the-sofa", 20852163)
        );
        assert_eq!(c.to_text(), text);
        let ext = format!("{text}ext one\n");
        assert_eq!(Checkpoint::parse(&ext).unwrap().extensions, ["ext one"]);
    }

    #[test]
    fn malformed() {
        let r = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let p = |s: String| Checkpoint::parse(&s);
        assert_eq!(
            p(format!("o\n1\n{r}")),
            Err(CheckpointError::NoFinalNewline)
        );
        assert_eq!(p("o\n1\n".into()), Err(CheckpointError::MissingLine));
        assert_eq!(p(format!("\n1\n{r}\n")), Err(CheckpointError::BadOrigin));
        assert_eq!(p(format!("o\n01\n{r}\n")), Err(CheckpointError::BadSize));
        assert_eq!(p(format!("o\n+1\n{r}\n")), Err(CheckpointError::BadSize));
        assert_eq!(
            p(format!("o\n99999999999999999999\n{r}\n")),
            Err(CheckpointError::BadSize)
        );
        assert_eq!(p("o\n1\nAAAA\n".into()), Err(CheckpointError::BadRoot));
        assert_eq!(
            p(format!("o\n1\n{r}\n\nx\n")),
            Err(CheckpointError::BadExtension)
        );
        assert!(p(format!("o\n0\n{r}\n")).is_ok());
    }

    #[test]
    fn sign_and_open() {
        let log = NoteSigner::new(
            "ree.example/log",
            SigType::Ed25519,
            SigningKey::from_bytes(&[3; 32]),
        )
        .unwrap();
        let c = Checkpoint::new("ree.example/log", 5, Hash([9; 32])).unwrap();
        let note = c.sign(&log).unwrap().to_bytes();
        let (back, _) = Checkpoint::open(&note, &[log.verifier_key()]).unwrap();
        assert_eq!(back, c);
        let other = NoteSigner::new(
            "ree.example/log",
            SigType::Ed25519,
            SigningKey::from_bytes(&[4; 32]),
        )
        .unwrap();
        assert_eq!(
            Checkpoint::open(&note, &[other.verifier_key()]),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        );
    }
}
