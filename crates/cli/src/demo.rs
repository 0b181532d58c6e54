//! The demo: one plant year at the scale of the Lacq separation plant, submitted over gRPC as the
//! suppliers and the plant would. Feed compositions follow shared/reference/rare-earth-domain.md:
//! Mt Weld (AU), Mountain Pass (US), Serra Verde ionic clay (BR, rich in Dy/Tb), Steenkampskraal
//! monazite (ZA), a Canadian concentrate, one Chinese lot; NdFeB magnet scrap collected in Europe.
//!
//! Everything is derived from the seed (ids, masses, timestamps), so the same seed gives the
//! same ledger, and re-running it against the same server is answered idempotently.

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ree_core::element::{Element, Oxide, PPM};
use ree_core::event::*;
use ree_core::{Country, EventBody, EventId, Hash32, LotId, ParticipantId, UtcMicros};
use ree_proto::v1 as pb;

use crate::client::{status, Client};
use crate::participants::signed;

/// 2025-01-06T08:00:00Z: the demo year starts on a Monday morning.
const YEAR_START: UtcMicros = UtcMicros(1_736_150_400_000_000);
const DAY_US: i64 = 86_400 * 1_000_000;
const TONNE: u64 = 1_000_000;

struct Mine {
    supplier: &'static str,
    site: &'static str,
    country: &'static str,
    reo_grade_ppm: u32,
    /// Element ppm of the concentrate's mass.
    assay: &'static [(Element, u32)],
    /// Tonnes a year.
    tonnes: u64,
}

use Element::*;

const MINES: &[Mine] = &[
    Mine {
        supplier: "Lynas Rare Earths",
        site: "Mt Weld, Western Australia",
        country: "AU",
        reo_grade_ppm: 380_000,
        tonnes: 1_300,
        assay: &[
            (La, 80_000),
            (Ce, 140_000),
            (Pr, 17_000),
            (Nd, 58_000),
            (Sm, 7_000),
            (Eu, 1_500),
            (Gd, 3_500),
            (Tb, 500),
            (Dy, 2_000),
            (Y, 3_000),
        ],
    },
    Mine {
        supplier: "MP Materials",
        site: "Mountain Pass, California",
        country: "US",
        reo_grade_ppm: 620_000,
        tonnes: 1_200,
        assay: &[
            (La, 160_000),
            (Ce, 250_000),
            (Pr, 22_000),
            (Nd, 62_000),
            (Sm, 4_000),
            (Gd, 1_000),
            (Dy, 200),
        ],
    },
    Mine {
        supplier: "Serra Verde",
        site: "Pela Ema, Goiás",
        country: "BR",
        reo_grade_ppm: 900_000,
        tonnes: 1_100,
        assay: &[
            (La, 150_000),
            (Ce, 20_000),
            (Pr, 40_000),
            (Nd, 140_000),
            (Sm, 30_000),
            (Gd, 40_000),
            (Tb, 12_000),
            (Dy, 80_000),
            (Y, 200_000),
        ],
    },
    Mine {
        supplier: "Steenkampskraal Mining",
        site: "Steenkampskraal, Western Cape",
        country: "ZA",
        reo_grade_ppm: 560_000,
        tonnes: 700,
        assay: &[
            (La, 110_000),
            (Ce, 230_000),
            (Pr, 25_000),
            (Nd, 90_000),
            (Sm, 10_000),
            (Gd, 8_000),
            (Tb, 500),
            (Dy, 2_500),
            (Y, 6_000),
        ],
    },
    Mine {
        supplier: "Saskatchewan Research Council",
        site: "Saskatoon, Saskatchewan",
        country: "CA",
        reo_grade_ppm: 550_000,
        tonnes: 500,
        assay: &[
            (La, 100_000),
            (Ce, 200_000),
            (Pr, 20_000),
            (Nd, 70_000),
            (Sm, 5_000),
            (Tb, 500),
            (Dy, 3_000),
        ],
    },
];

/// The one lot of Chinese origin, bought on the spot market; it goes into one campaign.
const CHINESE: Mine = Mine {
    supplier: "Baotou Trading Co.",
    site: "Bayan Obo, Inner Mongolia",
    country: "CN",
    reo_grade_ppm: 600_000,
    tonnes: 200,
    assay: &[
        (La, 140_000),
        (Ce, 250_000),
        (Pr, 25_000),
        (Nd, 80_000),
        (Sm, 5_000),
        (Dy, 1_000),
    ],
};

struct Recycler {
    name: &'static str,
    country: &'static str,
    category: MagnetCategory,
    scrap: ScrapClass,
    content: &'static [(Element, u32)],
    tonnes: u64,
}

const RECYCLERS: &[Recycler] = &[
    Recycler {
        name: "Carester Recyclage",
        country: "FR",
        category: MagnetCategory::EvMotor,
        scrap: ScrapClass::PostConsumer,
        tonnes: 600,
        content: &[(Nd, 225_000), (Pr, 70_000), (Dy, 25_000), (Tb, 4_000)],
    },
    Recycler {
        name: "HyProMag GmbH",
        country: "DE",
        category: MagnetCategory::HardDisk,
        scrap: ScrapClass::PostConsumer,
        tonnes: 400,
        content: &[(Nd, 240_000), (Pr, 60_000), (Dy, 8_000)],
    },
    Recycler {
        name: "Siemens Gamesa Circular",
        country: "ES",
        category: MagnetCategory::WindTurbine,
        scrap: ScrapClass::PostConsumer,
        tonnes: 400,
        content: &[(Nd, 230_000), (Pr, 65_000), (Dy, 12_000), (Tb, 1_000)],
    },
    Recycler {
        name: "Vacuumschmelze Scrap Return",
        country: "DE",
        category: MagnetCategory::IndustrialSwarf,
        scrap: ScrapClass::PreConsumer,
        tonnes: 400,
        content: &[(Nd, 235_000), (Pr, 68_000), (Dy, 15_000), (Tb, 2_000)],
    },
    Recycler {
        name: "Magneti Riciclati",
        country: "IT",
        category: MagnetCategory::ProductionReject,
        scrap: ScrapClass::PreConsumer,
        tonnes: 200,
        content: &[(Nd, 240_000), (Pr, 70_000), (Dy, 10_000)],
    },
];

const CUSTOMERS: &[(&str, &str)] = &[
    ("Vacuumschmelze GmbH", "DE"),
    ("Neo Performance Materials Narva", "EE"),
    ("Renault Ampere", "FR"),
    ("Safran Electrical & Power", "FR"),
    ("Solvay La Rochelle", "FR"),
];

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

struct InputLot {
    id: LotId,
    mass_g: u64,
    content: Vec<(Element, u32)>,
    chinese: bool,
}

fn cc(s: &str) -> Country {
    // The demo's codes are constants from the assigned list.
    Country::parse(s).unwrap_or_else(|_| panic!("demo country code {s} must be valid"))
}

/// Builds the year: batches of bodies in submission order (one batch per receipt group, one
/// atomic batch per separation).
fn build(seed: u64) -> (Vec<(Vec<EventBody>, bool)>, Summary) {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut batches: Vec<(Vec<EventBody>, bool)> = vec![];
    let mut ores: Vec<InputLot> = vec![];
    let mut magnets: Vec<InputLot> = vec![];
    let mut receipts = vec![];
    // Ore concentrates: lots of 80-160 t, spread over the year.
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
            let id = LotId(g.id());
            let content: Vec<(Element, u32)> =
                m.assay.iter().map(|(e, p)| (*e, g.jitter(*p))).collect();
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
                    supplier: m.supplier.into(),
                    mine_site: m.site.into(),
                    country: cc(m.country),
                    mass_g,
                    reo_grade_ppm: m.reo_grade_ppm,
                    assay: Composition::new(content.clone()).unwrap_or_default(),
                    documents,
                }),
            );
            receipts.push(b);
            ores.push(InputLot {
                id,
                mass_g,
                content,
                chinese: m.country == "CN",
            });
        }
    }
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
    receipts.sort_by_key(|b| b.occurred_at);
    let (ore_lots, magnet_lots) = (ores.len(), magnets.len());
    let ore_t = ores.iter().map(|l| l.mass_g).sum::<u64>() as f64 / TONNE as f64;
    let magnet_t = magnets.iter().map(|l| l.mass_g).sum::<u64>() as f64 / TONNE as f64;
    for chunk in receipts.chunks(200) {
        batches.push((chunk.to_vec(), false));
    }
    // Twelve monthly campaigns share the feed; the Chinese lot goes into campaign 7 only.
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
    let mut oxide_lots: Vec<(LotId, u64, String, usize, f64)> = vec![]; // id, g, formula, campaign, recycled fraction
    let mut shipments = vec![];
    for (month, (ore_in, mag_in)) in ore_groups.into_iter().zip(mag_groups).enumerate() {
        let camp = LotId(g.id());
        let day0 = 300.0 + month as f64 * 5.0;
        let open = g.body(
            day0,
            EventKind::CampaignOpened(CampaignOpened {
                campaign: camp,
                facility: "Caremag Lacq separation plant".into(),
                country: cc("FR"),
            }),
        );
        batches.push((vec![open], false));
        let mut sep: Vec<EventBody> = vec![];
        let mut charged = [0u64; ree_core::element::N_ELEMENTS];
        let mut charged_g = 0u64;
        let mut recycled_el = 0u64;
        let mut total_el = 0u64;
        for l in ore_in.iter().chain(&mag_in) {
            sep.push(g.body(
                day0 + 0.5,
                EventKind::InputCharged(InputCharged {
                    campaign: camp,
                    input: l.id,
                    mass_g: l.mass_g,
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
        // Outputs, as the plant announces them: NdPr oxide (its Nd2O3 share from the feed's Nd:Pr),
        // Dy2O3 and Tb4O7, at 90% recovery. La, Ce, Sm, Gd and Y leave as a mixed by-product and
        // count with gangue and iron as the campaign's declared losses.
        let recovery = 0.90;
        let purity: u32 = 995_000;
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
        let mut produced = 0u64;
        for (ox, mass) in outputs {
            // Several oxide lots per product, of at most ~40 t, as drums are filled.
            let mut left = mass as u64;
            while left > 0 {
                let lot_g = left.min(40 * TONNE);
                left -= lot_g;
                let out = LotId(g.id());
                sep.push(g.body(
                    day0 + 3.0,
                    EventKind::OutputProduced(OutputProduced {
                        campaign: camp,
                        output: out,
                        oxide: ox,
                        mass_g: lot_g,
                        purity_ppm: purity,
                    }),
                ));
                produced += lot_g;
                oxide_lots.push((
                    out,
                    lot_g,
                    ox.formula(),
                    month,
                    recycled_el as f64 / total_el.max(1) as f64,
                ));
                // Most of each lot ships within days.
                let ship_g = lot_g * g.rng.random_range(60..=90) / 100;
                let (customer, dest) = CUSTOMERS[g.rng.random_range(0..CUSTOMERS.len())];
                let doc = g.digest("delivery note");
                shipments.push(g.body(
                    day0 + 6.0,
                    EventKind::Shipment(Shipment {
                        lot: out,
                        mass_g: ship_g,
                        customer: customer.into(),
                        destination: cc(dest),
                        document: doc,
                    }),
                ));
            }
        }
        let losses = charged_g - produced;
        sep.push(g.body(
            day0 + 4.0,
            EventKind::CampaignClosed(CampaignClosed {
                campaign: camp,
                losses_g: losses,
            }),
        ));
        batches.push((sep, true));
    }
    for chunk in shipments.chunks(200) {
        batches.push((chunk.to_vec(), false));
    }
    let clean = oxide_lots
        .iter()
        .find(|o| o.3 == 0 && o.2 == "NdPr oxide")
        .map(|o| o.0);
    let chinese = oxide_lots
        .iter()
        .find(|o| o.3 == 6 && o.2 == "NdPr oxide")
        .map(|o| o.0);
    let recycled_rich = oxide_lots
        .iter()
        .filter(|o| o.2 == "NdPr oxide" && o.3 != 6)
        .max_by(|a, b| a.4.total_cmp(&b.4))
        .map(|o| o.0);
    let clean_dy = oxide_lots
        .iter()
        .find(|o| o.3 == 0 && o.2 == "Dy2O3")
        .map(|o| o.0);
    let mut by_formula: std::collections::BTreeMap<String, u64> = Default::default();
    for o in &oxide_lots {
        *by_formula.entry(o.2.clone()).or_default() += o.1;
    }
    let events = batches.iter().map(|b| b.0.len()).sum();
    let summary = Summary {
        ore_lots,
        ore_t,
        magnet_lots,
        magnet_t,
        campaigns: months,
        oxide_lots: oxide_lots.len(),
        oxide_t: oxide_lots.iter().map(|o| o.1).sum::<u64>() as f64 / TONNE as f64,
        oxide_by_formula: by_formula
            .into_iter()
            .map(|(k, v)| (k, v as f64 / TONNE as f64))
            .collect(),
        shipments: shipments.len(),
        events,
        clean_oxide: clean.unwrap_or(chinese_ore),
        chinese_oxide: chinese.unwrap_or(chinese_ore),
        chinese_ore,
        recycled_rich_oxide: recycled_rich.unwrap_or(chinese_ore),
        clean_dy_oxide: clean_dy.unwrap_or(chinese_ore),
        creds_dir: String::new(),
        participants: vec![],
    };
    (batches, summary)
}

/// The plant operator's participant name.
const PLANT: &str = "Caremag plant operations";

/// Who would really submit this event: the mine's supplier, the recycler, or the plant.
fn signer(b: &EventBody) -> &str {
    match &b.kind {
        EventKind::OreReceipt(o) => &o.supplier,
        EventKind::MagnetIntake(m) => &m.recycler,
        _ => PLANT,
    }
}

/// A demo participant with its secrets, derived from the administrator's key, the seed and the
/// name: a re-run registers nobody twice and finds the same credentials, and nobody without the
/// administrator's key can derive them. (Real participants run `ree keygen` and keep the key.)
struct Member {
    name: String,
    role: Role,
    country: Country,
    id: ParticipantId,
    secret: [u8; 32],
    token: String,
}

impl Member {
    fn derive(admin: &[u8; 32], seed: u64, name: &str, role: Role, country: Country) -> Member {
        let mut m = admin.to_vec();
        m.extend_from_slice(&seed.to_le_bytes());
        m.extend_from_slice(name.as_bytes());
        let secret = blake3::derive_key("ree-ledger demo participant key v2", &m);
        let token = blake3::derive_key("ree-ledger demo participant token v2", &m);
        let id = blake3::derive_key("ree-ledger demo participant id v2", &m);
        let mut b = [0u8; 16];
        b.copy_from_slice(&id[..16]);
        Member {
            name: name.to_string(),
            role,
            country,
            id: ParticipantId(uuid::Builder::from_random_bytes(b).into_uuid()),
            secret,
            token: format!(
                "reetok_{}",
                token.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
        }
    }
    /// File-name form of the name: lower case, letters and digits, dashes between words.
    fn slug(&self) -> String {
        let mut out = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        out.trim_end_matches('-').to_string()
    }
}

/// Everyone the demo year needs: each supplier and recycler of its events, the plant, a
/// customer and an auditor.
fn members(admin: &[u8; 32], seed: u64, batches: &[(Vec<EventBody>, bool)]) -> Vec<Member> {
    let mut out: Vec<Member> = vec![];
    let mut add = |name: &str, role: Role, country: Country| {
        if !out.iter().any(|m| m.name == name) {
            out.push(Member::derive(admin, seed, name, role, country));
        }
    };
    add(PLANT, Role::PlantOperator, cc("FR"));
    add(
        "Vacuumschmelze magnets (customer)",
        Role::Customer,
        cc("DE"),
    );
    add("Independent auditor", Role::Auditor, cc("FR"));
    for b in batches.iter().flat_map(|b| &b.0) {
        match &b.kind {
            EventKind::OreReceipt(o) => add(&o.supplier, Role::Supplier, o.country),
            EventKind::MagnetIntake(m) => add(&m.recycler, Role::Recycler, m.country),
            _ => {}
        }
    }
    out
}

fn write_creds(dir: &std::path::Path, m: &Member) -> Result<()> {
    let key = dir.join(format!("{}.key", m.slug()));
    if !key.exists() {
        ree_proto::creds::write_key(&key, &m.secret)?;
    }
    let token = dir.join(format!("{}.token", m.slug()));
    if !token.exists() {
        ree_proto::creds::write_secret(&token, &m.token)?;
    }
    Ok(())
}

fn check_results(bodies: &[EventBody], resp: pb::SubmitBatchResponse) -> Result<()> {
    for (b, r) in bodies.iter().zip(resp.results) {
        if let Some(pb::event_result::Result::Error(e)) = r.result {
            bail!(
                "demo event {} ({}) was rejected: {}",
                b.event_id,
                b.kind.name(),
                e.message
            );
        }
    }
    Ok(())
}

/// Loads the demo through `admin` (a client with an administrator's token, whose signing key is
/// `admin_key`): registers the participants, writes their credentials into `creds_dir`, and
/// submits every event as the participant who would really make it. Fails on the first
/// rejected event.
pub async fn run(
    admin: &Client,
    admin_key: [u8; 32],
    seed: u64,
    creds_dir: &std::path::Path,
) -> Result<Summary> {
    let (batches, mut summary) = build(seed);
    let members = members(&admin_key, seed, &batches);
    std::fs::create_dir_all(creds_dir)
        .with_context(|| format!("cannot create {}", creds_dir.display()))?;
    let mut a = admin.clone();
    let known: Vec<String> = a
        .query
        .list_participants(pb::ListParticipantsRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .participants
        .into_iter()
        .map(|p| p.participant_id)
        .collect();
    let mut regs = vec![];
    for m in &members {
        write_creds(creds_dir, m)?;
        if known.contains(&m.id.to_string()) {
            continue;
        }
        let body = EventBody {
            event_id: EventId(m.id.0),
            occurred_at: YEAR_START,
            expected_head: None,
            kind: EventKind::ParticipantRegistered(ParticipantRegistered {
                participant: m.id,
                name: m.name.clone(),
                role: m.role,
                country: m.country,
                public_key: ree_core::record::Signature::sign(&m.secret, b"").public_key,
                token_hash: ree_core::registry::token_hash(&m.token),
            }),
        };
        regs.push(body);
    }
    if !regs.is_empty() {
        let resp = a
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: regs.iter().map(|b| signed(&admin_key, b)).collect(),
                atomic: true,
            })
            .await
            .map_err(status)?
            .into_inner();
        check_results(&regs, resp)?;
    }
    let mut clients = std::collections::HashMap::new();
    for m in &members {
        clients.insert(
            m.name.clone(),
            (admin.with_token(Some(&m.token))?, m.secret),
        );
    }
    let progress = crate::progress::bar(summary.events as u64, "loading the demo", "events");
    for (bodies, atomic) in batches {
        // One request per run of events by the same participant: a token speaks for one.
        let mut start = 0;
        while start < bodies.len() {
            let who = signer(&bodies[start]);
            let end = bodies[start..]
                .iter()
                .position(|b| signer(b) != who)
                .map_or(bodies.len(), |k| start + k);
            let run = &bodies[start..end];
            let (c, secret) = clients
                .get_mut(who)
                .ok_or_else(|| anyhow::anyhow!("no demo participant named {who}"))?;
            let resp = c
                .submit
                .submit_batch(pb::SubmitBatchRequest {
                    submissions: run.iter().map(|b| signed(secret, b)).collect(),
                    atomic,
                })
                .await
                .map_err(status)?
                .into_inner();
            check_results(run, resp)?;
            progress.inc(run.len() as u64);
            start = end;
        }
    }
    progress.finish_and_clear();
    write_lots_env(creds_dir, &summary)?;
    summary.creds_dir = creds_dir.display().to_string();
    summary.participants = members
        .iter()
        .map(|m| (m.slug(), m.role.name().to_string()))
        .collect();
    Ok(summary)
}

/// Writes `lots.env` beside the credentials: the lots worth querying as shell variables, so a
/// script (and the README, which a test runs) can name them: `. ree-demo-creds/lots.env`.
fn write_lots_env(creds_dir: &std::path::Path, s: &Summary) -> Result<()> {
    let text = format!(
        "CLEAN_NDPR_LOT={}\nCN_NDPR_LOT={}\nCN_ORE_LOT={}\nRECYCLED_NDPR_LOT={}\nCLEAN_DY_LOT={}\n",
        s.clean_oxide, s.chinese_oxide, s.chinese_ore, s.recycled_rich_oxide, s.clean_dy_oxide
    );
    let path = creds_dir.join("lots.env");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Prints what was loaded and what to look at.
pub fn print_summary(s: &Summary) {
    println!("demo loaded: {} events", s.events);
    println!(
        "  ore concentrate receipts: {} lots, {:.0} t (AU, US, BR, ZA, CA and one CN lot)",
        s.ore_lots, s.ore_t
    );
    println!(
        "  recycled magnet intakes:  {} lots, {:.0} t (FR, DE, ES, IT; pre- and post-consumer)",
        s.magnet_lots, s.magnet_t
    );
    println!(
        "  separation campaigns:     {} (Caremag Lacq, FR)",
        s.campaigns
    );
    println!(
        "  oxide lots:               {} lots, {:.0} t",
        s.oxide_lots, s.oxide_t
    );
    for (f, t) in &s.oxide_by_formula {
        println!("    {f:<12} {t:>8.1} t");
    }
    println!("  shipments:                {}", s.shipments);
    println!("lots worth querying:");
    println!(
        "  clean NdPr oxide lot:            {}   (ree provenance {})",
        s.clean_oxide, s.clean_oxide
    );
    println!("  NdPr oxide with Chinese content: {}", s.chinese_oxide);
    println!("  the Chinese ore lot:             {}", s.chinese_ore);
    println!(
        "  most recycled NdPr oxide lot:    {}",
        s.recycled_rich_oxide
    );
    println!("  clean Dy2O3 lot (low recycled):  {}", s.clean_dy_oxide);
    println!(
        "  (also in {}/lots.env, as shell variables: . {}/lots.env)",
        s.creds_dir, s.creds_dir
    );
    println!(
        "participants: {} registered; each one's NAME.key, NAME.key.pub and NAME.token are in {}:",
        s.participants.len(),
        s.creds_dir
    );
    for (name, role) in &s.participants {
        println!("  {role:<15} {name}");
    }
    println!(
        "query as the auditor: ree provenance {} --token-file {}/independent-auditor.token",
        s.clean_oxide, s.creds_dir
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_reproducible_valid_and_at_plant_scale() {
        let (a, sa) = build(7);
        let (b, _) = build(7);
        assert_eq!(
            a.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
            b.iter().map(|x| x.0.clone()).collect::<Vec<_>>()
        );
        let (c, _) = build(8);
        assert_ne!(a[0].0[0].event_id, c[0].0[0].event_id);
        let now = ree_proto::now_utc();
        for (bodies, _) in &a {
            for body in bodies {
                body.validate(now).unwrap();
            }
        }
        assert!((4_900.0..=5_100.0).contains(&sa.ore_t), "{}", sa.ore_t);
        assert!(
            (1_990.0..=2_010.0).contains(&sa.magnet_t),
            "{}",
            sa.magnet_t
        );
        assert!(
            (1_000.0..=1_900.0).contains(&sa.oxide_t),
            "oxide output {} t",
            sa.oxide_t
        );
        assert_ne!(sa.clean_oxide, sa.chinese_oxide);
    }
}
