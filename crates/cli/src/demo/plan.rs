//! The demo's plan: the whole year's events, derived from the seed alone (ids, masses,
//! timestamps), in submission order. Everything random comes from one seeded generator, drawn in
//! a fixed order, so the same seed gives the same events.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ree_core::element::{Element, Oxide, PPM};
use ree_core::event::*;
use ree_core::{EventBody, EventId, Hash32, LotId, UtcMicros};

use super::data::{cc, Mine, CHINESE, CUSTOMERS, DAY_US, MINES, RECYCLERS, TONNE, YEAR_START};
use Element::*;

/// Batches of bodies in submission order, each with whether it is atomic.
pub type Batches = Vec<(Vec<EventBody>, bool)>;

/// What the demo loaded: figures for the summary and lots worth querying.
pub struct Summary {
    pub ore_lots: usize,
    pub ore_t: f64,
    pub magnet_lots: usize,
    pub magnet_t: f64,
    pub campaigns: usize,
    pub oxide_lots: usize,
    pub oxide_t: f64,
    pub oxide_by_formula: Vec<(String, f64)>,
    pub shipments: usize,
    pub events: usize,
    pub clean_oxide: LotId,
    pub chinese_oxide: LotId,
    pub chinese_ore: LotId,
    pub recycled_rich_oxide: LotId,
    /// A Dy2O3 lot of a clean campaign: little of its Dy is recycled (magnets carry ~1% Dy).
    pub clean_dy_oxide: LotId,
    /// Where the participants' credentials were written.
    pub creds_dir: String,
    /// (file name stem, role) of each participant.
    pub participants: Vec<(String, String)>,
}

/// The seeded source of everything random in the demo.
struct Gen {
    rng: StdRng,
}

impl Gen {
    fn id(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }
    fn body(&mut self, day: f64, kind: EventKind) -> EventBody {
        EventBody {
            event_id: EventId(self.id()),
            occurred_at: UtcMicros(YEAR_START.0 + (day * DAY_US as f64) as i64),
            expected_head: None,
            kind,
        }
    }
    fn digest(&mut self, what: &str) -> Hash32 {
        // Stand-in for the digest of a real document: the ledger stores digests only.
        let salt: u64 = self.rng.random();
        Hash32(*blake3::hash(format!("{what} #{salt}").as_bytes()).as_bytes())
    }
    fn jitter(&mut self, v: u32) -> u32 {
        let f: f64 = self.rng.random_range(0.93..1.07);
        (v as f64 * f) as u32
    }
}

/// A received lot of feed, as the campaigns charge it.
struct InputLot {
    id: LotId,
    mass_g: u64,
    content: Vec<(Element, u32)>,
    chinese: bool,
}

/// An oxide lot a campaign produced.
struct OxideLot {
    id: LotId,
    grams: u64,
    formula: String,
    month: usize,
    /// The share of the campaign's Nd and Pr that came from recycled magnets.
    recycled: f64,
}

/// Builds the year: batches of bodies in submission order (one batch per receipt group, one
/// atomic batch per separation).
pub fn build(seed: u64) -> (Batches, Summary) {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut batches: Batches = vec![];
    let mut receipts = vec![];
    let ores = receive_ore(&mut g, &mut receipts);
    let magnets = receive_magnets(&mut g, &mut receipts);
    receipts.sort_by_key(|b| b.occurred_at);
    let received = Received {
        ore_lots: ores.len(),
        ore_t: ores.iter().map(|l| l.mass_g).sum::<u64>() as f64 / TONNE as f64,
        magnet_lots: magnets.len(),
        magnet_t: magnets.iter().map(|l| l.mass_g).sum::<u64>() as f64 / TONNE as f64,
    };
    for chunk in receipts.chunks(200) {
        batches.push((chunk.to_vec(), false));
    }
    batches.push((lab_assays(&mut g, &ores), false));
    batches.push((origin_attestations(seed, &ores), false));
    let (monthly_feed, chinese_ore) = monthly_feed(ores, magnets);
    let months = monthly_feed.len();
    let mut oxide_lots: Vec<OxideLot> = vec![];
    let mut shipments = vec![];
    for (month, (ore_in, mag_in)) in monthly_feed.into_iter().enumerate() {
        let camp = LotId(g.id());
        let day0 = 300.0 + month as f64 * 5.0;
        let open = g.body(
            day0,
            EventKind::CampaignOpened(CampaignOpened {
                campaign: camp,
                facility_id: super::sites::site_id(super::data::PLANT, cc("FR")),
                facility: "Caremag Lacq separation plant".into(),
                country: cc("FR"),
            }),
        );
        batches.push((vec![open], false));
        let campaign = Campaign {
            id: camp,
            month,
            day0,
        };
        let sep = separate(
            &mut g,
            &campaign,
            &ore_in,
            &mag_in,
            &mut oxide_lots,
            &mut shipments,
        );
        batches.push((sep, true));
    }
    for chunk in shipments.chunks(200) {
        batches.push((chunk.to_vec(), false));
    }
    let events = batches.iter().map(|b| b.0.len()).sum();
    let summary = summarize(
        &received,
        &oxide_lots,
        months,
        shipments.len(),
        events,
        chinese_ore,
    );
    (batches, summary)
}

/// Ore concentrates: lots of 80-160 t (the Chinese one whole), spread over the year.
fn receive_ore(g: &mut Gen, receipts: &mut Vec<EventBody>) -> Vec<InputLot> {
    let mut ores = vec![];
    for m in MINES.iter().chain(std::iter::once(&CHINESE)) {
        let mut left = m.tonnes * TONNE;
        while left > 0 {
            let lot_t: u64 = if m.country == "CN" {
                m.tonnes
            } else {
                g.rng.random_range(80..=160)
            };
            let mass_g = (lot_t * TONNE).min(left);
            left -= mass_g;
            let (receipt, lot) = ore_receipt(g, m, mass_g);
            receipts.push(receipt);
            ores.push(lot);
        }
    }
    ores
}

/// One ore lot of `m`'s: its receipt and the lot as the campaigns charge it.
fn ore_receipt(g: &mut Gen, m: &Mine, mass_g: u64) -> (EventBody, InputLot) {
    let id = LotId(g.id());
    let content: Vec<(Element, u32)> = m.assay.iter().map(|(e, p)| (*e, g.jitter(*p))).collect();
    let day = g.rng.random_range(0.0..300.0);
    let documents = vec![
        Document {
            kind: DocKind::CertificateOfOrigin,
            digest: g.digest("certificate of origin"),
        },
        Document {
            kind: DocKind::BillOfLading,
            digest: g.digest("bill of lading"),
        },
        Document {
            kind: DocKind::DueDiligenceReport,
            digest: g.digest("OECD due diligence report"),
        },
    ];
    let b = g.body(
        day,
        EventKind::OreReceipt(OreReceipt {
            lot: id,
            facility: super::sites::site_id(m.supplier, cc(m.country)),
            supplier: m.supplier.into(),
            mine_site: m.site.into(),
            country: cc(m.country),
            mass_g,
            reo_grade_ppm: m.reo_grade_ppm,
            assay: Composition::new(content.clone()).unwrap_or_default(),
            documents,
        }),
    );
    let lot = InputLot {
        id,
        mass_g,
        content,
        chinese: m.country == "CN",
    };
    (b, lot)
}

/// The laboratory confirms the declared assay of the first ore lots (before any campaign), so
/// their assays in effect are a laboratory's.
fn lab_assays(g: &mut Gen, ores: &[InputLot]) -> Vec<EventBody> {
    ores.iter()
        .take(6)
        .map(|l| {
            let certificate = g.digest("assay certificate");
            g.body(
                299.0,
                EventKind::AssayRecorded(AssayRecorded {
                    lot: l.id,
                    facility: Some(super::sites::lab_site()),
                    lab: super::sites::LAB.into(),
                    content: Composition::new(l.content.clone()).unwrap_or_default(),
                    certificate,
                }),
            )
        })
        .collect()
}

/// The independent auditor attests the origin of the first ore lots after a site visit (the
/// event `ree attest --kind origin_verified --method site_visit` makes), valid for a year. Its own
/// generator, so the rest of the seed's year is unchanged.
fn origin_attestations(seed: u64, ores: &[InputLot]) -> Vec<EventBody> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed ^ 0xa77e_57a7),
    };
    ores.iter()
        .take(4)
        .map(|l| {
            let evidence = g.digest("site visit report");
            let valid_from = UtcMicros(YEAR_START.0 + 299 * DAY_US);
            g.body(
                299.5,
                EventKind::Attestation(Attestation {
                    lot: l.id,
                    event: None,
                    kind: AttestationKind::OriginVerified,
                    method: Some(OriginMethod::SiteVisit),
                    evidence,
                    valid_from,
                    valid_until: UtcMicros(valid_from.0 + 365 * DAY_US),
                }),
            )
        })
        .collect()
}

/// Recycled magnet scrap: lots of 15-40 t from each recycler, spread over the year.
fn receive_magnets(g: &mut Gen, receipts: &mut Vec<EventBody>) -> Vec<InputLot> {
    let mut magnets = vec![];
    for r in RECYCLERS {
        let mut left = r.tonnes * TONNE;
        while left > 0 {
            let lot_t: u64 = g.rng.random_range(15..=40);
            let mass_g = (lot_t * TONNE).min(left);
            left -= mass_g;
            let id = LotId(g.id());
            let content: Vec<(Element, u32)> =
                r.content.iter().map(|(e, p)| (*e, g.jitter(*p))).collect();
            let day = g.rng.random_range(0.0..300.0);
            let documents = vec![Document {
                kind: DocKind::CollectionCertificate,
                digest: g.digest("collection certificate"),
            }];
            let b = g.body(
                day,
                EventKind::MagnetIntake(MagnetIntake {
                    lot: id,
                    facility: super::sites::site_id(r.name, cc(r.country)),
                    recycler: r.name.into(),
                    category: r.category,
                    scrap: r.scrap,
                    country: cc(r.country),
                    mass_g,
                    content: Composition::new(content.clone()).unwrap_or_default(),
                    documents,
                }),
            );
            receipts.push(b);
            magnets.push(InputLot {
                id,
                mass_g,
                content,
                chinese: false,
            });
        }
    }
    magnets
}

/// One month's feed: its ore lots and its magnet lots.
type MonthFeed = (Vec<InputLot>, Vec<InputLot>);

/// Twelve monthly campaigns share the feed; the Chinese lot goes into campaign 7 only. Each
/// month's (ore, magnets), and the Chinese ore lot's id.
fn monthly_feed(mut ores: Vec<InputLot>, magnets: Vec<InputLot>) -> (Vec<MonthFeed>, LotId) {
    let chinese_idx = ores.iter().position(|l| l.chinese).unwrap_or(0);
    let chinese_lot = ores.remove(chinese_idx);
    let chinese_ore = chinese_lot.id;
    let months = 12usize;
    let mut ore_groups: Vec<Vec<InputLot>> = (0..months).map(|_| vec![]).collect();
    for (i, l) in ores.into_iter().enumerate() {
        ore_groups[i % months].push(l);
    }
    ore_groups[6].push(chinese_lot);
    let mut mag_groups: Vec<Vec<InputLot>> = (0..months).map(|_| vec![]).collect();
    for (i, l) in magnets.into_iter().enumerate() {
        mag_groups[i % months].push(l);
    }
    (
        ore_groups.into_iter().zip(mag_groups).collect(),
        chinese_ore,
    )
}

/// A month's separation campaign.
struct Campaign {
    id: LotId,
    month: usize,
    day0: f64,
}

/// What a campaign was charged with.
struct Charge {
    /// Grams of each element.
    elements: [u64; ree_core::element::N_ELEMENTS],
    grams: u64,
    /// The share of the Nd and Pr charged that came from recycled magnets.
    recycled: f64,
}

/// The campaign's atomic batch: its charges, outputs and closing (its shipments go to
/// `shipments`, its oxide lots to `oxide_lots`).
fn separate(
    g: &mut Gen,
    campaign: &Campaign,
    ore_in: &[InputLot],
    mag_in: &[InputLot],
    oxide_lots: &mut Vec<OxideLot>,
    shipments: &mut Vec<EventBody>,
) -> Vec<EventBody> {
    let mut sep: Vec<EventBody> = vec![];
    let charge = charge(g, campaign, ore_in, mag_in, &mut sep);
    let mut produced = 0u64;
    for (oxide, mass) in outputs(&charge) {
        produced += produce(
            g, campaign, oxide, mass, &charge, &mut sep, oxide_lots, shipments,
        );
    }
    let losses = charge.grams - produced;
    sep.push(g.body(
        campaign.day0 + 4.0,
        EventKind::CampaignClosed(CampaignClosed {
            campaign: campaign.id,
            losses_g: losses,
        }),
    ));
    sep
}

/// Charges every input lot into the campaign.
fn charge(
    g: &mut Gen,
    campaign: &Campaign,
    ore_in: &[InputLot],
    mag_in: &[InputLot],
    sep: &mut Vec<EventBody>,
) -> Charge {
    let mut charged = [0u64; ree_core::element::N_ELEMENTS];
    let mut charged_g = 0u64;
    let mut recycled_el = 0u64;
    let mut total_el = 0u64;
    for l in ore_in.iter().chain(mag_in) {
        sep.push(g.body(
            campaign.day0 + 0.5,
            EventKind::InputCharged(InputCharged {
                campaign: campaign.id,
                input: l.id,
                mass_g: l.mass_g,
                input_head: Default::default(),
            }),
        ));
        charged_g += l.mass_g;
        for (e, p) in &l.content {
            let eg = (l.mass_g as u128 * *p as u128 / PPM as u128) as u64;
            charged[e.index()] += eg;
            if matches!(e, Nd | Pr) {
                total_el += eg;
                if mag_in.iter().any(|m| m.id == l.id) {
                    recycled_el += eg;
                }
            }
        }
    }
    Charge {
        elements: charged,
        grams: charged_g,
        recycled: recycled_el as f64 / total_el.max(1) as f64,
    }
}

/// The purity of every oxide the plant produces.
const PURITY_PPM: u32 = 995_000;

/// Outputs, as the plant announces them: NdPr oxide (its Nd2O3 share from the feed's Nd:Pr),
/// Dy2O3 and Tb4O7, at 90% recovery. La, Ce, Sm, Gd and Y leave as a mixed by-product and
/// count with gangue and iron as the campaign's declared losses.
fn outputs(charge: &Charge) -> Vec<(Oxide, f64)> {
    let charged = &charge.elements;
    let recovery = 0.90;
    let purity = PURITY_PPM;
    let nd = charged[Nd.index()] as f64 * recovery;
    let pr = charged[Pr.index()] as f64 * recovery;
    let nd2o3 = nd / (Oxide::element_fraction_ppm(Nd) as f64 / PPM as f64);
    let pr6o11 = pr / (Oxide::element_fraction_ppm(Pr) as f64 / PPM as f64);
    let nd_share = (nd2o3 / (nd2o3 + pr6o11) * PPM as f64) as u32;
    let mut outputs: Vec<(Oxide, f64)> = vec![(
        Oxide::NdPr {
            nd2o3_ppm: nd_share,
        },
        (nd2o3 + pr6o11) / (purity as f64 / PPM as f64),
    )];
    for e in [Dy, Tb] {
        let el = charged[e.index()] as f64 * recovery;
        if el > 1_000_000.0 {
            outputs.push((
                Oxide::Single(e),
                el / (Oxide::element_fraction_ppm(e) as f64 / PPM as f64)
                    / (purity as f64 / PPM as f64),
            ));
        }
    }
    outputs
}

/// Produces `mass` of `oxide` as several lots of at most ~40 t, as drums are filled, and ships
/// most of each within days; the grams produced.
#[allow(clippy::too_many_arguments)] // the campaign's state, passed as it is built
fn produce(
    g: &mut Gen,
    campaign: &Campaign,
    oxide: Oxide,
    mass: f64,
    charge: &Charge,
    sep: &mut Vec<EventBody>,
    oxide_lots: &mut Vec<OxideLot>,
    shipments: &mut Vec<EventBody>,
) -> u64 {
    let mut produced = 0u64;
    let mut left = mass as u64;
    while left > 0 {
        let lot_g = left.min(40 * TONNE);
        left -= lot_g;
        let out = LotId(g.id());
        sep.push(g.body(
            campaign.day0 + 3.0,
            EventKind::OutputProduced(OutputProduced {
                campaign: campaign.id,
                output: out,
                oxide,
                mass_g: lot_g,
                purity_ppm: PURITY_PPM,
            }),
        ));
        produced += lot_g;
        oxide_lots.push(OxideLot {
            id: out,
            grams: lot_g,
            formula: oxide.formula(),
            month: campaign.month,
            recycled: charge.recycled,
        });
        // Most of each lot ships within days.
        let ship_g = lot_g * g.rng.random_range(60..=90) / 100;
        let (customer, dest) = CUSTOMERS[g.rng.random_range(0..CUSTOMERS.len())];
        let doc = g.digest("delivery note");
        shipments.push(g.body(
            campaign.day0 + 6.0,
            EventKind::Shipment(Shipment {
                lot: out,
                mass_g: ship_g,
                customer: customer.into(),
                destination: cc(dest),
                document: doc,
            }),
        ));
    }
    produced
}

/// The receipts' figures.
struct Received {
    ore_lots: usize,
    ore_t: f64,
    magnet_lots: usize,
    magnet_t: f64,
}

/// The summary: figures, and the lots worth querying (the Chinese ore lot where none fits).
fn summarize(
    received: &Received,
    oxide_lots: &[OxideLot],
    campaigns: usize,
    shipments: usize,
    events: usize,
    chinese_ore: LotId,
) -> Summary {
    let find = |month: usize, formula: &str| {
        oxide_lots
            .iter()
            .find(|o| o.month == month && o.formula == formula)
            .map(|o| o.id)
    };
    let recycled_rich = oxide_lots
        .iter()
        .filter(|o| o.formula == "NdPr oxide" && o.month != 6)
        .max_by(|a, b| a.recycled.total_cmp(&b.recycled))
        .map(|o| o.id);
    let mut by_formula: std::collections::BTreeMap<String, u64> = Default::default();
    for o in oxide_lots {
        *by_formula.entry(o.formula.clone()).or_default() += o.grams;
    }
    Summary {
        ore_lots: received.ore_lots,
        ore_t: received.ore_t,
        magnet_lots: received.magnet_lots,
        magnet_t: received.magnet_t,
        campaigns,
        oxide_lots: oxide_lots.len(),
        oxide_t: oxide_lots.iter().map(|o| o.grams).sum::<u64>() as f64 / TONNE as f64,
        oxide_by_formula: by_formula
            .into_iter()
            .map(|(k, v)| (k, v as f64 / TONNE as f64))
            .collect(),
        shipments,
        events,
        clean_oxide: find(0, "NdPr oxide").unwrap_or(chinese_ore),
        chinese_oxide: find(6, "NdPr oxide").unwrap_or(chinese_ore),
        chinese_ore,
        recycled_rich_oxide: recycled_rich.unwrap_or(chinese_ore),
        clean_dy_oxide: find(0, "Dy2O3").unwrap_or(chinese_ore),
        creds_dir: String::new(),
        participants: vec![],
    }
}
