//! The reading commands: `ree whoami`, `lots`, `lot`, `events`, `provenance` and `export`.

use anyhow::{bail, Context, Result};
use ree_core::state::LotKind;
use ree_proto::v1 as pb;

use crate::cli::{EventsArgs, ExportArgs, LotArgs, LotsArgs, ProvenanceArgs};
use crate::client::status;
use crate::conn::Conn;
use crate::output;

/// `ree whoami`.
pub async fn whoami(server: &Conn) -> Result<()> {
    let mut c = server.connect().await?;
    let p = c
        .query
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map_err(status)?
        .into_inner();
    output::whoami(&p);
    Ok(())
}

/// `ree checkpoint`: the note exactly as signed, so it can be piped to a witness or verifier.
pub async fn checkpoint(server: &Conn) -> Result<()> {
    let mut c = server.connect().await?;
    let cp = c
        .log
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .map_err(status)?
        .into_inner();
    print!("{}", cp.note);
    Ok(())
}

/// `ree checkpoint --witnesses`: one line per witness the server pushes to, and its state.
pub async fn witnesses(server: &Conn) -> Result<()> {
    let mut c = server.connect().await?;
    let list = c
        .log
        .get_witnesses(pb::GetWitnessesRequest {})
        .await
        .map_err(status)?
        .into_inner();
    if list.witnesses.is_empty() {
        println!("no witnesses configured (ree serve --witness URL=VKEY_FILE)");
    }
    for w in list.witnesses {
        println!(
            "{} {} cosigned_size={} witness_size={} failures={} alarms={}{}",
            w.name,
            w.url,
            w.cosigned_size,
            w.witness_size,
            w.consecutive_failures,
            w.alarms,
            if w.last_error.is_empty() {
                String::new()
            } else {
                format!(" last_error={:?}", w.last_error)
            }
        );
    }
    Ok(())
}

/// `ree lots`: every page of them.
pub async fn lots(args: LotsArgs) -> Result<()> {
    let kind = match args.kind.as_deref() {
        None => pb::LotKind::Unspecified,
        Some(k) => match LotKind::parse(k) {
            Some(k) => ree_proto::convert::kind_pb(k),
            None => bail!("--kind {k:?}: expected ore, recycled, campaign or oxide"),
        },
    };
    let mut c = args.server.connect().await?;
    let mut lots = vec![];
    let mut token = String::new();
    loop {
        let r = c
            .query
            .list_lots(pb::ListLotsRequest {
                kind: kind as i32,
                page_size: 10_000,
                page_token: token,
            })
            .await
            .map_err(status)?
            .into_inner();
        lots.extend(r.lots);
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    output::lots(&lots, args.json)
}

/// `ree lot`.
pub async fn lot(args: LotArgs) -> Result<()> {
    let mut c = args.server.connect().await?;
    let l = c
        .query
        .get_lot(pb::GetLotRequest {
            lot_id: args.lot_id,
        })
        .await
        .map_err(status)?
        .into_inner();
    output::lot(&l, args.json)
}

/// `ree events`: from `--from` to the lot's head, 10,000 a request.
pub async fn events(args: EventsArgs) -> Result<()> {
    let mut c = args.server.connect().await?;
    let mut all = vec![];
    let mut next = args.from;
    loop {
        let r = c
            .query
            .list_events(pb::ListEventsRequest {
                lot_id: args.lot_id.clone(),
                from_seq: next,
                limit: 10_000,
            })
            .await
            .map_err(status)?
            .into_inner();
        let n = r.events.len();
        if let Some(l) = r.events.last() {
            next = l.seq + 1;
        }
        all.extend(r.events);
        if n < 10_000 {
            break;
        }
    }
    output::events(&all, args.json)
}

/// `ree provenance`.
pub async fn provenance(args: ProvenanceArgs) -> Result<()> {
    let mut c = args.server.connect().await?;
    let p = c
        .query
        .get_provenance(pb::GetProvenanceRequest {
            lot_id: args.lot_id,
            denied_countries: args.deny,
        })
        .await
        .map_err(status)?
        .into_inner();
    output::provenance(&p, args.json)
}

/// `ree export`: the lot's proof bundle, for ree-verify.
pub async fn export(args: ExportArgs) -> Result<()> {
    let (lot_id, output) = (args.lot_id, args.output);
    let mut c = args.server.connect().await?;
    let r = c
        .query
        .export_bundle(pb::ExportBundleRequest {
            lot_id: lot_id.clone(),
        })
        .await
        .map_err(status)?
        .into_inner();
    std::fs::write(&output, &r.bundle)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "wrote {} ({}, {} bytes) for lot {lot_id} at head {}",
        output.display(),
        output::count(r.records, "record"),
        r.bundle.len(),
        r.head
    );
    Ok(())
}
