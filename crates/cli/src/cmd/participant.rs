//! `ree participant ...` (the administrator's registry operations; `list` for everyone) and
//! `ree keygen` (a participant's own signing key).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ree_core::event::{EventKind, KeyAdded, KeyRevoked, ParticipantSuspended, TokenIssued};
use ree_core::ParticipantId;
use ree_proto::v1 as pb;

use crate::cli::ParticipantCmd;
use crate::client::status;
use crate::conn::Creds;
use crate::output;
use crate::participants::{public_key, registration, role, submit_one, write_token};

fn participant_id(s: &str) -> Result<ParticipantId> {
    ParticipantId::parse(s).map_err(|e| anyhow!("participant: {}", e.reason))
}

/// Connects, then builds the event (so a connection error is reported first), signs and
/// submits it.
async fn submit_registry_event(
    server: &Creds,
    event: impl FnOnce() -> Result<EventKind>,
) -> Result<()> {
    let mut c = server.connect().await?;
    let kind = event()?;
    submit_one(&mut c, &server.secret()?, kind).await
}

/// Runs one `ree participant` subcommand.
pub async fn run(cmd: ParticipantCmd) -> Result<()> {
    match cmd {
        ParticipantCmd::Add {
            server,
            name,
            role: role_name,
            country,
            public_key: key,
            token_out,
        } => add(&server, &name, &role_name, &country, &key, &token_out).await,
        ParticipantCmd::List { server, json } => {
            let mut c = server.connect().await?;
            let r = c
                .query
                .list_participants(pb::ListParticipantsRequest {})
                .await
                .map_err(status)?
                .into_inner();
            output::participants(&r.participants, json)
        }
        ParticipantCmd::AddKey {
            server,
            participant,
            public_key: key,
        } => {
            submit_registry_event(&server, || {
                Ok(EventKind::KeyAdded(KeyAdded {
                    participant: participant_id(&participant)?,
                    public_key: public_key(&key)?,
                }))
            })
            .await?;
            println!("key added to {participant}");
            Ok(())
        }
        ParticipantCmd::RevokeKey {
            server,
            participant,
            public_key: key,
            reason,
        } => {
            submit_registry_event(&server, || {
                Ok(EventKind::KeyRevoked(KeyRevoked {
                    participant: participant_id(&participant)?,
                    public_key: public_key(&key)?,
                    reason,
                }))
            })
            .await?;
            println!("key revoked: events it signed before stay valid, none after");
            Ok(())
        }
        ParticipantCmd::Suspend {
            server,
            participant,
            reason,
        } => {
            submit_registry_event(&server, || {
                Ok(EventKind::ParticipantSuspended(ParticipantSuspended {
                    participant: participant_id(&participant)?,
                    reason,
                }))
            })
            .await?;
            println!("{participant} suspended");
            Ok(())
        }
        ParticipantCmd::IssueToken {
            server,
            participant,
            token_out,
        } => issue_token(&server, &participant, &token_out).await,
    }
}

/// `ree participant add`: registers a participant with a fresh token, written owner-only.
async fn add(
    server: &Creds,
    name: &str,
    role_name: &str,
    country: &str,
    key: &str,
    token_out: &Path,
) -> Result<()> {
    if token_out.exists() {
        bail!("{} exists: not overwritten", token_out.display());
    }
    let reg = registration(
        name,
        role(role_name)?,
        country,
        public_key(key)?,
        None,
        None,
    )?;
    let mut c = server.connect().await?;
    submit_one(&mut c, &server.secret()?, reg.kind).await?;
    write_token(token_out, &reg.token)?;
    println!(
        "registered {name} ({role_name}) as participant {}; bearer token written to {} (owner-only)",
        reg.id,
        token_out.display()
    );
    Ok(())
}

/// `ree participant issue-token`: a fresh token, registered by hash, written owner-only.
async fn issue_token(server: &Creds, participant: &str, token_out: &Path) -> Result<()> {
    if token_out.exists() {
        bail!("{} exists: not overwritten", token_out.display());
    }
    let token = ree_proto::creds::new_token()?;
    submit_registry_event(server, || {
        Ok(EventKind::TokenIssued(TokenIssued {
            participant: participant_id(participant)?,
            token_hash: ree_core::registry::token_hash(&token),
        }))
    })
    .await?;
    write_token(token_out, &token)?;
    println!(
        "new token for {participant} written to {} (owner-only); the old one no longer works",
        token_out.display()
    );
    Ok(())
}

/// `ree keygen`: KEYFILE (secret, owner-only) and KEYFILE.pub; prints the public key.
pub fn keygen(output: &Path) -> Result<()> {
    let public = ree_proto::creds::write_key(output, &ree_proto::creds::random32()?)
        .with_context(|| format!("cannot create {} (it must not exist yet)", output.display()))?;
    println!(
        "wrote {} (secret, mode 0600) and {}.pub: public key {}",
        output.display(),
        output.display(),
        ree_core::Hash32(public)
    );
    Ok(())
}
