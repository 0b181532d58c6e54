//! `ree-verify BUNDLE --trust ADMIN.pub... [--log-vkey FILE] [--witness-vkey FILE... --quorum N] [--policy FILE] [--expect-head HEX] [--json]`
//!
//! The root of trust must be pinned (`--trust`, or `trusted_administrator_keys` in the policy):
//! any key can found a ledger, so without a pin "authentic" means nothing. `--allow-unpinned`
//! opts into the old behaviour, with a warning on stderr.
//!
//! Exit codes: 0 authentic and compliant; 1 authentic but not compliant; 2 usage error
//! (bad arguments, unreadable policy, unpinned root of trust); 3 not authentic (any integrity failure, unreadable or
//! malformed bundle).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use ree_core::Hash32;
use ree_verifier::{render, verify, Policy};

const USAGE: &str =
    "usage: ree-verify BUNDLE --trust ADMIN.pub... [--log-vkey FILE] [--witness-vkey FILE... --quorum N] [--policy FILE] [--expect-head HEX] [--json]";

const HELP: &str = "\
ree-verify: check a ree-ledger proof bundle offline, then apply a compliance policy.

Recomputes every record hash, chain link and signature, replays every rule and the participant
registry, and applies the policy (default: no Chinese feed, mined or recycled, and no Chinese
processing). Needs no server.

usage: ree-verify BUNDLE --trust ADMIN.pub [OPTIONS]

arguments:
  BUNDLE               the proof bundle written by `ree export LOT -o BUNDLE`

options:
  --trust ADMIN.pub    an administrator public key you trust (repeatable): the bundle's
                       participant registry must be founded by one of them. Required (or
                       trusted_administrator_keys in the policy): the root of trust is pinned
  --allow-unpinned     verify without a pinned key (anyone can found a ledger that verifies);
                       warns on stderr
  --policy FILE        compliance policy (TOML; see the README for its keys)
  --log-vkey FILE      pin the transparency log's key (DATA/log.vkey): the bundle must carry a
                       checkpoint it signed and an inclusion proof for every record
  --witness-vkey FILE  pin a witness's key (its witness.vkey; repeatable): its cosignature on
                       the bundle's checkpoint must verify; with --quorum, N distinct pinned
                       witnesses must have cosigned it (exit 3 otherwise)
  --quorum N           how many pinned witnesses must have cosigned (default 1 with
                       --witness-vkey; needs --witness-vkey or witness_vkeys)
  --expect-head HEX    the lot head printed on the certificate: the bundle must end at it
  --print-checkpoint   print the bundle's log checkpoint (a signed note) to stdout and exit:
                       keep it, then `ree monitor --once --state FILE` proves today's log
                       extends it (with --log-vkey: only if that key signed it)
  --json               print the report as JSON
  -h, --help           print this help
  -V, --version        print the version

exit codes:
  0  authentic and compliant
  1  authentic but not compliant (the violations are listed)
  2  usage error (bad arguments, unreadable policy or key file, unpinned root of trust)
  3  not authentic (an integrity failure, an unreadable or malformed bundle)
";

struct Args {
    bundle: String,
    policy: Option<String>,
    expect_head: Option<String>,
    trust: Vec<String>,
    allow_unpinned: bool,
    log_vkeys: Vec<String>,
    witness_vkeys: Vec<String>,
    quorum: Option<String>,
    json: bool,
    print_checkpoint: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        bundle: String::new(),
        policy: None,
        expect_head: None,
        trust: Vec::new(),
        allow_unpinned: false,
        log_vkeys: Vec::new(),
        witness_vkeys: Vec::new(),
        quorum: None,
        json: false,
        print_checkpoint: false,
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--json" => a.json = true,
            "--print-checkpoint" => a.print_checkpoint = true,
            "--allow-unpinned" => a.allow_unpinned = true,
            "--policy" => a.policy = Some(it.next().ok_or("--policy needs a FILE")?),
            "--trust" => a
                .trust
                .push(it.next().ok_or("--trust needs a public key FILE")?),
            "--log-vkey" => a
                .log_vkeys
                .push(it.next().ok_or("--log-vkey needs a FILE (DATA/log.vkey)")?),
            "--witness-vkey" => a.witness_vkeys.push(
                it.next()
                    .ok_or("--witness-vkey needs a FILE (witness.vkey)")?,
            ),
            "--quorum" => a.quorum = Some(it.next().ok_or("--quorum needs a number N")?),
            "--expect-head" => {
                a.expect_head = Some(it.next().ok_or("--expect-head needs a HEX hash")?)
            }
            "-h" | "--help" => return Err(String::new()),
            "-V" | "--version" => return Err("--version".into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s if a.bundle.is_empty() => a.bundle = s.to_string(),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    if a.bundle.is_empty() {
        return Err("BUNDLE is required".into());
    }
    Ok(a)
}

/// A usage error: one line on stderr, exit 2.
fn usage(msg: &str) -> ExitCode {
    eprintln!("ree-verify: {msg} ({USAGE}; --help for more)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(m) if m.is_empty() => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(m) if m == "--version" => {
            println!("ree-verify {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(m) => return usage(&m),
    };
    if args.print_checkpoint {
        return print_checkpoint(&args);
    }
    let policy = match &args.policy {
        None => Policy::default(),
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| Policy::from_toml(&t))
        {
            Ok(p) => p,
            Err(e) => return usage(&format!("policy {p}: {e}")),
        },
    };
    let mut policy = policy;
    for f in &args.trust {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| ree_verifier::policy::parse_public_key(&t))
        {
            Ok(k) => policy.trusted_administrators.push(k),
            Err(e) => return usage(&format!("--trust {f}: {e}")),
        }
    }
    if policy.trusted_administrators.is_empty() {
        if !args.allow_unpinned {
            return usage("the root of trust is unpinned: pass --trust ADMIN.pub (the ledger administrator's public key, obtained out of band) or trusted_administrator_keys in the policy; --allow-unpinned skips this check");
        }
        eprintln!("ree-verify: WARNING: the root of trust is unpinned (--allow-unpinned): whoever founded this ledger, it verifies; \"authentic\" says nothing about who signed");
    }
    for f in &args.log_vkeys {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| ree_tlog::VerifierKey::parse(t.trim()).map_err(|e| e.to_string()))
        {
            Ok(k) => policy.log_vkeys.push(k),
            Err(e) => return usage(&format!("--log-vkey {f}: {e}")),
        }
    }
    for f in &args.witness_vkeys {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| ree_verifier::policy::parse_witness_key(&t))
        {
            Ok(k) => policy.witness_vkeys.push(k),
            Err(e) => return usage(&format!("--witness-vkey {f}: {e}")),
        }
    }
    if let Some(q) = &args.quorum {
        match q.parse::<usize>() {
            Ok(n) => policy.witness_quorum = Some(n),
            Err(_) => return usage(&format!("--quorum {q:?}: expected a number")),
        }
    }
    if let Err(e) = policy.check_witnesses() {
        return usage(&e);
    }
    let expect = match &args.expect_head {
        None => None,
        Some(h) => match Hash32::from_hex(h) {
            Ok(h) => Some(h),
            Err(e) => return usage(&format!("--expect-head: {}", e.reason)),
        },
    };
    let report = match std::fs::read(&args.bundle) {
        Ok(bytes) => verify(&bytes, &policy, expect),
        Err(e) => {
            // An unreadable bundle proves nothing: not authentic.
            let msg = format!("cannot read bundle {}: {e}", args.bundle);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"authentic": false, "compliant": false, "integrity_error": msg, "violations": []})
                );
            } else {
                eprintln!("NOT AUTHENTIC: {msg}");
            }
            return ExitCode::from(3);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("ree-verify: cannot render JSON: {e}"),
        }
    } else {
        print!("{}", render(&report));
    }
    ExitCode::from(report.exit_code() as u8)
}

/// `--print-checkpoint`: the bundle's checkpoint note, byte for byte, for `ree monitor --state`.
/// Exit 3 when the bundle has none (an older version) or, with `--log-vkey`, when no pinned key
/// signed it; 2 for an unreadable key file.
fn print_checkpoint(args: &Args) -> ExitCode {
    let mut keys = Vec::new();
    for f in &args.log_vkeys {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| ree_tlog::VerifierKey::parse(t.trim()).map_err(|e| e.to_string()))
        {
            Ok(k) => keys.push(k),
            Err(e) => return usage(&format!("--log-vkey {f}: {e}")),
        }
    }
    let not = |msg: String| {
        eprintln!("NOT AUTHENTIC: {}: {msg}", args.bundle);
        ExitCode::from(3)
    };
    let bytes = match std::fs::read(&args.bundle) {
        Ok(b) => b,
        Err(e) => return not(format!("cannot read: {e}")),
    };
    let note = match ree_verifier::logproof::split(&bytes) {
        Ok((_, Some(section))) => section.note,
        Ok((_, None)) => return not("carries no checkpoint (a bundle before version 3)".into()),
        Err(e) => return not(e.to_string()),
    };
    if !keys.is_empty() {
        if let Err(e) = ree_tlog::Checkpoint::open(&note, &keys) {
            return not(format!(
                "its checkpoint is not signed by the pinned log key: {e}"
            ));
        }
    } else if let Err(e) = ree_tlog::Note::parse(&note) {
        return not(format!("checkpoint: {e}"));
    }
    use std::io::Write;
    match std::io::stdout().write_all(&note) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ree-verify: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}
