//! `ree bench`: a load generator against a running server. N concurrent submitters over K
//! connections append events (single, or batches of B), for a duration or a count, and report
//! throughput, latency percentiles (hdrhistogram) and errors by status code. It creates the lots
//! it needs first: given an administrator's --key and --token-file it registers a supplier and a
//! plant operator with fresh keys, the supplier receives one ore lot per submitter, and the
//! plant's signed adjustments are the load. Every payload is signed before the timed phase, as
//! real suppliers sign on their own machines: the server's side (decode, signature check,
//! validation, hashing, durable store) is what is measured.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use hdrhistogram::Histogram;
use ree_core::event::{Adjustment, Composition, EventKind, OreReceipt, Role};
use ree_core::{Country, EventBody, EventId, LotId};
use ree_proto::v1 as pb;
use serde_json::json;

use crate::cli::BenchArgs;
pub use crate::cli::Mode;
use crate::client::{connect, status, Client};

/// What to run.
pub struct Options {
    pub creds: crate::conn::Creds,
    pub duration: Option<f64>,
    pub count: Option<u64>,
    pub concurrency: usize,
    pub connections: usize,
    pub batch: usize,
    pub json: bool,
    pub mode: Mode,
    /// Register nobody and create no lots: drive a server that answers without checking
    /// (the no-op ceiling of `bench/compare.sh`) with the same signed payloads.
    pub no_setup: bool,
    /// The caller's consent to write: submit mode registers two participants and appends
    /// events to whatever ledger it targets.
    pub allow_writes: bool,
}

/// For a timed run, payloads are signed for this many events per second at most (above the
/// 50k/s target); a submitter that uses all of its payloads stops, and the report says so.
const PRESIGN_RATE: f64 = 80_000.0;
/// Beyond this many events (long soaks), payloads are signed by each submitter just before its
/// request's clock starts instead: on the same machine that signing competes with the server.
const PRESIGN_CAP: f64 = 2_000_000.0;

impl From<BenchArgs> for Options {
    /// Ten seconds unless a duration or a count is given.
    fn from(args: BenchArgs) -> Options {
        let duration = if args.count.is_none() {
            Some(args.duration.unwrap_or(10.0))
        } else {
            args.duration
        };
        Options {
            creds: args.server,
            duration,
            count: args.count,
            concurrency: args.concurrency,
            connections: args.connections,
            batch: args.batch,
            json: args.json,
            mode: args.mode,
            no_setup: args.no_setup,
            allow_writes: args.allow_writes,
        }
    }
}

/// One submitter's figures (and, merged, the run's).
struct Worker {
    hist: Histogram<u64>,
    events: u64,
    requests: u64,
    errors: BTreeMap<String, u64>,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            events: 0,
            requests: 0,
            errors: BTreeMap::new(),
        }
    }
}

/// A fresh event of `kind`, happening now.
fn body(kind: EventKind) -> EventBody {
    EventBody {
        event_id: EventId::new_v7(),
        occurred_at: ree_proto::now_utc(),
        expected_head: None,
        kind,
    }
}

fn adjustment(lot: LotId, key: &[u8; 32]) -> pb::Submission {
    let b = body(EventKind::Adjustment(Adjustment {
        lot,
        delta_g: -1,
        reason: "bench".into(),
        countersignature: None,
    }));
    crate::participants::signed(key, &b)
}

/// A participant the bench registers for itself, with fresh credentials.
struct Actor {
    secret: [u8; 32],
    token: String,
    /// A supplier's registered mine (AU), which its receipts name.
    site: Option<ree_core::FacilityId>,
}

async fn register(admin: &mut Client, admin_key: &[u8; 32], role: Role) -> Result<Actor> {
    let secret = ree_proto::creds::random32()?;
    let public = ree_core::record::Signature::sign(&secret, b"").public_key;
    let reg = crate::participants::registration(
        &format!("ree bench {} {}", role.name(), uuid::Uuid::now_v7()),
        role,
        "FR",
        public,
        None,
        None,
    )?;
    crate::participants::submit_one(admin, admin_key, reg.kind).await?;
    let site = if role == Role::Supplier {
        let id = ree_core::FacilityId::new_v7();
        let kind = EventKind::FacilityRegistered(ree_core::event::FacilityRegistered {
            facility: id,
            name: "ree bench mine".into(),
            kind: ree_core::event::FacilityKind::Mine,
            country: Country::parse("AU").map_err(|e| anyhow!("{e}"))?,
            location: None,
            operator: reg.id,
        });
        crate::participants::submit_one(admin, admin_key, kind).await?;
        Some(id)
    } else {
        None
    };
    Ok(Actor {
        secret,
        token: reg.token,
        site,
    })
}

async fn setup_lots(c: &mut Client, supplier: &Actor, n: usize) -> Result<Vec<LotId>> {
    let site = supplier
        .site
        .ok_or_else(|| anyhow!("the bench supplier has no mine"))?;
    let lots: Vec<LotId> = (0..n).map(|_| LotId::new_v7()).collect();
    let au = Country::parse("AU").map_err(|e| anyhow!("{e}"))?;
    for chunk in lots.chunks(500) {
        let subs = chunk
            .iter()
            .map(|lot| {
                let b = body(EventKind::OreReceipt(OreReceipt {
                    lot: *lot,
                    facility: site,
                    supplier: "ree bench".into(),
                    mine_site: "load generator".into(),
                    country: au,
                    mass_g: ree_core::event::MAX_MASS_G,
                    reo_grade_ppm: 400_000,
                    assay: Composition::default(),
                    documents: vec![],
                }));
                crate::participants::signed(&supplier.secret, &b)
            })
            .collect();
        c.submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: subs,
                atomic: true,
            })
            .await
            .map_err(status)?;
    }
    Ok(lots)
}

async fn first_oxide(c: &mut Client) -> Result<String> {
    let r = c
        .query
        .list_lots(pb::ListLotsRequest {
            kind: pb::LotKind::Oxide as i32,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .map_err(status)?
        .into_inner();
    r.lots
        .into_iter()
        .next()
        .map(|l| l.lot_id)
        .ok_or_else(|| anyhow!("no oxide lot on the server: run `ree demo` first"))
}

/// Submit mode writes to the target ledger: only with the caller's consent, and said aloud.
fn check_consent(o: &Options) -> Result<()> {
    if o.mode == Mode::Submit && !o.no_setup && !o.allow_writes {
        bail!(
            "ree bench --mode submit writes to {}: it registers a supplier and a plant operator and appends every event it sends; run it against a scratch server and pass --allow-writes",
            o.creds.server
        );
    }
    if o.mode == Mode::Submit && !o.no_setup && !o.json {
        eprintln!(
            "writing to {}: registering a bench supplier and plant operator, then appending events",
            o.creds.server
        );
    }
    Ok(())
}

/// Submissions act as a plant operator registered for the run, on one lot per submitter;
/// queries need neither.
async fn setup(
    o: &Options,
    admin: &mut Client,
    concurrency: usize,
) -> Result<(Option<Actor>, Vec<LotId>)> {
    Ok(match o.mode {
        Mode::Submit if o.no_setup => (
            Some(Actor {
                secret: ree_proto::creds::random32()?,
                token: String::new(),
                site: None,
            }),
            (0..concurrency).map(|_| LotId::new_v7()).collect(),
        ),
        Mode::Submit => {
            let admin_key = o.creds.secret()?;
            let supplier = register(admin, &admin_key, Role::Supplier).await?;
            let plant = register(admin, &admin_key, Role::PlantOperator).await?;
            let mut supplier_client = admin.with_token(Some(&supplier.token))?;
            let lots = setup_lots(&mut supplier_client, &supplier, concurrency).await?;
            (Some(plant), lots)
        }
        _ => (None, vec![]),
    })
}

/// The connections the requests are spread over: as the plant for submissions (or the given
/// token with --no-setup), as the given token for queries.
async fn connections(o: &Options, plant: Option<&Actor>) -> Result<Vec<Client>> {
    let token = match plant {
        Some(p) if o.no_setup => o.creds.token()?.or(Some(p.token.clone())),
        Some(p) => Some(p.token.clone()),
        None => o.creds.token()?,
    };
    let mut clients = Vec::with_capacity(o.connections.max(1));
    for _ in 0..o.connections.max(1) {
        clients.push(connect(&o.creds.server, token.as_deref(), o.creds.tls()?).await?);
    }
    Ok(clients)
}

/// How payloads are signed: `per_worker` requests each before the clock starts, or (`live`)
/// each request just before it is sent.
struct SigningPlan {
    live: bool,
    per_worker: usize,
}

fn signing_plan(o: &Options, concurrency: usize, batch: usize) -> SigningPlan {
    let events_needed = match (o.count, o.duration) {
        (Some(c), _) => c as f64,
        (None, Some(d)) => d * PRESIGN_RATE,
        (None, None) => PRESIGN_RATE,
    };
    let live = events_needed > PRESIGN_CAP;
    let per_worker = if live {
        0
    } else {
        ((events_needed / (concurrency * batch) as f64).ceil() as usize).max(1)
    };
    if o.mode == Mode::Submit && !o.json && live {
        eprintln!("signing each request just before it is sent (more than {PRESIGN_CAP} events)");
    } else if o.mode == Mode::Submit && !o.json {
        eprintln!(
            "signing {} events before the timed phase ({} requests of {batch} per submitter)...",
            per_worker * concurrency * batch,
            per_worker
        );
    }
    SigningPlan { live, per_worker }
}

/// Every payload signed before the clock starts, `per_worker` requests per lot (submitter),
/// split over the machine's cores and joined in order.
async fn presign(
    o: &Options,
    key: [u8; 32],
    lots: &[LotId],
    per_worker: usize,
    batch: usize,
) -> Result<Vec<Vec<Vec<pb::Submission>>>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let progress = if o.json {
        indicatif::ProgressBar::hidden()
    } else {
        crate::progress::bar(
            (per_worker * lots.len() * batch) as u64,
            "signing",
            "events",
        )
    };
    let mut handles = vec![];
    for part in lots.chunks(lots.len().div_ceil(threads).max(1)) {
        let (part, progress) = (part.to_vec(), progress.clone());
        handles.push(tokio::task::spawn_blocking(move || {
            part.iter()
                .map(|l| {
                    (0..per_worker)
                        .map(|_| {
                            progress.inc(batch as u64);
                            (0..batch).map(|_| adjustment(*l, &key)).collect()
                        })
                        .collect::<Vec<Vec<pb::Submission>>>()
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut presigned = vec![];
    for h in handles {
        presigned.extend(h.await?);
    }
    progress.finish_and_clear();
    Ok(presigned)
}

/// What every submitter shares.
#[derive(Clone)]
struct Shared {
    mode: Mode,
    batch: usize,
    /// The lot queried (provenance and export modes).
    oxide: String,
    stop: Arc<AtomicBool>,
    /// Events (or queries) left to send.
    budget: Arc<AtomicU64>,
    /// Set when a submitter used all of its presigned payloads.
    exhausted: Arc<AtomicBool>,
}

/// One request of `shared.mode`; how many events it stored (1 for a query).
async fn request(
    c: &mut Client,
    shared: &Shared,
    req: Option<Vec<pb::Submission>>,
) -> Result<u64, tonic::Status> {
    match (shared.mode, req) {
        (Mode::Submit, Some(mut subs)) if shared.batch == 1 => {
            let s = subs.pop();
            c.submit
                .submit(pb::SubmitRequest { submission: s })
                .await
                .map(|_| 1)
        }
        (Mode::Submit, Some(subs)) => c
            .submit
            .submit_batch(pb::SubmitBatchRequest {
                submissions: subs,
                atomic: false,
            })
            .await
            .map(|r| {
                r.into_inner()
                    .results
                    .iter()
                    .filter(|x| matches!(x.result, Some(pb::event_result::Result::Ok(_))))
                    .count() as u64
            }),
        (Mode::Provenance, _) => c
            .query
            .get_provenance(pb::GetProvenanceRequest {
                lot_id: shared.oxide.clone(),
                denied_countries: vec![],
            })
            .await
            .map(|_| 1),
        (Mode::Export, _) => c
            .query
            .export_bundle(pb::ExportBundleRequest {
                lot_id: shared.oxide.clone(),
            })
            .await
            .map(|_| 1),
        (Mode::Submit, None) => Ok(0),
    }
}

/// One submitter: requests until stopped, out of budget or out of presigned payloads.
async fn submitter(
    mut c: Client,
    mut mine: Option<std::vec::IntoIter<Vec<pb::Submission>>>,
    live_key: Option<(LotId, [u8; 32])>,
    shared: Shared,
) -> Worker {
    let mut w = Worker::new();
    let n = match shared.mode {
        Mode::Submit => shared.batch as u64,
        _ => 1,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        // Signed before the run; never reused (a reused one would be a retry).
        let req = match (mine.as_mut().map(|m| m.next()), &live_key) {
            (_, Some((lot, key))) => {
                Some((0..shared.batch).map(|_| adjustment(*lot, key)).collect())
            }
            (Some(None), None) => {
                shared.exhausted.store(true, Ordering::Relaxed);
                break;
            }
            (Some(Some(r)), None) => Some(r),
            (None, None) => None,
        };
        if shared
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n))
            .is_err()
        {
            break;
        }
        let t = Instant::now();
        let res = request(&mut c, &shared, req).await;
        let us = t.elapsed().as_micros().max(1) as u64;
        w.requests += 1;
        match res {
            Ok(k) => {
                let _ = w.hist.record(us);
                w.events += k;
                if k < n && shared.mode == Mode::Submit {
                    *w.errors.entry("PerEventRejected".into()).or_default() += n - k;
                }
            }
            Err(s) => *w.errors.entry(format!("{:?}", s.code())).or_default() += 1,
        }
    }
    w
}

/// Runs the load and prints the report.
pub async fn run(o: Options) -> Result<()> {
    check_consent(&o)?;
    let mut admin = o.creds.connect().await?;
    let conc = o.concurrency.max(1);
    let batch = o.batch.clamp(1, ree_proto::MAX_BATCH);
    let (plant, lots) = setup(&o, &mut admin, conc).await?;
    let mut clients = connections(&o, plant.as_ref()).await?;
    let plan = signing_plan(&o, conc, batch);
    let mut presigned = match (&plant, plan.live) {
        (Some(p), false) => presign(&o, p.secret, &lots, plan.per_worker, batch).await?,
        _ => vec![],
    };
    let shared = Shared {
        mode: o.mode,
        batch,
        oxide: match o.mode {
            Mode::Submit => String::new(),
            _ => first_oxide(&mut clients[0]).await?,
        },
        stop: Arc::new(AtomicBool::new(false)),
        budget: Arc::new(AtomicU64::new(o.count.unwrap_or(u64::MAX))),
        exhausted: Arc::new(AtomicBool::new(false)),
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(conc);
    for i in 0..conc {
        let c = clients[i % clients.len()].clone();
        let mine = (i < presigned.len()).then(|| std::mem::take(&mut presigned[i]).into_iter());
        let live_key = match (&plant, plan.live) {
            (Some(p), true) => lots.get(i).map(|l| (*l, p.secret)),
            _ => None,
        };
        tasks.push(tokio::spawn(submitter(c, mine, live_key, shared.clone())));
    }
    if let Some(d) = o.duration {
        let stop = shared.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(d)).await;
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut total = Worker::new();
    for t in tasks {
        let w = t.await.map_err(|e| anyhow!("worker: {e}"))?;
        total
            .hist
            .add(&w.hist)
            .map_err(|e| anyhow!("histogram: {e}"))?;
        total.events += w.events;
        total.requests += w.requests;
        for (k, v) in w.errors {
            *total.errors.entry(k).or_default() += v;
        }
    }
    let shape = Shape {
        secs: started.elapsed().as_secs_f64(),
        concurrency: conc,
        connections: clients.len(),
        batch,
        live: plan.live,
        presigned_events: plan.per_worker * batch * conc,
        exhausted: shared.exhausted.load(Ordering::Relaxed),
    };
    report(&o, &total, &shape)
}

/// How the run went, beside its figures.
struct Shape {
    secs: f64,
    concurrency: usize,
    connections: usize,
    batch: usize,
    live: bool,
    presigned_events: usize,
    exhausted: bool,
}

/// Prints the figures: one JSON object, or three lines.
fn report(o: &Options, total: &Worker, shape: &Shape) -> Result<()> {
    let secs = shape.secs;
    let ms = |q: f64| total.hist.value_at_quantile(q) as f64 / 1000.0;
    let submit = o.mode == Mode::Submit;
    // A query is not an event: the JSON names what was counted.
    let (unit, units) = if submit {
        ("events", "events_per_s")
    } else {
        ("queries", "queries_per_s")
    };
    if o.json {
        let mut report = json!({
            "mode": format!("{:?}", o.mode).to_lowercase(),
            "duration_s": secs,
            "concurrency": shape.concurrency,
            "connections": shape.connections,
            "batch": shape.batch,
            "requests": total.requests,
            "requests_per_s": total.requests as f64 / secs,
            "p50_ms": ms(0.50),
            "p99_ms": ms(0.99),
            "p999_ms": ms(0.999),
            "max_ms": total.hist.max() as f64 / 1000.0,
            "errors": total.errors,
        });
        report[unit] = json!(total.events);
        report[units] = json!(total.events as f64 / secs);
        if submit {
            report["signed"] = json!(true);
            report["signing"] = json!(if shape.live { "live" } else { "presigned" });
            report["presigned_events"] = json!(shape.presigned_events);
            report["presigned_exhausted"] = json!(shape.exhausted);
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} {:?}: {} {unit} in {:.1} s = {:.0} {unit}/s ({:.0} requests/s, {} in flight over {} connections, batch {})",
        if submit { "durable appends" } else { "queries" },
        o.mode,
        total.events,
        secs,
        total.events as f64 / secs,
        total.requests as f64 / secs,
        shape.concurrency,
        shape.connections,
        shape.batch
    );
    println!(
        "latency per request: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        total.hist.max() as f64 / 1000.0
    );
    println!(
        "errors: {}",
        if total.errors.is_empty() {
            "none".to_string()
        } else {
            format!("{:?}", total.errors)
        }
    );
    Ok(())
}
