//! Issue 12 through the server: an output the assays do not cover is refused with its status and
//! the store unchanged (attack 4); GetProvenance judges the claim on physical presence (attack 8)
//! and denies scrap collected in CN by default (attack 7), through the core code the verifier
//! runs.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

fn kind(k: pb::event_body::Kind) -> pb::EventBody {
    body(k)
}

fn open(camp: &str) -> pb::EventBody {
    kind(pb::event_body::Kind::CampaignOpened(pb::CampaignOpened {
        facility_id: ree_core::testkit::separation_site(ree_core::Country::parse("FR").unwrap())
            .to_string(),
        campaign_id: camp.into(),
        facility: "Lacq".into(),
        country: "FR".into(),
    }))
}

fn charge(camp: &str, input: &str, mass_g: u64) -> pb::EventBody {
    kind(pb::event_body::Kind::InputCharged(pb::InputCharged {
        campaign_id: camp.into(),
        input_lot_id: input.into(),
        mass_g,
        input_head: Default::default(),
    }))
}

fn produce(camp: &str, out: &str, oxide: &str, mass_g: u64) -> pb::EventBody {
    kind(pb::event_body::Kind::OutputProduced(pb::OutputProduced {
        campaign_id: camp.into(),
        output_lot_id: out.into(),
        oxide: oxide.into(),
        ndpr_nd2o3_ppm: 0,
        mass_g,
        purity_ppm: 990_000,
    }))
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn uncovered_outputs_are_refused_and_the_claim_rests_on_presence() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    // Attack 4: 10 t of ore without an assay, then 5 t of Dy2O3 out of it.
    let (bare, camp) = (id(), id());
    w.submit(sub(ore_with(|o| {
        o.lot_id = bare.clone();
        o.mass_g = 10_000_000;
        o.assay = vec![];
    })))
    .await
    .unwrap();
    w.submit(sub(open(&camp))).await.unwrap();
    w.submit(sub(
        committed(&mut q, charge(&camp, &bare, 10_000_000)).await
    ))
    .await
    .unwrap();
    let before = store_snapshot(&mut q).await;
    let e = w
        .submit(sub(committed(
            &mut q,
            produce(&camp, &id(), "Dy2O3", 5_000_000),
        )
        .await))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(
        e.message().contains("assays account for only 0 g"),
        "{}",
        e.message()
    );
    assert_eq!(
        before,
        store_snapshot(&mut q).await,
        "the store is unchanged"
    );
    // Attack 8: a CN lot assayed for La only, charged beside AU ore; an Nd2O3 output carries no
    // gram of CN, yet it is mass balance.
    let (au, cn, camp2, ox) = (id(), id(), id(), id());
    w.submit(sub(ore_body(&au, 1_000_000))).await.unwrap();
    w.submit(sub(ore_with(|o| {
        o.lot_id = cn.clone();
        o.country = "CN".into();
        o.facility_id =
            ree_core::testkit::mine(ree_core::Country::parse("CN").unwrap()).to_string();
        o.assay = vec![pb::ElementContent {
            element: "La".into(),
            ppm: 200_000,
        }];
    })))
    .await
    .unwrap();
    w.submit(sub(open(&camp2))).await.unwrap();
    w.submit(sub(committed(&mut q, charge(&camp2, &au, 1_000_000)).await))
        .await
        .unwrap();
    w.submit(sub(committed(&mut q, charge(&camp2, &cn, 5)).await))
        .await
        .unwrap();
    w.submit(sub(committed(
        &mut q,
        produce(&camp2, &ox, "Nd2O3", 10_000),
    )
    .await))
        .await
        .unwrap();
    let p = q
        .get_provenance(pb::GetProvenanceRequest {
            lot_id: ox.clone(),
            denied_countries: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!p.origin_shares.contains_key("CN"), "{:?}", p.origin_shares);
    assert_eq!(p.claim, "mass_balance");
    // Attack 7: NdFeB scrap collected in CN (post-consumer) is denied like ore by default.
    let (scrap, camp3, ox3) = (id(), id(), id());
    w.submit(sub(kind(pb::event_body::Kind::MagnetIntake(
        pb::MagnetIntake {
            facility_id: ree_core::testkit::recycling_site(ree_core::Country::parse("CN").unwrap())
                .to_string(),
            lot_id: scrap.clone(),
            recycler: "r".into(),
            category: 1,
            scrap: 2,
            country: "CN".into(),
            mass_g: 1_000_000,
            content: vec![pb::ElementContent {
                element: "Nd".into(),
                ppm: 230_000,
            }],
            documents: vec![],
        },
    ))))
    .await
    .unwrap();
    w.submit(sub(open(&camp3))).await.unwrap();
    w.submit(sub(
        committed(&mut q, charge(&camp3, &scrap, 1_000_000)).await
    ))
    .await
    .unwrap();
    w.submit(sub(committed(
        &mut q,
        produce(&camp3, &ox3, "Nd2O3", 10_000),
    )
    .await))
        .await
        .unwrap();
    let p = q
        .get_provenance(pb::GetProvenanceRequest {
            lot_id: ox3,
            denied_countries: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.claim, "mass_balance");
}
