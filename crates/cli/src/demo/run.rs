//! Running the demo: registers the year's participants (credentials derived from the
//! administrator's key, written into the credentials directory) and submits every event of the
//! plan as the participant who would really make it; re-running it against the same server is
//! answered idempotently.

use anyhow::{bail, Context, Result};
use ree_core::event::{EventKind, ParticipantRegistered, Role};
use ree_core::{Country, EventBody, EventId, ParticipantId};
use ree_proto::v1 as pb;

use super::data::{cc, PLANT, YEAR_START};
use super::plan::{build, Batches, Summary};
use crate::client::{status, Client};
use crate::participants::signed;

/// The demo's auditor, who attests origins.
const AUDITOR: &str = "Independent auditor";

/// Who would really submit this event: the mine's supplier, the recycler, or the plant.
fn signer(b: &EventBody) -> &str {
    match &b.kind {
        EventKind::OreReceipt(o) => &o.supplier,
        EventKind::MagnetIntake(m) => &m.recycler,
        EventKind::AssayRecorded(_) => super::sites::LAB,
        EventKind::Attestation(_) => AUDITOR,
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
fn members(admin: &[u8; 32], seed: u64, batches: &Batches) -> Vec<Member> {
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
    add(AUDITOR, Role::Auditor, cc("FR"));
    add(super::sites::LAB, Role::Laboratory, cc("FR"));
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
    register(admin, &admin_key, &members, creds_dir).await?;
    let sites = super::sites::sites_of(batches.iter().flat_map(|b| &b.0).map(|b| &b.kind));
    register_sites(admin, &admin_key, &members, &sites).await?;
    submit_year(admin, &members, batches, summary.events).await?;
    write_lots_env(creds_dir, &summary)?;
    summary.creds_dir = creds_dir.display().to_string();
    summary.participants = members
        .iter()
        .map(|m| (m.slug(), m.role.name().to_string()))
        .collect();
    Ok(summary)
}

/// Registers and certifies every site the year names (unless a re-run finds them registered),
/// then suspends one mine's certificate at mid-year: one atomic batch each.
async fn register_sites(
    admin: &Client,
    admin_key: &[u8; 32],
    members: &[Member],
    sites: &std::collections::BTreeMap<
        ree_core::FacilityId,
        (String, ree_core::event::FacilityKind, Country, String),
    >,
) -> Result<()> {
    let mut a = admin.clone();
    let known = a
        .query
        .list_participants(pb::ListParticipantsRequest {})
        .await
        .map_err(status)?
        .into_inner()
        .facilities;
    if !known.is_empty() {
        return Ok(());
    }
    let op = |name: &str| members.iter().find(|m| m.name == name).map(|m| m.id);
    let regs = super::sites::registrations(sites, op);
    let susp = super::sites::suspensions(&regs);
    for (kinds, at) in [(regs, YEAR_START), (susp, super::sites::MID_YEAR)] {
        let bodies: Vec<EventBody> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let id = blake3::derive_key(
                    "ree-ledger demo site event v1",
                    format!("{}/{i}/{}", kind.name(), at.0).as_bytes(),
                );
                let mut b = [0u8; 16];
                b.copy_from_slice(&id[..16]);
                EventBody {
                    event_id: EventId(uuid::Builder::from_random_bytes(b).into_uuid()),
                    occurred_at: at,
                    expected_head: None,
                    kind,
                }
            })
            .collect();
        let resp = a
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: bodies.iter().map(|b| signed(admin_key, b)).collect(),
                atomic: true,
            })
            .await
            .map_err(status)?
            .into_inner();
        check_results(&bodies, resp)?;
    }
    Ok(())
}

/// Writes every member's credentials and registers, in one atomic batch signed by the
/// administrator, those the registry does not know yet.
async fn register(
    admin: &Client,
    admin_key: &[u8; 32],
    members: &[Member],
    creds_dir: &std::path::Path,
) -> Result<()> {
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
    for m in members {
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
                submissions: regs.iter().map(|b| signed(admin_key, b)).collect(),
                atomic: true,
            })
            .await
            .map_err(status)?
            .into_inner();
        check_results(&regs, resp)?;
    }
    Ok(())
}

/// Submits the plan's batches, each run of events by the same participant as one request
/// with that participant's token and key. A run of the plant's events that commit to heads
/// (charges, outputs, shipments: docs/format.md, "The order commitment") goes one event per
/// request, each signed over the heads the previous answers gave.
async fn submit_year(
    admin: &Client,
    members: &[Member],
    batches: Batches,
    events: usize,
) -> Result<()> {
    let mut clients = std::collections::HashMap::new();
    for m in members {
        clients.insert(
            m.name.clone(),
            (admin.with_token(Some(&m.token))?, m.secret),
        );
    }
    let mut heads = Heads::default();
    let progress = crate::progress::bar(events as u64, "loading the demo", "events");
    for (mut bodies, atomic) in batches {
        let mut start = 0;
        while start < bodies.len() {
            let who = signer(&bodies[start]).to_string();
            let end = bodies[start..]
                .iter()
                .position(|b| signer(b) != who)
                .map_or(bodies.len(), |k| start + k);
            let (c, secret) = clients
                .get_mut(&who)
                .ok_or_else(|| anyhow::anyhow!("no demo participant named {who}"))?;
            let run = &mut bodies[start..end];
            let commits = run.iter().any(|b| b.kind.must_commit());
            let step = if commits { 1 } else { run.len() };
            for part in run.chunks_mut(step) {
                for b in part.iter_mut() {
                    b.commit_to(|l| heads.0.get(l).copied());
                }
                let resp = c
                    .submit
                    .submit_batch(pb::SubmitBatchRequest {
                        submissions: part.iter().map(|b| signed(secret, b)).collect(),
                        atomic: atomic && !commits,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                heads.advance(&resp)?;
                check_results(part, resp)?;
            }
            progress.inc((end - start) as u64);
            start = end;
        }
    }
    progress.finish_and_clear();
    Ok(())
}

/// Each lot's head as the answers gave it: what the plant's next event commits to.
#[derive(Default)]
struct Heads(std::collections::HashMap<ree_core::LotId, ree_core::Hash32>);

impl Heads {
    fn advance(&mut self, resp: &pb::SubmitBatchResponse) -> Result<()> {
        for r in &resp.results {
            if let Some(pb::event_result::Result::Ok(o)) = &r.result {
                for rec in &o.records {
                    let lot = ree_core::LotId::parse(&rec.lot_id)
                        .map_err(|e| anyhow::anyhow!("answer's lot id: {e}"))?;
                    let h = ree_core::Hash32::from_hex(&rec.hash)
                        .map_err(|e| anyhow::anyhow!("answer's record hash: {e}"))?;
                    self.0.insert(lot, h);
                }
            }
        }
        Ok(())
    }
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
                // Heads are filled in at submission, from the answers (`Heads`).
                let mut body = body.clone();
                body.commit_to(|_| None);
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
