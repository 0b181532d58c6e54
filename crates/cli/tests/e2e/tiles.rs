//! `ree serve --http`: the C2SP tlog-tiles read path over real HTTP. The tiles and entry bundles
//! fetched are checked by recomputing, in this test, the checkpoint's root from the entries (RFC
//! 6962 by its recursive definition) and every tile hash from them; bad paths are 400/404,
//! other paths need the bearer token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use ree_tlog::tiles::encode_index;
use ree_tlog::{leaf_hash, node_hash, Checkpoint, Hash, VerifierKey};

use crate::common::*;

struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// One HTTP/1.1 request on its own connection.
fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(port: u16, path: &str) -> Answer {
    let a = http(port, "GET", path, None);
    assert_eq!(
        a.status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&a.body)
    );
    a
}

/// RFC 6962's MTH, by its definition (independent of ree-tlog's tree code).
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros()); // largest power of 2 < n
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn hashes(b: &[u8]) -> Vec<Hash> {
    assert_eq!(b.len() % 32, 0);
    b.chunks(32).map(|c| Hash::from_slice(c).unwrap()).collect()
}

fn suffix(w: u64) -> String {
    if w == 256 {
        String::new()
    } else {
        format!(".p/{w}")
    }
}

fn vkey(data: &Path) -> VerifierKey {
    VerifierKey::parse(
        std::fs::read_to_string(data.join("log.vkey"))
            .unwrap()
            .trim(),
    )
    .unwrap()
}

#[test]
fn tiles_over_http_recompute_the_checkpoint_root() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let http_addr = format!("127.0.0.1:{port}");
    let s = Server::start_with(&data, free_port(), &["--http", &http_addr]);
    demo_as_admin(&s.url(), &data);
    // Let the checkpointer cover the demo, then read one checkpoint and its tiles.
    std::thread::sleep(Duration::from_millis(1500));
    let cp = get(port, "/checkpoint");
    assert_eq!(cp.header("cache-control").as_deref(), Some("no-cache"));
    let (c, _) = Checkpoint::open(&cp.body, &[vkey(&data)]).expect("the log's signed note");
    assert!(c.size > 512, "the demo fills several tiles ({})", c.size);
    // Level 0 and the entry bundles: every leaf.
    let mut entries = vec![];
    let mut level0 = vec![];
    for n in 0..c.size.div_ceil(256) {
        let w = (c.size - n * 256).min(256);
        let tile = get(port, &format!("/tile/0/{}{}", encode_index(n), suffix(w)));
        let bundle = get(
            port,
            &format!("/tile/entries/{}{}", encode_index(n), suffix(w)),
        );
        let cache = if w == 256 {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        assert_eq!(tile.header("cache-control").as_deref(), Some(cache));
        assert_eq!(bundle.header("cache-control").as_deref(), Some(cache));
        level0.extend(hashes(&tile.body));
        // Entry bundle: big-endian u16 length 32, then the record hash.
        assert_eq!(bundle.body.len() as u64, w * 34);
        for e in bundle.body.chunks(34) {
            assert_eq!(&e[..2], &[0, 32]);
            entries.push(leaf_hash(&e[2..]));
        }
    }
    assert_eq!(entries.len() as u64, c.size);
    assert_eq!(level0, entries, "tile hashes are the leaves' hashes");
    assert_eq!(mth(&entries), c.root, "the tiles recompute the signed root");
    // Level 1: the root of each full level-0 tile (tree level 8).
    let w1 = c.size / 256;
    let t1 = get(port, &format!("/tile/1/000.p/{w1}"));
    let expect: Vec<Hash> = entries.chunks_exact(256).map(mth).collect();
    assert_eq!(hashes(&t1.body), expect);
    // A narrower partial of a full tile is its prefix.
    let p = get(port, "/tile/0/000.p/5");
    assert_eq!(hashes(&p.body), entries[..5].to_vec());
    // Bad paths: 400 or 404, never a panic; the server keeps serving.
    let beyond = c.size.div_ceil(256) + 1;
    for (path, code) in [
        (format!("/tile/0/{}", encode_index(beyond)), 404),
        (format!("/tile/0/{}", encode_index(c.size / 256)), 404),
        (format!("/tile/1/{}", encode_index(0)), 404),
        (format!("/tile/entries/{}", encode_index(beyond)), 404),
        ("/tile/0/1".into(), 400),
        ("/tile/0/x000/001".into(), 400),
        ("/tile/0/000.p/0".into(), 400),
        ("/tile/0/000.p/256".into(), 400),
        ("/tile/64/000".into(), 400),
        ("/tile/-1/000".into(), 400),
        ("/tile/entries/abc".into(), 400),
        ("/tile/".into(), 400),
        ("/tile/0/x999/x999/x999/x999/x999/x999/x999/999".into(), 400),
    ] {
        let a = http(port, "GET", &path, None);
        assert_eq!(
            a.status,
            code,
            "GET {path}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    assert_eq!(http(port, "POST", "/checkpoint", None).status, 405);
    // Any other path needs the token: 401 without (or with a wrong one), 404 with.
    let admin = admin_of(&data);
    let other = http(port, "GET", "/passport/x", None);
    assert_eq!(other.status, 401);
    assert_eq!(other.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(http(port, "GET", "/", Some("not-a-token")).status, 401);
    assert_eq!(
        http(port, "GET", "/passport/x", Some(&admin.token)).status,
        404
    );
    assert_eq!(get(port, "/checkpoint").body.len(), cp.body.len());
    s.stop_cleanly();
}

#[test]
fn http_on_a_public_address_needs_insecure_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin("ree"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--http", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--http 0.0.0.0:0: refusing plaintext"),
        "{err}"
    );
}
