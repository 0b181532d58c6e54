//! Issue 13's tree inside the engine: every committed record is a leaf, in global order, and
//! reopening the store rebuilds the very same tree.

use std::sync::Arc;

use ree_core::element::Element;
use ree_core::event::*;
use ree_core::testkit::Team;
use ree_core::{Country, EventBody, EventId, LotId, UtcMicros};
use ree_engine::{Engine, Submission};
use ree_store::{MemStore, Store};
use ree_tlog::{leaf_hash, verify_consistency, verify_inclusion};

const NOW: UtcMicros = UtcMicros(1_790_000_000_000_000);

fn signed(team: &Team, kind: EventKind) -> Submission {
    let b = EventBody {
        event_id: EventId::new_v7(),
        occurred_at: NOW,
        expected_head: None,
        kind,
    };
    let (body, sig) = team.sign(&b);
    Submission {
        body,
        signature: Some(sig),
        caller: None,
    }
}

fn ore() -> EventKind {
    EventKind::OreReceipt(OreReceipt {
        facility: ree_core::testkit::mine(Country::parse("AU").unwrap()),
        lot: LotId::new_v7(),
        supplier: "Lynas".into(),
        mine_site: "Mt Weld".into(),
        country: Country::parse("AU").unwrap(),
        mass_g: 1_000_000,
        reo_grade_ppm: 380_000,
        assay: Composition::new(vec![(Element::Nd, 150_000)]).unwrap(),
        documents: vec![],
    })
}

/// An engine on `store` holding the team's registry and `n` ore receipts.
fn filled(store: Arc<MemStore>, n: usize) -> Engine {
    let team = Team::new(3);
    let e = Engine::open(store, None).unwrap();
    let reg = team
        .registry_events(NOW)
        .into_iter()
        .map(|(body, sig)| Submission {
            body,
            signature: Some(sig),
            caller: None,
        })
        .collect();
    for r in e.submit_blocking(reg, true, NOW) {
        r.unwrap();
    }
    let subs = (0..n).map(|_| signed(&team, ore())).collect();
    for r in e.submit_blocking(subs, false, NOW) {
        r.unwrap();
    }
    e
}

#[test]
fn every_record_is_a_leaf_and_reopening_rebuilds_the_same_tree() {
    let store = Arc::new(MemStore::new());
    let e = filled(store.clone(), 20);
    let size = e.last_global_seq();
    assert_eq!(
        e.tree().size(),
        size,
        "registry and ore records are all leaves"
    );
    let root = e.tree().root(size).unwrap();
    let records = store.records(1, usize::MAX).unwrap();
    assert_eq!(records.len() as u64, size);
    for (g, bytes) in &records {
        let leaf = leaf_hash(&ree_core::record::record_hash(bytes).0);
        let proof = e.tree().inclusion_proof(g - 1, size).unwrap();
        verify_inclusion(g - 1, size, &leaf, &proof, &root).unwrap();
    }
    let old = e.tree().root(5).unwrap();
    e.shutdown();
    drop(e);
    let reopened = Engine::open(store, None).unwrap();
    assert_eq!(reopened.tree().size(), size);
    assert_eq!(reopened.tree().root(size).unwrap(), root);
    let c = reopened.tree().consistency_proof(5, size).unwrap();
    verify_consistency(5, size, &old, &root, &c).unwrap();
}

#[test]
fn the_tree_grows_with_every_group_and_refuses_sizes_it_does_not_have() {
    let store = Arc::new(MemStore::new());
    let e = filled(store, 3);
    let size = e.tree().size();
    assert!(e.tree().root(size + 1).is_err());
    assert!(e.tree().inclusion_proof(size, size).is_err());
    assert!(e.tree().consistency_proof(2, size + 1).is_err());
}
