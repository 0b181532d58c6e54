//! `ree facility ...`: the administrator registers facilities (mines, collection points,
//! recycling and separation plants, laboratories), certifies them, suspends or withdraws a
//! certificate, closes a facility; `list` for everyone (a supplier or recycler sees its own).

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use ree_core::event::{
    CertificationEnded, CertificationGranted, CertificationSuspended, CertificationWithdrawn,
    EventKind, FacilityClosed, FacilityKind, FacilityRegistered,
};
use ree_core::{Country, FacilityId, Hash32, ParticipantId, UtcMicros};
use ree_proto::v1 as pb;
use serde_json::{json, Value};

use crate::client::status;
use crate::conn::{Conn, Creds};
use crate::output::{facility_kind_name, table};
use crate::participants::submit_one;

#[derive(Subcommand)]
pub enum FacilityCmd {
    /// Register a facility; prints its new id (a UUID).
    Add {
        #[command(flatten)]
        server: Creds,
        /// The facility's name.
        #[arg(long)]
        name: String,
        /// mine, collection, recycling, separation or laboratory.
        #[arg(long)]
        kind: String,
        /// ISO 3166-1 alpha-2: the origin of every lot received at the site.
        #[arg(long)]
        country: String,
        /// The operating participant's id (`ree participant list`).
        #[arg(long)]
        operator: String,
        /// Latitude in decimal degrees (with --lon).
        #[arg(long, allow_hyphen_values = true)]
        lat: Option<f64>,
        /// Longitude in decimal degrees (with --lat).
        #[arg(long, allow_hyphen_values = true)]
        lon: Option<f64>,
    },
    /// Record a certification of a facility (valid from DATE inclusive until DATE exclusive).
    Certify {
        #[command(flatten)]
        server: Creds,
        /// The facility's id (`ree facility list`).
        facility: String,
        /// IRMA, RMAP, ISO 14001, ISO/IEC 17025, ...
        #[arg(long)]
        scheme: String,
        /// The certificate's id, as the scheme issued it.
        #[arg(long)]
        certificate_id: String,
        /// Who issued it (default: "<scheme> certification body").
        #[arg(long)]
        issuer: Option<String>,
        /// blake3 of the certificate document (`ree digest FILE`), 64 hex digits.
        #[arg(long)]
        digest: String,
        /// YYYY-MM-DD (UTC midnight).
        #[arg(long)]
        valid_from: String,
        /// YYYY-MM-DD (UTC midnight).
        #[arg(long)]
        valid_until: String,
    },
    /// Suspend a certificate from now on.
    Suspend {
        #[command(flatten)]
        server: Creds,
        /// The facility's id (`ree facility list`).
        facility: String,
        /// The certificate's id, as the scheme issued it.
        #[arg(long)]
        certificate_id: String,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a certificate from now on.
    Withdraw {
        #[command(flatten)]
        server: Creds,
        /// The facility's id (`ree facility list`).
        facility: String,
        /// The certificate's id, as the scheme issued it.
        #[arg(long)]
        certificate_id: String,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
    },
    /// Close a facility: no event may name it from now on.
    Close {
        #[command(flatten)]
        server: Creds,
        /// The facility's id (`ree facility list`).
        facility: String,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
    },
    /// List facilities and their certifications.
    List {
        #[command(flatten)]
        server: Conn,
        /// Print JSON: an array of objects with facility, name, kind, country, operator,
        /// certifications.
        #[arg(long)]
        json: bool,
    },
}

fn facility_id(s: &str) -> Result<FacilityId> {
    FacilityId::parse(s).map_err(|e| anyhow!("facility: {}", e.reason))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` as UTC midnight.
pub fn parse_date(field: &str, s: &str) -> Result<UtcMicros> {
    let bad = || anyhow!("{field}: {s:?} is not a date YYYY-MM-DD");
    let p: Vec<&str> = s.split('-').collect();
    let [y, m, d] = p.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if y.to_string().len() != 4 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    if days_from_civil(y, m, 1) + d - 1 != days || (m < 12 && days >= days_from_civil(y, m + 1, 1))
    {
        return Err(bad());
    }
    Ok(UtcMicros(days * 86_400_000_000))
}

fn microdeg(field: &str, v: f64, max: f64) -> Result<i32> {
    if !v.is_finite() || v.abs() > max {
        bail!("{field}: {v} is outside ±{max}°");
    }
    Ok((v * 1e6).round() as i32)
}

async fn submit(server: &Creds, event: impl FnOnce() -> Result<EventKind>) -> Result<()> {
    let mut c = server.connect().await?;
    let kind = event()?;
    submit_one(&mut c, &server.secret()?, kind).await
}

fn ended(facility: &str, certificate_id: String, reason: String) -> Result<CertificationEnded> {
    Ok(CertificationEnded {
        facility: facility_id(facility)?,
        certificate_id,
        reason,
    })
}

/// Runs one `ree facility` subcommand.
pub async fn run(cmd: FacilityCmd) -> Result<()> {
    match cmd {
        FacilityCmd::Add {
            server,
            name,
            kind,
            country,
            operator,
            lat,
            lon,
        } => {
            let id = FacilityId::new_v7();
            submit(&server, || {
                let kind = FacilityKind::parse(&kind).ok_or_else(|| {
                    anyhow!("kind: {kind:?} is not mine, collection, recycling, separation or laboratory")
                })?;
                let location = match (lat, lon) {
                    (None, None) => None,
                    (Some(a), Some(o)) => Some((microdeg("lat", a, 90.0)?, microdeg("lon", o, 180.0)?)),
                    _ => bail!("lat, lon: give both or neither"),
                };
                Ok(EventKind::FacilityRegistered(FacilityRegistered {
                    facility: id,
                    name,
                    kind,
                    country: Country::parse(&country).map_err(|e| anyhow!("country: {}", e.reason))?,
                    location,
                    operator: ParticipantId::parse(&operator).map_err(|e| anyhow!("operator: {}", e.reason))?,
                }))
            })
            .await?;
            println!("{id}");
            Ok(())
        }
        FacilityCmd::Certify {
            server,
            facility,
            scheme,
            certificate_id,
            issuer,
            digest,
            valid_from,
            valid_until,
        } => {
            submit(&server, || {
                Ok(EventKind::CertificationGranted(CertificationGranted {
                    facility: facility_id(&facility)?,
                    issuer: issuer.unwrap_or_else(|| format!("{scheme} certification body")),
                    scheme,
                    certificate_id,
                    document_digest: Hash32::from_hex(&digest)
                        .map_err(|e| anyhow!("digest: {}", e.reason))?,
                    valid_from: parse_date("valid-from", &valid_from)?,
                    valid_until: parse_date("valid-until", &valid_until)?,
                }))
            })
            .await?;
            println!("certified {facility}");
            Ok(())
        }
        FacilityCmd::Suspend {
            server,
            facility,
            certificate_id,
            reason,
        } => {
            submit(&server, || {
                Ok(EventKind::CertificationSuspended(CertificationSuspended(
                    ended(&facility, certificate_id, reason)?,
                )))
            })
            .await?;
            println!("certificate suspended");
            Ok(())
        }
        FacilityCmd::Withdraw {
            server,
            facility,
            certificate_id,
            reason,
        } => {
            submit(&server, || {
                Ok(EventKind::CertificationWithdrawn(CertificationWithdrawn(
                    ended(&facility, certificate_id, reason)?,
                )))
            })
            .await?;
            println!("certificate withdrawn");
            Ok(())
        }
        FacilityCmd::Close {
            server,
            facility,
            reason,
        } => {
            submit(&server, || {
                Ok(EventKind::FacilityClosed(FacilityClosed {
                    facility: facility_id(&facility)?,
                    reason,
                }))
            })
            .await?;
            println!("{facility} closed");
            Ok(())
        }
        FacilityCmd::List { server, json } => {
            let mut c = server.connect().await?;
            let r = c
                .query
                .list_participants(pb::ListParticipantsRequest {})
                .await
                .map_err(status)?
                .into_inner();
            print_list(&r.facilities, json)
        }
    }
}

fn date(t: &Option<ree_proto::pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| UtcMicros::from_seconds_nanos(t.seconds, t.nanos))
        .map_or_else(String::new, |u| u.to_string())
}

/// The `--json` contract: one object per facility.
pub fn facility_json(f: &pb::RegisteredFacility) -> Value {
    json!({
        "facility": f.facility_id,
        "name": f.name,
        "kind": facility_kind_name(f.kind),
        "country": f.country,
        "operator": f.operator_id,
        "lat_microdeg": f.lat_microdeg,
        "lon_microdeg": f.lon_microdeg,
        "registered_at": f.registered_at,
        "closed_at": (f.closed_at != 0).then_some(f.closed_at),
        "certifications": f.certifications.iter().map(|c| json!({
            "scheme": c.scheme,
            "certificate_id": c.certificate_id,
            "issuer": c.issuer,
            "document_digest": c.document_digest,
            "valid_from": date(&c.valid_from),
            "valid_until": date(&c.valid_until),
            "suspended_from": c.suspended_from.as_ref().map(|_| date(&c.suspended_from)),
            "withdrawn_from": c.withdrawn_from.as_ref().map(|_| date(&c.withdrawn_from)),
            "status": c.status,
        })).collect::<Vec<_>>(),
    })
}

fn print_list(fs: &[pb::RegisteredFacility], json: bool) -> Result<()> {
    if json {
        let v: Vec<Value> = fs.iter().map(facility_json).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = fs
        .iter()
        .map(|f| {
            let certs: Vec<String> = f
                .certifications
                .iter()
                .map(|c| format!("{} ({})", c.scheme, c.status))
                .collect();
            vec![
                f.facility_id.clone(),
                facility_kind_name(f.kind).into(),
                f.country.clone(),
                if f.closed_at != 0 { "closed" } else { "open" }.into(),
                certs.join(", "),
                f.name.clone(),
            ]
        })
        .collect();
    table(
        &[
            "FACILITY",
            "KIND",
            "COUNTRY",
            "STATUS",
            "CERTIFICATIONS",
            "NAME",
        ],
        &rows,
        &[],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_midnights_and_nonsense_is_refused() {
        assert_eq!(parse_date("d", "1970-01-01").unwrap(), UtcMicros(0));
        assert_eq!(
            parse_date("d", "2025-01-01").unwrap(),
            UtcMicros(1_735_689_600_000_000)
        );
        assert_eq!(
            parse_date("d", "2024-02-29").unwrap().0,
            1_709_164_800_000_000
        );
        for bad in ["2025-02-30", "2025-13-01", "25-01-01", "2025/01/01", "x"] {
            assert!(
                parse_date("valid-from", bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("valid-from"),
                "{bad}"
            );
        }
    }
}
