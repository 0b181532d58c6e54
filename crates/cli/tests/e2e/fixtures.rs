//! Wire bodies and store snapshots the ledger tests share.

use crate::common::*;
use ree_proto::pbjson_types::Timestamp;
use ree_proto::v1 as pb;

pub fn ore_body(lot: &str, mass_g: u64) -> pb::EventBody {
    body(pb::event_body::Kind::OreReceipt(pb::OreReceipt {
        facility_id: ree_core::testkit::mine(ree_core::Country::parse("AU").unwrap()).to_string(),
        lot_id: lot.into(),
        supplier: "Lynas".into(),
        mine_site: "Mt Weld".into(),
        country: "AU".into(),
        mass_g,
        reo_grade_ppm: 380_000,
        assay: vec![pb::ElementContent {
            element: "Nd".into(),
            ppm: 60_000,
        }],
        documents: vec![],
    }))
}

/// A lot's head as GetLot gives it (zeros for a lot that does not exist).
pub async fn head_of(q: &mut Q, lot: &str) -> String {
    match q
        .get_lot(pb::GetLotRequest {
            lot_id: lot.to_string(),
        })
        .await
    {
        Ok(l) => l.into_inner().head,
        Err(_) => "00".repeat(32),
    }
}

/// `b` with the order commitments an honest signer makes (docs/format.md, "The order
/// commitment"): `expected_head` of a charge, output or shipment and a charge's `input_head`,
/// from GetLot. Fields already set are kept (a test may name a wrong head on purpose).
pub async fn committed(q: &mut Q, mut b: pb::EventBody) -> pb::EventBody {
    use pb::event_body::Kind as K;
    let lot = match &b.kind {
        Some(K::InputCharged(c)) => Some(c.campaign_id.clone()),
        Some(K::OutputProduced(p)) => Some(p.campaign_id.clone()),
        Some(K::Shipment(s)) => Some(s.lot_id.clone()),
        _ => None,
    };
    if let (Some(lot), true) = (lot, b.expected_head.is_empty()) {
        b.expected_head = head_of(q, &lot).await;
    }
    if let Some(K::InputCharged(c)) = &b.kind {
        if c.input_head.is_empty() {
            let h = head_of(q, &c.input_lot_id).await;
            if let Some(K::InputCharged(c)) = &mut b.kind {
                c.input_head = h;
            }
        }
    }
    b
}

/// Every lot's id, balance, head and event count: what "the store is unchanged" compares.
pub async fn store_snapshot(q: &mut Q) -> Vec<(String, u64, String, u64)> {
    let lots = q
        .list_lots(pb::ListLotsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lots;
    lots.into_iter()
        .map(|l| (l.lot_id, l.balance_g, l.head, l.events))
        .collect()
}

/// A fresh 5 g ore receipt with one field changed, for the bad-input catalogue.
pub fn ore_with(change: impl FnOnce(&mut pb::OreReceipt)) -> pb::EventBody {
    let mut b = ore_body(&uuid::Uuid::now_v7().to_string(), 5);
    if let Some(pb::event_body::Kind::OreReceipt(o)) = &mut b.kind {
        change(o);
    }
    b
}

pub fn body(kind: pb::event_body::Kind) -> pb::EventBody {
    pb::EventBody {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(Timestamp {
            seconds: 1_760_000_000,
            nanos: 0,
        }),
        expected_head: String::new(),
        kind: Some(kind),
    }
}

pub async fn lot_count(q: &mut Q) -> usize {
    q.list_lots(pb::ListLotsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lots
        .len()
}
