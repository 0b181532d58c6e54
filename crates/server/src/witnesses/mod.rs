//! Issue 13's witnesses, the log's side: `ree serve --witness URL=VKEY_FILE` pushes each new
//! checkpoint to every witness (C2SP tlog-witness `add-checkpoint`), verifies the cosignature
//! against the witness's pinned key, and stores it (`store.rs`, `DATA/cosignatures`) so that
//! `GetCheckpoint` and exports publish it. One tokio task per witness, apart from the write
//! path: a witness that is down, slow or refusing never delays an event. Failures back off
//! exponentially (capped); a refusal backed by a failed proof (422), or a witness holding
//! another tree at the same size, is logged as an ALARM: someone forked the log.

pub mod http;
pub mod store;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ree_tlog::witness::AddCheckpoint;
use ree_tlog::{Note, NoteSignature, SigType, VerifierKey};

use crate::checkpoints::{Checkpointer, Signed};
pub use http::WitnessUrl;
pub use store::Cosignatures;

/// A push that has not been answered within this long fails.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a new checkpoint before a task looks again (it is woken as soon as one is
/// signed; this only bounds a missed wake-up).
const POLL: Duration = Duration::from_secs(1);

/// Until the log signs another checkpoint (or [`POLL`] passes).
async fn next_checkpoint(signed: &mut tokio::sync::watch::Receiver<u64>) {
    if let Ok(Err(_)) = tokio::time::timeout(POLL, signed.changed()).await {
        // The log is gone (shutdown): nothing will wake us; do not spin.
        tokio::time::sleep(POLL).await;
    }
}
/// First retry delay after a failure; doubles per consecutive failure up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// One `--witness URL=VKEY_FILE`.
#[derive(Clone, Debug)]
pub struct WitnessSpec {
    pub url: WitnessUrl,
    pub key: VerifierKey,
}

impl WitnessSpec {
    /// Parses `URL=VKEY_FILE` and reads the key file (a type 0x04 note verifier key, the
    /// witness's `witness.vkey`).
    pub fn parse(arg: &str) -> Result<WitnessSpec, String> {
        let (url, file) = arg
            .rsplit_once('=')
            .ok_or_else(|| format!("--witness {arg:?}: expected URL=VKEY_FILE"))?;
        let url = WitnessUrl::parse(url).map_err(|e| format!("--witness {url}: {e}"))?;
        let text = std::fs::read_to_string(file).map_err(|e| format!("--witness {file}: {e}"))?;
        let key = VerifierKey::parse(text.trim()).map_err(|e| format!("--witness {file}: {e}"))?;
        if key.sig_type() != SigType::CosignatureV1 {
            return Err(format!(
                "--witness {file}: not a witness key (type 0x04, cosignature/v1)"
            ));
        }
        Ok(WitnessSpec { url, key })
    }
}

/// What the server knows of one witness (the status RPC and the logs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessStatus {
    pub name: String,
    pub url: String,
    /// The largest checkpoint size this witness cosigned for us (0: none yet).
    pub cosigned_size: u64,
    /// The size the witness says it last cosigned (from its answers).
    pub witness_size: u64,
    pub last_error: String,
    pub consecutive_failures: u32,
    /// Refusals backed by a failed proof (or another tree at the same size) since start.
    pub alarms: u64,
}

/// The pushers' shared state: one status per witness, in `--witness` order.
#[derive(Default)]
pub struct Witnesses {
    status: Vec<Mutex<WitnessStatus>>,
}

impl Witnesses {
    pub fn status(&self) -> Vec<WitnessStatus> {
        self.status
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

/// Starts one pusher task per witness on the current tokio runtime.
pub fn spawn(
    log: Arc<Checkpointer>,
    cosigs: Arc<Cosignatures>,
    specs: Vec<WitnessSpec>,
) -> Arc<Witnesses> {
    let w = Arc::new(Witnesses {
        status: specs
            .iter()
            .map(|s| {
                Mutex::new(WitnessStatus {
                    name: s.key.name().to_owned(),
                    url: s.url.to_string(),
                    cosigned_size: cosigs.last_cosigned(&s.key).unwrap_or(0),
                    ..Default::default()
                })
            })
            .collect(),
    });
    for (i, spec) in specs.into_iter().enumerate() {
        let p = Pusher {
            log: log.clone(),
            cosigs: cosigs.clone(),
            spec,
            all: w.clone(),
            index: i,
        };
        tokio::spawn(p.run());
    }
    w
}

/// What one push came to.
enum Outcome {
    Cosigned(NoteSignature),
    /// 409: the witness is at another size (the body).
    Stale(u64),
    Alarm(String),
    Failed(String),
}

struct Pusher {
    log: Arc<Checkpointer>,
    cosigs: Arc<Cosignatures>,
    spec: WitnessSpec,
    all: Arc<Witnesses>,
    index: usize,
}

impl Pusher {
    fn update(&self, f: impl FnOnce(&mut WitnessStatus)) {
        if let Some(s) = self.all.status.get(self.index) {
            f(&mut s.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn get(&self) -> WitnessStatus {
        self.all.status().swap_remove(self.index)
    }

    /// Forever: wait for a checkpoint the witness has not cosigned, push it, record the answer.
    async fn run(self) {
        let name = self.spec.key.name().to_owned();
        let url = self.spec.url.to_string();
        // What we believe the witness last cosigned: learnt from 409s if wrong.
        let mut old = self.get().cosigned_size;
        let mut signed = self.log.subscribe();
        loop {
            let Some(latest) = self.log.latest() else {
                next_checkpoint(&mut signed).await;
                continue;
            };
            let st = self.get();
            if latest.checkpoint.size <= st.cosigned_size && st.consecutive_failures == 0 {
                next_checkpoint(&mut signed).await;
                continue;
            }
            let outcome = if old > latest.checkpoint.size {
                Outcome::Failed(format!(
                    "the witness cosigned {old} records, the log holds {}: waiting for the log to grow past it",
                    latest.checkpoint.size
                ))
            } else {
                self.push(&latest, old).await
            };
            let failure = match outcome {
                Outcome::Cosigned(sig) => match self.keep(&latest, sig).await {
                    Ok(()) => {
                        old = latest.checkpoint.size;
                        continue;
                    }
                    Err(e) => e,
                },
                Outcome::Stale(n) if n != old => {
                    tracing::info!(witness = %name, witness_size = n, "witness is at another size; retrying with a proof from it");
                    old = n;
                    self.update(|s| s.witness_size = n);
                    if self.get().consecutive_failures == 0 {
                        continue;
                    }
                    format!("409: the witness is at size {n}")
                }
                Outcome::Stale(n) => {
                    let msg = format!("the witness cosigned another tree of {n} records (409 at the same size): the log was forked");
                    tracing::error!(witness = %name, url = %url, "ALARM: {msg}");
                    self.update(|s| s.alarms += 1);
                    msg
                }
                Outcome::Alarm(msg) => {
                    tracing::error!(witness = %name, url = %url, "ALARM: {msg}");
                    self.update(|s| s.alarms += 1);
                    msg
                }
                Outcome::Failed(msg) => {
                    tracing::warn!(witness = %name, url = %url, "witness push failed: {msg}");
                    msg
                }
            };
            let mut failures = 0;
            self.update(|s| {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                s.last_error = failure;
                failures = s.consecutive_failures;
            });
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    /// Stores a verified cosignature durably, then records the success.
    async fn keep(&self, latest: &Signed, sig: NoteSignature) -> Result<(), String> {
        let size = latest.checkpoint.size;
        let (cosigs, note) = (self.cosigs.clone(), latest.note.clone());
        tokio::task::spawn_blocking(move || cosigs.add(&note, size, &sig))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("storing the cosignature: {e}"))?;
        tracing::info!(witness = %self.spec.key.name(), size, "cosigned");
        self.update(|s| {
            s.cosigned_size = size;
            s.witness_size = size;
            s.consecutive_failures = 0;
            s.last_error.clear();
        });
        Ok(())
    }

    /// One add-checkpoint request from `old` to `latest`, and what its answer means.
    async fn push(&self, latest: &Arc<Signed>, old: u64) -> Outcome {
        let size = latest.checkpoint.size;
        let log = self.log.clone();
        let proof =
            tokio::task::spawn_blocking(move || log.engine().tree().consistency_proof(old, size))
                .await;
        let proof = match proof {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                return Outcome::Failed(format!("consistency proof {old} -> {size}: {e}"))
            }
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let note = match Note::parse(&latest.note) {
            Ok(n) => n,
            Err(e) => return Outcome::Failed(format!("checkpoint: {e}")),
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            note: note.clone(),
            checkpoint: latest.checkpoint.clone(),
        }
        .to_bytes();
        match http::add_checkpoint(&self.spec.url, body, PUSH_TIMEOUT).await {
            Err(e) => Outcome::Failed(e),
            Ok((200, text)) => match cosignature(&self.spec.key, &note, &text) {
                Ok(sig) => Outcome::Cosigned(sig),
                Err(e) => Outcome::Failed(e),
            },
            Ok((409, text)) => match text.trim().parse::<u64>() {
                Ok(n) => Outcome::Stale(n),
                Err(_) => Outcome::Failed(format!("409 with an unreadable size {:?}", text.trim())),
            },
            Ok((422, _)) => Outcome::Alarm(format!(
                "422: the witness refused the consistency proof from {old} to {size} records: the log was forked"
            )),
            Ok((status, text)) => Outcome::Failed(format!("{status}: {}", first_line(&text))),
        }
    }
}

/// The cosignature among a 200 answer's lines that verifies against the pinned key `k`; a
/// forged or foreign line is never stored or published.
fn cosignature(k: &VerifierKey, note: &Note, text: &str) -> Result<NoteSignature, String> {
    for line in text.lines() {
        let Ok(sig) = NoteSignature::parse_line(line) else {
            continue;
        };
        if sig.name == k.name() && sig.key_id == k.id() {
            return k
                .verify(note.text().as_bytes(), &sig)
                .map(|_| sig)
                .map_err(|e| format!("cosignature does not verify: {e}"));
        }
    }
    Err("200 without a cosignature by the pinned witness key".into())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

/// The wait after `failures` consecutive failures: 250 ms doubling, capped at 30 s.
pub fn backoff(failures: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cosignature_by_the_pinned_key_over_this_checkpoint_is_kept() {
        use ed25519_dalek::SigningKey;
        use ree_tlog::{Checkpoint, Cosigner, NoteSigner};
        let signer = |seed: u8, name: &str, t: SigType| {
            NoteSigner::new(name, t, SigningKey::from_bytes(&[seed; 32])).unwrap()
        };
        let log = signer(1, "log.example", SigType::Ed25519);
        let w = Cosigner::new(signer(2, "w.example", SigType::CosignatureV1)).unwrap();
        let impostor = Cosigner::new(signer(3, "w.example", SigType::CosignatureV1)).unwrap();
        let cp = Checkpoint::new("log.example", 3, ree_tlog::Hash([5; 32])).unwrap();
        let other = Checkpoint::new("log.example", 3, ree_tlog::Hash([6; 32])).unwrap();
        let note = cp.sign(&log).unwrap();
        let k = w.verifier_key();
        let good = w.cosign(&cp.to_text(), 9).unwrap();
        assert_eq!(cosignature(&k, &note, &good.line()), Ok(good));
        // Another key under the same name, a cosignature of another tree, garbage: refused.
        let e = cosignature(
            &k,
            &note,
            &impostor.cosign(&cp.to_text(), 9).unwrap().line(),
        );
        assert!(e.unwrap_err().contains("without a cosignature"));
        let e = cosignature(&k, &note, &w.cosign(&other.to_text(), 9).unwrap().line());
        assert!(e.unwrap_err().contains("does not verify"));
        assert!(cosignature(&k, &note, "not a line\n").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(40), BACKOFF_CAP);
    }
}
