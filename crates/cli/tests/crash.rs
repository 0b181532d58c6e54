//! Crash safety of the real server: concurrent clients submit single events, batches and
//! multi-lot separations while `ree serve` is SIGKILLed at random (seeded) moments and restarted.
//! After every restart: every acknowledged event is there with the same hash, no chain is broken
//! (the server replays and checks every record before it listens), no atomic change is
//! half-applied, balances equal the replay of the acknowledged history, and retries of
//! acknowledged submissions get the original result.
//!
//! Bounded in CI (30 kills); `REE_CRASH_KILLS=300 REE_CRASH_SEED=7 cargo test --release -p ree-cli --test crash`
//! runs it at full size.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};
use ree_proto::pbjson_types::Timestamp;
use ree_proto::v1 as pb;

const ORE_G: u64 = 1_000_000_000;

/// Registered once per run; every request is signed and authenticated as one of them.
static TEAM: std::sync::OnceLock<Team> = std::sync::OnceLock::new();

fn team() -> &'static Team {
    TEAM.get().expect("team registered")
}

#[derive(Clone)]
struct Sent {
    /// Ore receipts come from the supplier, everything else from the plant.
    by_supplier: bool,
    bodies: Vec<pb::EventBody>,
    atomic: bool,
    /// Per event: the records of its answer, once acknowledged.
    acked: Option<Vec<Vec<pb::RecordRef>>>,
}

#[derive(Default)]
struct Log {
    sent: Vec<Sent>,
}

fn ts() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_760_000_000,
        nanos: 0,
    })
}

fn ev(kind: pb::event_body::Kind) -> pb::EventBody {
    pb::EventBody {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: ts(),
        expected_head: String::new(),
        kind: Some(kind),
    }
}

fn ore(lot: &str) -> pb::EventBody {
    ev(pb::event_body::Kind::OreReceipt(pb::OreReceipt {
        facility_id: ree_core::testkit::mine(ree_core::Country::parse("AU").unwrap()).to_string(),
        lot_id: lot.into(),
        supplier: "s".into(),
        mine_site: "m".into(),
        country: "AU".into(),
        mass_g: ORE_G,
        reo_grade_ppm: 400_000,
        assay: vec![pb::ElementContent {
            element: "Nd".into(),
            ppm: 60_000,
        }],
        documents: vec![],
    }))
}

fn adjust(lot: &str) -> pb::EventBody {
    ev(pb::event_body::Kind::Adjustment(pb::Adjustment {
        lot_id: lot.into(),
        delta_g: -1,
        reason: "count".into(),
        countersignature: None,
    }))
}

fn charge(c: &str, i: &str, g: u64) -> pb::EventBody {
    ev(pb::event_body::Kind::InputCharged(pb::InputCharged {
        campaign_id: c.into(),
        input_lot_id: i.into(),
        mass_g: g,
        input_head: Default::default(),
    }))
}

async fn send(
    w: &mut ree_proto::v1::submissions_client::SubmissionsClient<tonic::transport::Channel>,
    s: &Sent,
) -> Result<Vec<pb::SubmitResponse>, tonic::Status> {
    let m = if s.by_supplier {
        &team().supplier
    } else {
        &team().plant
    };
    let subs = s.bodies.iter().map(|b| m.signed(b)).collect();
    let r = w
        .submit_batch(m.req(pb::SubmitBatchRequest {
            submissions: subs,
            atomic: s.atomic,
        }))
        .await?
        .into_inner();
    let mut out = vec![];
    for r in r.results {
        match r.result {
            Some(pb::event_result::Result::Ok(o)) => out.push(o),
            Some(pb::event_result::Result::Error(e)) => {
                return Err(tonic::Status::new(tonic::Code::from(e.code), e.message))
            }
            None => return Err(tonic::Status::internal("empty result")),
        }
    }
    Ok(out)
}

/// One client's lots: three ore lots and a campaign, created once, and their heads then.
struct Client {
    ores: Vec<String>,
    campaign: String,
    heads: HashMap<String, String>,
}

/// Moves the heads on by an answer's records (each client alone writes its lots).
fn advance(heads: &mut HashMap<String, String>, acked: &[pb::SubmitResponse]) {
    for r in acked.iter().flat_map(|o| &o.records) {
        heads.insert(r.lot_id.clone(), r.hash.clone());
    }
}

async fn setup(url: &str, n: usize, log: &Mutex<Log>) -> Vec<Client> {
    let (mut w, _) = client(url).await;
    let mut clients = vec![];
    for _ in 0..n {
        let mut heads = HashMap::new();
        let ores: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let campaign = uuid::Uuid::now_v7().to_string();
        let camp = ev(pb::event_body::Kind::CampaignOpened(pb::CampaignOpened {
            facility_id: ree_core::testkit::separation_site(
                ree_core::Country::parse("FR").unwrap(),
            )
            .to_string(),
            campaign_id: campaign.clone(),
            facility: "Lacq".into(),
            country: "FR".into(),
        }));
        for (by_supplier, bodies) in [
            (true, ores.iter().map(|o| ore(o)).collect()),
            (false, vec![camp]),
        ] {
            let mut s = Sent {
                by_supplier,
                bodies,
                atomic: true,
                acked: None,
            };
            let r = send(&mut w, &s).await.expect("setup");
            advance(&mut heads, &r);
            s.acked = Some(r.into_iter().map(|o| o.records).collect());
            log.lock().unwrap().sent.push(s);
        }
        clients.push(Client {
            ores,
            campaign,
            heads,
        });
    }
    clients
}

/// Submits until the connection breaks (the server was killed).
async fn load(url: String, c: Arc<Client>, seed: u64, log: Arc<Mutex<Log>>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Ok(ch) = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
    else {
        return;
    };
    let mut w = ree_proto::v1::submissions_client::SubmissionsClient::new(ch.clone());
    // The heads as the (restarted) server has them: each round starts where the last one ended.
    let mut q = ree_proto::v1::queries_client::QueriesClient::new(ch);
    let mut heads = c.heads.clone();
    for lot in c.ores.iter().chain([&c.campaign]) {
        match q
            .get_lot(team().plant.req(pb::GetLotRequest {
                lot_id: lot.clone(),
            }))
            .await
        {
            Ok(l) => {
                heads.insert(lot.clone(), l.into_inner().head);
            }
            Err(_) => return,
        }
    }
    loop {
        let pick = rng.random_range(0..10);
        let s = if pick < 5 {
            Sent {
                by_supplier: false,
                bodies: vec![adjust(&c.ores[rng.random_range(0..3)])],
                atomic: false,
                acked: None,
            }
        } else if pick < 7 {
            Sent {
                by_supplier: false,
                bodies: (0..10).map(|i| adjust(&c.ores[i % 3])).collect(),
                atomic: rng.random_bool(0.5),
                acked: None,
            }
        } else {
            // A charge (committing to the campaign's and the input's heads, as the plant
            // signs it) with stock counts of the other ores, atomically: four records.
            let mut ch = charge(&c.campaign, &c.ores[0], 100);
            ch.expected_head = heads[&c.campaign].clone();
            if let Some(pb::event_body::Kind::InputCharged(x)) = &mut ch.kind {
                x.input_head = heads[&c.ores[0]].clone();
            }
            Sent {
                by_supplier: false,
                bodies: vec![ch, adjust(&c.ores[1]), adjust(&c.ores[2])],
                atomic: true,
                acked: None,
            }
        };
        let idx = {
            let mut l = log.lock().unwrap();
            l.sent.push(s.clone());
            l.sent.len() - 1
        };
        match send(&mut w, &s).await {
            Ok(r) => {
                advance(&mut heads, &r);
                log.lock().unwrap().sent[idx].acked =
                    Some(r.into_iter().map(|o| o.records).collect())
            }
            Err(st)
                if matches!(
                    st.code(),
                    tonic::Code::Unavailable
                        | tonic::Code::Unknown
                        | tonic::Code::Cancelled
                        | tonic::Code::Internal
                ) =>
            {
                return
            }
            Err(st) => panic!("unexpected rejection {st:?}"),
        }
    }
}

async fn check(url: &str, log: &Mutex<Log>, rng: &mut rand::rngs::StdRng) {
    let (mut w, mut q) = client(url).await;
    // 1. Submissions whose outcome is unknown: retry them. An atomic one must come back either
    //    all replayed (it was applied whole) or all fresh (it was not applied at all).
    let pending: Vec<usize> = log
        .lock()
        .unwrap()
        .sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.acked.is_none())
        .map(|(i, _)| i)
        .collect();
    for i in pending {
        let s = log.lock().unwrap().sent[i].clone();
        let r = send(&mut w, &s)
            .await
            .unwrap_or_else(|e| panic!("retry of an unacknowledged submission failed: {e:?}"));
        if s.atomic {
            let replayed: Vec<bool> = r.iter().map(|o| o.replayed).collect();
            assert!(
                replayed.iter().all(|x| *x) || replayed.iter().all(|x| !*x),
                "atomic batch half-applied: {replayed:?}"
            );
        }
        log.lock().unwrap().sent[i].acked = Some(r.into_iter().map(|o| o.records).collect());
    }
    // 2. Every acknowledged record is present with the same hash.
    let sent = log.lock().unwrap().sent.clone();
    let mut expected: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for s in &sent {
        for recs in s.acked.as_ref().unwrap() {
            for r in recs {
                expected
                    .entry(r.lot_id.clone())
                    .or_default()
                    .push((r.seq, r.hash.clone()));
            }
        }
    }
    for (lot, recs) in &expected {
        let mut have: HashMap<u64, String> = HashMap::new();
        loop {
            let page = q
                .list_events(team().auditor.req(pb::ListEventsRequest {
                    lot_id: lot.clone(),
                    from_seq: have.len() as u64,
                    limit: 10_000,
                }))
                .await
                .unwrap()
                .into_inner()
                .events;
            if page.is_empty() {
                break;
            }
            have.extend(page.into_iter().map(|e| (e.seq, e.hash)));
        }
        assert_eq!(
            have.len(),
            recs.len(),
            "lot {lot}: {} records stored, {} acknowledged",
            have.len(),
            recs.len()
        );
        for (seq, hash) in recs {
            assert_eq!(
                have.get(seq),
                Some(hash),
                "lot {lot} seq {seq}: acknowledged hash lost or changed"
            );
        }
    }
    // 3. Balances equal the acknowledged history.
    let mut debits: HashMap<String, u64> = HashMap::new();
    for s in &sent {
        for b in &s.bodies {
            match &b.kind {
                Some(pb::event_body::Kind::Adjustment(a)) => {
                    *debits.entry(a.lot_id.clone()).or_default() += a.delta_g.unsigned_abs()
                }
                Some(pb::event_body::Kind::InputCharged(c)) => {
                    *debits.entry(c.input_lot_id.clone()).or_default() += c.mass_g
                }
                _ => {}
            }
        }
    }
    for (lot, d) in debits {
        let l = q
            .get_lot(team().auditor.req(pb::GetLotRequest {
                lot_id: lot.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(l.balance_g, ORE_G - d, "lot {lot}");
    }
    // 4. Retries of acknowledged submissions: the original result, no second event.
    for _ in 0..5 {
        let s = &sent[rng.random_range(0..sent.len())];
        let r = send(&mut w, s).await.unwrap();
        assert!(r.iter().all(|o| o.replayed));
        let original = s.acked.as_ref().unwrap();
        assert_eq!(
            r.into_iter().map(|o| o.records).collect::<Vec<_>>(),
            *original
        );
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    crash_run(&[], 30);
}

/// The same with the segment-log store (`ree serve --store log`).
#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged_log_store() {
    crash_run(&["--store", "log"], 20);
}

fn crash_run(serve_args: &[&str], default_kills: usize) {
    let kills: usize = std::env::var("REE_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_kills);
    let seed: u64 = std::env::var("REE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1252);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let log = Arc::new(Mutex::new(Log::default()));
    let mut server = Server::start_with(dir.path(), port, serve_args);
    let url = server.url();
    let t = rt.block_on(Team::setup(
        &url,
        dir.path(),
        &dir.path().join("creds"),
        seed,
    ));
    let _ = TEAM.set(t);
    let clients: Vec<Arc<Client>> = rt
        .block_on(setup(&url, 4, &log))
        .into_iter()
        .map(Arc::new)
        .collect();
    for round in 0..kills {
        let tasks: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                rt.spawn(load(
                    url.clone(),
                    c.clone(),
                    seed ^ ((round * 16 + i) as u64),
                    log.clone(),
                ))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        // Restart: the server replays and checks every record before it listens.
        server = Server::start_with(dir.path(), port, serve_args);
        rt.block_on(check(&url, &log, &mut rng));
    }
    let sent = log.lock().unwrap().sent.len();
    assert!(
        sent > kills * 4,
        "only {sent} submissions in {kills} rounds"
    );
    eprintln!("{kills} SIGKILLs, {sent} submissions, every acknowledged event intact");
}
