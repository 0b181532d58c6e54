//! The monitor's loop: fetch the log's latest checkpoint, fetch the consistency proof from the
//! saved one, check, save. The source is abstract so the loop is tested without a server;
//! `ree monitor` will implement it with the ledger's GetCheckpoint / GetConsistencyProof.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use ree_tlog::{Hash, VerifierKey};

use crate::monitor::{check, open, MonitorError, MonitorState};

/// Where a monitor reads the log. Errors are the source's own message (`MonitorError::Source`).
pub trait CheckpointSource {
    /// The log's latest signed checkpoint note.
    fn latest_checkpoint(&mut self) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
    /// The consistency proof from tree size `old` to `new` (`old <= new`).
    fn consistency_proof(
        &mut self,
        old: u64,
        new: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, String>> + Send;
}

/// What one step saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No state file yet: this checkpoint is now the reference.
    First { size: u64 },
    /// The same tree as saved.
    Unchanged { size: u64 },
    /// A consistent extension, saved.
    Advanced { from: u64, to: u64 },
}

/// One fetch-check-save. On a fork (or any error) the state file is left as it was.
pub async fn step<S: CheckpointSource>(
    source: &mut S,
    state_path: &Path,
    log_key: &VerifierKey,
) -> Result<Outcome, MonitorError> {
    let old = MonitorState::load(state_path, log_key)?;
    let note = source
        .latest_checkpoint()
        .await
        .map_err(MonitorError::Source)?;
    let Some(old) = old else {
        let new = check(None, &note, &[], log_key)?;
        new.save(state_path)?;
        return Ok(Outcome::First { size: new.size });
    };
    let fetched = open(&note, log_key)?;
    let proof = if fetched.size > old.size {
        source
            .consistency_proof(old.size, fetched.size)
            .await
            .map_err(MonitorError::Source)?
    } else {
        Vec::new()
    };
    let new = check(Some(&old), &note, &proof, log_key)?;
    if new.size == old.size {
        return Ok(Outcome::Unchanged { size: new.size });
    }
    new.save(state_path)?;
    Ok(Outcome::Advanced {
        from: old.size,
        to: new.size,
    })
}

/// `ree monitor`'s loop: one step with `once`, else a step every `interval` until an error
/// (a fork is exit 3 through [`MonitorError::exit_code`]). A source error ends the loop too;
/// the caller decides whether to retry.
pub async fn follow<S: CheckpointSource>(
    source: &mut S,
    state_path: &Path,
    log_key: &VerifierKey,
    interval: Duration,
    once: bool,
    mut report: impl FnMut(Outcome),
) -> Result<(), MonitorError> {
    loop {
        report(step(source, state_path, log_key).await?);
        if once {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ree_tlog::{consistency_proof, root, Checkpoint, MemHashStore, NoteSigner, SigType};

    /// A log serving its tree at `size`; `down` makes every call fail.
    struct Fake {
        signer: NoteSigner,
        tree: MemHashStore,
        size: u64,
        down: bool,
    }

    impl CheckpointSource for Fake {
        async fn latest_checkpoint(&mut self) -> Result<Vec<u8>, String> {
            if self.down {
                return Err("connection refused".into());
            }
            let r = root(self.size, &self.tree).map_err(|e| e.to_string())?;
            let cp = Checkpoint::new("log.example", self.size, r).map_err(|e| e.to_string())?;
            Ok(cp.sign(&self.signer).map_err(|e| e.to_string())?.to_bytes())
        }
        async fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
            consistency_proof(old, new, &self.tree).map_err(|e| e.to_string())
        }
    }

    fn fake(rewrite_from: u32) -> Fake {
        let mut tree = MemHashStore::new();
        for i in 0..30u32 {
            tree.append(&(if i < rewrite_from { i } else { i + 1000 }).to_le_bytes());
        }
        let signer = NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        Fake {
            signer,
            tree,
            size: 10,
            down: false,
        }
    }

    #[tokio::test]
    async fn follows_a_growing_log_and_stops_at_a_fork_without_saving_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.state");
        let mut log = fake(30);
        let key = log.signer.verifier_key();
        let outcome = step(&mut log, &path, &key).await.unwrap();
        assert_eq!(outcome, Outcome::First { size: 10 });
        assert_eq!(
            step(&mut log, &path, &key).await.unwrap(),
            Outcome::Unchanged { size: 10 }
        );
        log.size = 20;
        let mut seen = vec![];
        follow(&mut log, &path, &key, Duration::ZERO, true, |o| {
            seen.push(o)
        })
        .await
        .unwrap();
        assert_eq!(seen, [Outcome::Advanced { from: 10, to: 20 }]);

        let mut rewritten = fake(15);
        rewritten.size = 25;
        let err = step(&mut rewritten, &path, &key).await.unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        let saved = MonitorState::load(&path, &key).unwrap().unwrap();
        assert_eq!(saved.size, 20, "a fork is never saved");

        log.down = true;
        let err = step(&mut log, &path, &key).await.unwrap_err();
        assert_eq!(
            (err.exit_code(), err.to_string()),
            (1, "fetching from the log: connection refused".to_owned())
        );
    }
}
