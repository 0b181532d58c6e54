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

use crate::client::{connect, status, Client};

/// What to run.
pub struct Options {
    pub creds: crate::participants::Creds,
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

/// What each request does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Mode {
    /// Durable appends (Submit for --batch 1, SubmitBatch otherwise).
    Submit,
    /// GetProvenance of an oxide lot (run `ree demo` first; the first oxide lot is used).
    Provenance,
    /// ExportBundle of an oxide lot.
    Export,
}

struct Worker {
    hist: Histogram<u64>,
    events: u64,
    requests: u64,
    errors: BTreeMap<String, u64>,
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
    }));
    crate::participants::signed(key, &b)
}

/// A participant the bench registers for itself, with fresh credentials.
struct Actor {
    secret: [u8; 32],
    token: String,
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
    Ok(Actor {
        secret,
        token: reg.token,
    })
}

async fn setup_lots(c: &mut Client, supplier: &[u8; 32], n: usize) -> Result<Vec<LotId>> {
    let lots: Vec<LotId> = (0..n).map(|_| LotId::new_v7()).collect();
    let au = Country::parse("AU").map_err(|e| anyhow!("{e}"))?;
    for chunk in lots.chunks(500) {
        let subs = chunk
            .iter()
            .map(|lot| {
                let b = body(EventKind::OreReceipt(OreReceipt {
                    lot: *lot,
                    supplier: "ree bench".into(),
                    mine_site: "load generator".into(),
                    country: au,
                    mass_g: ree_core::event::MAX_MASS_G,
                    reo_grade_ppm: 400_000,
                    assay: Composition::default(),
                    documents: vec![],
                }));
                crate::participants::signed(supplier, &b)
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

/// Runs the load and prints the report.
pub async fn run(o: Options) -> Result<()> {
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
    let mut admin = o.creds.connect().await?;
    let conc = o.concurrency.max(1);
    let batch = o.batch.clamp(1, ree_proto::MAX_BATCH);
    // Submissions act as a plant operator registered for the run; queries with the given token.
    let (plant, lots) = match o.mode {
        Mode::Submit if o.no_setup => (
            Some(Actor {
                secret: ree_proto::creds::random32()?,
                token: String::new(),
            }),
            (0..conc).map(|_| LotId::new_v7()).collect(),
        ),
        Mode::Submit => {
            let admin_key = o.creds.secret()?;
            let supplier = register(&mut admin, &admin_key, Role::Supplier).await?;
            let plant = register(&mut admin, &admin_key, Role::PlantOperator).await?;
            let mut sc = admin.with_token(Some(&supplier.token))?;
            let lots = setup_lots(&mut sc, &supplier.secret, conc).await?;
            (Some(plant), lots)
        }
        _ => (None, vec![]),
    };
    let token = match &plant {
        Some(p) if o.no_setup => o.creds.token()?.or(Some(p.token.clone())),
        Some(p) => Some(p.token.clone()),
        None => o.creds.token()?,
    };
    let mut clients = Vec::with_capacity(o.connections.max(1));
    for _ in 0..o.connections.max(1) {
        clients.push(connect(&o.creds.server, token.as_deref(), o.creds.tls()?).await?);
    }
    // Every payload signed before the clock starts: each submitter cycles through its own.
    let events_needed = match (o.count, o.duration) {
        (Some(c), _) => c as f64,
        (None, Some(d)) => d * PRESIGN_RATE,
        (None, None) => PRESIGN_RATE,
    };
    let live = events_needed > PRESIGN_CAP;
    let per_worker = if live {
        0
    } else {
        ((events_needed / (conc * batch) as f64).ceil() as usize).max(1)
    };
    if o.mode == Mode::Submit && !o.json && live {
        eprintln!("signing each request just before it is sent (more than {PRESIGN_CAP} events)");
    } else if o.mode == Mode::Submit && !o.json {
        eprintln!(
            "signing {} events before the timed phase ({} requests of {batch} per submitter)...",
            per_worker * conc * batch,
            per_worker
        );
    }
    let mut presigned: Vec<Vec<Vec<pb::Submission>>> = vec![];
    if let (Some(p), false) = (&plant, live) {
        // Split over the machine's cores; joined in order.
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let progress = if o.json {
            indicatif::ProgressBar::hidden()
        } else {
            crate::progress::bar((per_worker * conc * batch) as u64, "signing", "events")
        };
        let mut handles = vec![];
        for part in lots.chunks(lots.len().div_ceil(threads).max(1)) {
            let (part, key, progress) = (part.to_vec(), p.secret, progress.clone());
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
        for h in handles {
            presigned.extend(h.await?);
        }
        progress.finish_and_clear();
    }
    let exhausted = Arc::new(AtomicBool::new(false));
    let oxide = match o.mode {
        Mode::Submit => String::new(),
        _ => first_oxide(&mut clients[0]).await?,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let budget = Arc::new(AtomicU64::new(o.count.unwrap_or(u64::MAX)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(conc);
    for i in 0..conc {
        let mut c = clients[i % clients.len()].clone();
        let mut mine = (i < presigned.len()).then(|| std::mem::take(&mut presigned[i]).into_iter());
        let live_key = match (&plant, live) {
            (Some(p), true) => lots.get(i).map(|l| (*l, p.secret)),
            _ => None,
        };
        let exhausted = exhausted.clone();
        let oxide = oxide.clone();
        let (stop, budget) = (stop.clone(), budget.clone());
        let mode = o.mode;

        tasks.push(tokio::spawn(async move {
            let mut w = Worker {
                hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
                events: 0,
                requests: 0,
                errors: BTreeMap::new(),
            };
            while !stop.load(Ordering::Relaxed) {
                let n = match mode {
                    Mode::Submit => batch as u64,
                    _ => 1,
                };
                // Signed before the run; never reused (a reused one would be a retry).
                let req = match (mine.as_mut().map(|m| m.next()), &live_key) {
                    (_, Some((lot, key))) => {
                        Some((0..batch).map(|_| adjustment(*lot, key)).collect())
                    }
                    (Some(None), None) => {
                        exhausted.store(true, Ordering::Relaxed);
                        break;
                    }
                    (Some(Some(r)), None) => Some(r),
                    (None, None) => None,
                };
                if budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n))
                    .is_err()
                {
                    break;
                }
                let t = Instant::now();
                let res: Result<u64, tonic::Status> = match (mode, req) {
                    (Mode::Submit, Some(mut subs)) if batch == 1 => {
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
                                .filter(|x| {
                                    matches!(x.result, Some(pb::event_result::Result::Ok(_)))
                                })
                                .count() as u64
                        }),
                    (Mode::Provenance, _) => c
                        .query
                        .get_provenance(pb::GetProvenanceRequest {
                            lot_id: oxide.clone(),
                            denied_countries: vec![],
                        })
                        .await
                        .map(|_| 1),
                    (Mode::Export, _) => c
                        .query
                        .export_bundle(pb::ExportBundleRequest {
                            lot_id: oxide.clone(),
                        })
                        .await
                        .map(|_| 1),
                    (Mode::Submit, None) => Ok(0),
                };
                let us = t.elapsed().as_micros().max(1) as u64;
                w.requests += 1;
                match res {
                    Ok(k) => {
                        let _ = w.hist.record(us);
                        w.events += k;
                        if k < n && mode == Mode::Submit {
                            *w.errors.entry("PerEventRejected".into()).or_default() += n - k;
                        }
                    }
                    Err(s) => *w.errors.entry(format!("{:?}", s.code())).or_default() += 1,
                }
            }
            w
        }));
    }
    if let Some(d) = o.duration {
        let stop2 = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(d)).await;
            stop2.store(true, Ordering::Relaxed);
        });
    }
    let mut total = Worker {
        hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        events: 0,
        requests: 0,
        errors: BTreeMap::new(),
    };
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
    let secs = started.elapsed().as_secs_f64();
    let ms = |q: f64| total.hist.value_at_quantile(q) as f64 / 1000.0;
    let submit = o.mode == Mode::Submit;
    // A query is not an event: the JSON names what was counted.
    let (unit, units) = if submit {
        ("events", "events_per_s")
    } else {
        ("queries", "queries_per_s")
    };
    let mut report = json!({
        "mode": format!("{:?}", o.mode).to_lowercase(),
        "duration_s": secs,
        "concurrency": conc,
        "connections": clients.len(),
        "batch": batch,
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
        report["signing"] = json!(if live { "live" } else { "presigned" });
        report["presigned_events"] = json!(per_worker * batch * conc);
        report["presigned_exhausted"] = json!(exhausted.load(Ordering::Relaxed));
    }
    if o.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} {:?}: {} {unit} in {:.1} s = {:.0} {unit}/s ({:.0} requests/s, {} in flight over {} connections, batch {})",
            if submit { "durable appends" } else { "queries" },
            o.mode,
            total.events,
            secs,
            total.events as f64 / secs,
            total.requests as f64 / secs,
            conc,
            clients.len(),
            batch
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
    }
    Ok(())
}
