//! Issue 12, attack 5: whoever holds the data directory, but not the plant's key, moves a CN
//! charge after the output it went into and rebuilds every chain, hash and link consistently.
//! Before the order commitment the rewritten bundle verified as "segregated"; now the plant's
//! signed `expected_head` no longer matches the chain and ree-verify exits 3.

mod common;

use std::collections::HashMap;

use common::*;
use ree_core::element::{Element, Oxide};
use ree_core::event::*;
use ree_core::record::{record_hash, Link, Record};
use ree_core::{EventBody, Hash32, LotId};
use ree_verifier::{verify, Policy};

/// An AU and a CN ore lot charged into one campaign, then NdPr oxide out. Returns the ledger,
/// the oxide lot, the CN lot and the campaign.
fn campaign_with_cn() -> (Ledger, LotId, LotId, LotId) {
    let mut l = Ledger::new();
    let (camp, au, cn) = (l.lot(), l.lot(), l.lot());
    l.append(EventKind::CampaignOpened(CampaignOpened {
        facility_id: ree_core::testkit::separation_site(cc("FR")),
        campaign: camp,
        facility: "Lacq".into(),
        country: cc("FR"),
    }));
    for (lot, country) in [(au, "AU"), (cn, "CN")] {
        l.append(EventKind::OreReceipt(OreReceipt {
            facility: ree_core::testkit::mine(cc(country)),
            lot,
            supplier: "s".into(),
            mine_site: "m".into(),
            country: cc(country),
            mass_g: 10_000_000,
            reo_grade_ppm: 400_000,
            assay: Composition::new(vec![(Element::Pr, 20_000), (Element::Nd, 60_000)]).unwrap(),
            documents: vec![],
        }));
    }
    for input in [au, cn] {
        l.append(EventKind::InputCharged(InputCharged {
            campaign: camp,
            input,
            mass_g: 10_000_000,
            input_head: Hash32::ZERO,
        }));
    }
    let ox = l.lot();
    l.append(EventKind::OutputProduced(OutputProduced {
        campaign: camp,
        output: ox,
        oxide: Oxide::NdPr { nd2o3_ppm: 750_000 },
        mass_g: 500_000,
        purity_ppm: 990_000,
    }));
    (l, ox, cn, camp)
}

/// Re-chains `recs` in their new order as a keyless attacker can: global sequence numbers,
/// per-lot `seq` and `prev`, links to the counterpart's new head; bodies and signatures kept.
fn rechain(recs: &mut [Record]) -> HashMap<LotId, (u64, Hash32)> {
    let mut seqs: Vec<u64> = recs.iter().map(|r| r.global_seq).collect();
    seqs.sort_unstable();
    let mut heads: HashMap<LotId, (u64, Hash32)> = HashMap::new();
    for (r, g) in recs.iter_mut().zip(seqs) {
        r.global_seq = g;
        let (seq, prev) = heads
            .get(&r.lot)
            .map_or((0, Hash32::ZERO), |(s, h)| (s + 1, *h));
        r.seq = seq;
        r.prev = prev;
        if let Some(link) = &mut r.link {
            let (s, h) = heads[&link.lot];
            *link = Link {
                lot: link.lot,
                seq: s,
                hash: h,
            };
        }
        heads.insert(r.lot, (seq, record_hash(&r.encode())));
    }
    heads
}

/// docs/verify_bundle.py's exit code and output on `bundle`. Fails, naming what to install,
/// when its Python packages are missing.
fn python(bundle: &[u8], name: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("ree-order-{}-{name}", std::process::id()));
    std::fs::write(&dir, bundle).expect("temp file");
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/verify_bundle.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .output()
        .expect("python3 runs (install python3)");
    let _ = std::fs::remove_file(&dir);
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code, 4,
        "python3 with PyNaCl and blake3 is required: pip install -r docs/requirements.txt"
    );
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn moving_a_charge_after_the_output_breaks_the_plants_signature() {
    let (l, ox, cn, camp) = campaign_with_cn();
    let honest = l.full_bundle(ox);
    let policy = Policy {
        trusted_administrators: vec![l.team.admin.public_key],
        ..Policy::default()
    };
    let r = verify(&honest.encode(), &policy, None);
    assert!(r.authentic, "{:?}", r.integrity_error);
    assert_eq!(
        r.claim, "mass_balance",
        "the CN charge came before the output"
    );

    // The attacker moves the CN charge's two records after the output's two.
    let mut recs: Vec<Record> = honest
        .records
        .iter()
        .map(|b| Record::decode(b).unwrap())
        .collect();
    let is_cn_charge = |r: &Record| {
        matches!(EventBody::decode(&r.body).unwrap().kind,
            EventKind::InputCharged(c) if c.input == cn)
    };
    let moved: Vec<Record> = recs.iter().filter(|r| is_cn_charge(r)).cloned().collect();
    assert_eq!(moved.len(), 2);
    recs.retain(|r| !is_cn_charge(r));
    recs.extend(moved);
    let heads = rechain(&mut recs);
    let (head_seq, head) = heads[&ox];
    let forged = ree_core::bundle::Bundle {
        lot: ox,
        head_seq,
        head,
        records: recs.iter().map(Record::encode).collect(),
        withheld: vec![],
    };
    assert_eq!(python(&honest.encode(), "honest").0, 0);
    let (code, out) = python(&forged.encode(), "moved");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("expected head"), "{out}");
    let r = verify(&forged.encode(), &policy, None);
    assert_eq!(
        r.exit_code(),
        3,
        "{:?} claim {}",
        r.integrity_error,
        r.claim
    );
    let msg = r.integrity_error.unwrap();
    assert!(
        msg.contains("expected head") && msg.contains(&camp.to_string()),
        "{msg}"
    );
}

#[test]
fn dropping_a_charge_breaks_the_next_events_signature() {
    let (l, ox, cn, camp) = campaign_with_cn();
    let honest = l.full_bundle(ox);
    let mut recs: Vec<Record> = honest
        .records
        .iter()
        .map(|b| Record::decode(b).unwrap())
        .filter(|r| {
            !matches!(EventBody::decode(&r.body).unwrap().kind,
                EventKind::InputCharged(c) if c.input == cn)
        })
        .collect();
    let heads = rechain(&mut recs);
    let (head_seq, head) = heads[&ox];
    let forged = ree_core::bundle::Bundle {
        lot: ox,
        head_seq,
        head,
        records: recs.iter().map(Record::encode).collect(),
        withheld: vec![],
    };
    assert_eq!(python(&forged.encode(), "dropped").0, 3);
    let r = verify(&forged.encode(), &Policy::default(), None);
    assert_eq!(r.exit_code(), 3, "{:?}", r.integrity_error);
    let msg = r.integrity_error.unwrap();
    assert!(msg.contains(&camp.to_string()), "{msg}");
}
