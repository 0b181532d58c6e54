use super::*;
use ed25519_dalek::SigningKey;
use ree_tlog::cosignature::verify_quorum;
use ree_tlog::{consistency_proof, root, Checkpoint, MemHashStore, Note, NoteSigner, SigType};

/// A log of 30 leaves and a rewritten copy that differs from leaf 15 on.
struct Fixture {
    dir: tempfile::TempDir,
    log: NoteSigner,
    honest: MemHashStore,
    forked: MemHashStore,
}

fn fixture() -> Fixture {
    let log = NoteSigner::new(
        "log.example",
        SigType::Ed25519,
        SigningKey::from_bytes(&[1; 32]),
    )
    .unwrap();
    let (mut honest, mut forked) = (MemHashStore::new(), MemHashStore::new());
    for i in 0..30u32 {
        honest.append(&i.to_le_bytes());
        forked.append(&(if i < 15 { i } else { i + 1000 }).to_le_bytes());
    }
    Fixture {
        dir: tempfile::tempdir().unwrap(),
        log,
        honest,
        forked,
    }
}

impl Fixture {
    fn witness(&self) -> Witness {
        let keys = load_or_create(self.dir.path(), "w.example").unwrap();
        let store = StateStore::open(self.dir.path()).unwrap();
        Witness::new(keys, store, vec![self.log.verifier_key()]).unwrap()
    }
    fn note(&self, tree: &MemHashStore, size: u64) -> Note {
        let cp = Checkpoint::new("log.example", size, root(size, tree).unwrap()).unwrap();
        cp.sign(&self.log).unwrap()
    }
    fn body(&self, tree: &MemHashStore, old: u64, size: u64) -> Vec<u8> {
        let note = self.note(tree, size);
        AddCheckpoint {
            old_size: old,
            proof: consistency_proof(old, size, tree).unwrap(),
            checkpoint: Checkpoint::parse(note.text()).unwrap(),
            note,
        }
        .to_bytes()
    }
    fn stored_size(&self) -> Option<u64> {
        let s = StateStore::open(self.dir.path()).unwrap();
        s.load("log.example").unwrap().map(|h| h.size)
    }
}

#[test]
fn good_checkpoints_are_persisted_then_cosigned_and_verify_with_the_vkey() {
    let f = fixture();
    let w = f.witness();
    let (status, ctype, line) = w.add_checkpoint(&f.body(&f.honest, 0, 10), 1_700_000_000);
    assert_eq!((status, ctype), (StatusCode::OK, TEXT), "{line}");
    assert_eq!(f.stored_size(), Some(10));
    let (status, _, line) = w.add_checkpoint(&f.body(&f.honest, 10, 20), 1_700_000_001);
    assert_eq!(status, StatusCode::OK, "{line}");
    assert_eq!(f.stored_size(), Some(20));
    let vkey = std::fs::read_to_string(f.dir.path().join("witness.vkey")).unwrap();
    let vkey = VerifierKey::parse(&vkey).unwrap();
    let mut note = f.note(&f.honest, 20);
    note.add_signature(ree_tlog::NoteSignature::parse_line(line.trim_end()).unwrap());
    assert_eq!(
        verify_quorum(&note, &[vkey], 1).unwrap(),
        [(0, 1_700_000_001)]
    );
}

#[test]
fn stale_old_size_is_409_with_the_stored_size() {
    let f = fixture();
    let w = f.witness();
    assert_eq!(
        w.add_checkpoint(&f.body(&f.honest, 0, 10), 1).0,
        StatusCode::OK
    );
    let answer = w.add_checkpoint(&f.body(&f.honest, 5, 20), 2);
    assert_eq!(
        answer,
        (StatusCode::CONFLICT, "text/x.tlog.size", "10\n".to_owned())
    );
    assert_eq!(f.stored_size(), Some(10));
}

#[test]
fn a_fork_is_refused_with_422_and_the_state_is_unchanged_even_after_restart() {
    let f = fixture();
    let w = f.witness();
    assert_eq!(
        w.add_checkpoint(&f.body(&f.honest, 0, 20), 1).0,
        StatusCode::OK
    );
    // The rewritten log proves 20' from 10 against its own history: the proof cannot match
    // the stored root at 20, and from 20 it has no valid proof at all.
    let mut fork = AddCheckpoint::parse(&f.body(&f.forked, 20, 25)).unwrap();
    fork.proof = consistency_proof(20, 25, &f.forked).unwrap();
    assert_eq!(
        w.add_checkpoint(&fork.to_bytes(), 2).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let same_size = f.body(&f.forked, 20, 20);
    assert_eq!(w.add_checkpoint(&same_size, 2).0, StatusCode::CONFLICT);
    drop(w);
    let restarted = f.witness();
    assert_eq!(
        restarted.add_checkpoint(&fork.to_bytes(), 3).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(f.stored_size(), Some(20));
    assert_eq!(
        restarted.add_checkpoint(&f.body(&f.honest, 20, 30), 4).0,
        StatusCode::OK
    );
}

#[test]
fn unknown_log_bad_signature_and_malformed_bodies_are_refused() {
    let f = fixture();
    let w = f.witness();
    let stranger = NoteSigner::new(
        "other.example",
        SigType::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let cp = Checkpoint::new("other.example", 0, ree_tlog::empty_root()).unwrap();
    let note = cp.sign(&stranger).unwrap();
    let req = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        note,
        checkpoint: cp,
    };
    assert_eq!(
        w.add_checkpoint(&req.to_bytes(), 1).0,
        StatusCode::NOT_FOUND
    );
    let impostor = NoteSigner::new(
        "log.example",
        SigType::Ed25519,
        SigningKey::from_bytes(&[4; 32]),
    )
    .unwrap();
    let cp = Checkpoint::new("log.example", 10, root(10, &f.honest).unwrap()).unwrap();
    let req = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        note: cp.sign(&impostor).unwrap(),
        checkpoint: cp,
    };
    assert_eq!(
        w.add_checkpoint(&req.to_bytes(), 1).0,
        StatusCode::FORBIDDEN
    );
    let (status, _, msg) = w.add_checkpoint(b"old 01\n\n", 1);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.starts_with("bad request: "), "{msg}");
    assert_eq!(f.stored_size(), None);
}

#[test]
fn a_witness_without_logs_does_not_start() {
    let f = fixture();
    let keys = load_or_create(f.dir.path(), "w.example").unwrap();
    let store = StateStore::open(f.dir.path()).unwrap();
    assert!(matches!(
        Witness::new(keys, store, vec![]),
        Err(ServeError::NoLogs)
    ));
}

#[test]
fn concurrent_requests_from_one_old_size_never_cosign_both_branches() {
    // Honest and forked agree up to leaf 15: both 20s carry valid proofs from 10, and only the
    // per-origin lock keeps the witness from cosigning both (the spec's rollback race).
    for _ in 0..10 {
        let f = fixture();
        let w = f.witness();
        assert_eq!(
            w.add_checkpoint(&f.body(&f.honest, 0, 10), 1).0,
            StatusCode::OK
        );
        let branches = [f.body(&f.honest, 10, 20), f.body(&f.forked, 10, 20)];
        let statuses: Vec<StatusCode> = std::thread::scope(|s| {
            let handles: Vec<_> = branches
                .iter()
                .map(|b| s.spawn(|| w.add_checkpoint(b, 2).0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, Arc::new(f.witness()), async {
        let _ = stopped.await;
    }));
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        HEADER_TIMEOUT + Duration::from_secs(3),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the server kept a header-less connection open"
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve_on stops on shutdown")
        .unwrap();
}
