//! `ree witness serve`, the real binary on loopback, driven over raw HTTP/1.1 by a log built
//! with ree-tlog: cosigns 10, then 20 with a proof, refuses a rewritten 20' (and a fork from
//! it), and still refuses after a restart (the state is durable).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ree_tlog::cosignature::verify_quorum;
use ree_tlog::witness::AddCheckpoint;
use ree_tlog::{
    consistency_proof, root, Checkpoint, MemHashStore, Note, NoteSignature, NoteSigner, SigType,
    VerifierKey,
};

/// A running witness, killed on drop.
struct Witness {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, log_vkey: &Path) -> Witness {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ree"))
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--name",
            "w.example",
        ])
        .arg("--data-dir")
        .arg(dir)
        .arg("--log-vkey")
        .arg(log_vkey)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ree witness serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("listening on ") {
                let _ = tx.send(a.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("ree witness serve did not print `listening on` within 30 s");
    Witness {
        child,
        addr: addr.parse().expect("address"),
    }
}

/// POST /add-checkpoint over a fresh connection: (status, content type, body).
fn post(addr: SocketAddr, body: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, ctype, body.to_owned())
}

struct Log {
    signer: NoteSigner,
    tree: MemHashStore,
}

impl Log {
    fn new(leaves: u32, rewrite_from: u32) -> Log {
        let signer = NoteSigner::new(
            "log.example",
            SigType::Ed25519,
            SigningKey::from_bytes(&[7; 32]),
        )
        .unwrap();
        let mut tree = MemHashStore::new();
        for i in 0..leaves {
            tree.append(&(if i < rewrite_from { i } else { i + 1000 }).to_le_bytes());
        }
        Log { signer, tree }
    }
    fn note(&self, size: u64) -> Note {
        let cp = Checkpoint::new("log.example", size, root(size, &self.tree).unwrap()).unwrap();
        cp.sign(&self.signer).unwrap()
    }
    fn request(&self, old: u64, size: u64) -> Vec<u8> {
        let note = self.note(size);
        AddCheckpoint {
            old_size: old,
            proof: consistency_proof(old, size, &self.tree).unwrap(),
            checkpoint: Checkpoint::parse(note.text()).unwrap(),
            note,
        }
        .to_bytes()
    }
}

#[test]
fn witness_cosigns_an_extension_and_refuses_a_rewritten_log_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (honest, rewritten) = (Log::new(30, 30), Log::new(30, 15));
    let log_vkey = dir.path().join("log.vkey");
    std::fs::write(&log_vkey, format!("{}\n", honest.signer.verifier_key())).unwrap();
    let wdir = dir.path().join("w");
    let w = start(&wdir, &log_vkey);
    let vkey = std::fs::read_to_string(wdir.join("witness.vkey")).expect("witness.vkey");
    let vkey = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(vkey.sig_type(), SigType::CosignatureV1);

    assert_eq!(post(w.addr, &honest.request(0, 10)).0, 200);
    let (status, _, line) = post(w.addr, &honest.request(10, 20));
    assert_eq!(status, 200, "{line}");
    let mut note = honest.note(20);
    note.add_signature(NoteSignature::parse_line(line.trim_end()).unwrap());
    assert_eq!(
        verify_quorum(&note, std::slice::from_ref(&vkey), 1)
            .unwrap()
            .len(),
        1
    );

    // The rewritten 20': same size, another root. The spec's answer is 409 with the stored size.
    let fork_same_size = rewritten.request(20, 20);
    assert_eq!(
        post(w.addr, &fork_same_size),
        (409, "text/x.tlog.size".to_owned(), "20\n".to_owned())
    );
    // The rewritten log moving on from its own 20': its proof fails against the cosigned 20.
    let fork_next = rewritten.request(20, 25);
    assert_eq!(post(w.addr, &fork_next).0, 422);
    // A body past the limit is refused before it is parsed.
    assert_eq!(post(w.addr, &vec![b'a'; 200 * 1024]).0, 413);

    drop(w);
    let w = start(&wdir, &log_vkey);
    let again = VerifierKey::parse(&std::fs::read_to_string(wdir.join("witness.vkey")).unwrap());
    assert_eq!(again.unwrap(), vkey, "the key survives a restart");
    assert_eq!(post(w.addr, &fork_same_size).0, 409);
    assert_eq!(post(w.addr, &fork_next).0, 422);
    assert_eq!(post(w.addr, &honest.request(20, 30)).0, 200);
}

#[test]
fn witness_serve_without_a_log_key_fails_naming_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_ree"))
        .args([
            "witness",
            "serve",
            "--data-dir",
            "/nonexistent-never-created",
        ])
        .output()
        .expect("run ree");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-vkey"), "{err}");
}
