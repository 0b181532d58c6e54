//! Registry events and credentials are input too: malformed ones are refused and change nothing.

use crate::common::*;
use crate::fixtures::*;
use ree_proto::v1 as pb;
use tonic::Code;

/// Registry events and credentials are input too: each malformed one is refused with its
/// status, the message names the field, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn bad_registry_events_and_credentials_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), free_port());
    let team = Team::setup(&s.url(), dir.path(), &dir.path().join("creds"), 1).await;
    let (mut w, mut q) = client_as(&s.url(), &team.auditor.token).await;
    let admin = &team.admin;
    // Signed by the administrator when the body converts and validates; else structured, so
    // that the server's own conversion or validation answers.
    let as_admin = |b: pb::EventBody| {
        let ok = ree_proto::convert::body_from_pb(&b)
            .map(|d| d.validate(ree_core::UtcMicros(i64::MAX / 2)).is_ok())
            .unwrap_or(false);
        let submission = if ok {
            signed_submission(&admin.secret, canonical(&b))
        } else {
            pb::Submission {
                body: Some(b),
                canonical_body: vec![],
                signature: None,
            }
        };
        admin.req(pb::SubmitRequest {
            submission: Some(submission),
        })
    };
    let k = kit();
    let register = |change: &dyn Fn(&mut pb::ParticipantRegistered)| {
        let mut r = pb::ParticipantRegistered {
            participant_id: uuid::Uuid::now_v7().to_string(),
            name: "New Mine".into(),
            role: pb::Role::Supplier as i32,
            country: "AU".into(),
            public_key: ree_core::Hash32(
                ree_core::record::Signature::sign(&[77; 32], b"").public_key,
            )
            .to_hex(),
            token_hash: String::new(),
        };
        change(&mut r);
        body(pb::event_body::Kind::ParticipantRegistered(r))
    };
    let before = store_snapshot(&mut q).await;
    let cases: Vec<(&str, pb::EventBody, Code, &str)> = vec![
        (
            "public key not hex",
            register(&|r| r.public_key = "zz".into()),
            Code::InvalidArgument,
            "participant_registered.public_key",
        ),
        (
            "public key of small order",
            register(&|r| r.public_key = format!("01{}", "00".repeat(31))),
            Code::InvalidArgument,
            "participant_registered.public_key",
        ),
        (
            "unknown role",
            register(&|r| r.role = 99),
            Code::InvalidArgument,
            "participant_registered.role",
        ),
        (
            "invalid country",
            register(&|r| r.country = "XX".into()),
            Code::InvalidArgument,
            "participant_registered.country",
        ),
        (
            "empty name",
            register(&|r| r.name = " ".into()),
            Code::InvalidArgument,
            "participant_registered.name",
        ),
        (
            "participant id not a UUID",
            register(&|r| r.participant_id = "p-1".into()),
            Code::InvalidArgument,
            "participant_registered.participant_id",
        ),
        (
            "a key registered to another participant",
            register(&|r| r.public_key = ree_core::Hash32(k.supplier.public_key).to_hex()),
            Code::FailedPrecondition,
            "already registered",
        ),
        (
            "revoking a key nobody has",
            body(pb::event_body::Kind::KeyRevoked(pb::KeyRevoked {
                participant_id: team.supplier.id.clone(),
                public_key: "ab".repeat(32),
                reason: "lost".into(),
            })),
            Code::FailedPrecondition,
            "not registered",
        ),
        (
            "a token hash that is not one",
            body(pb::event_body::Kind::TokenIssued(pb::TokenIssued {
                participant_id: team.supplier.id.clone(),
                token_hash: String::new(),
            })),
            Code::InvalidArgument,
            "token_issued.token_hash",
        ),
        (
            "suspending nobody",
            body(pb::event_body::Kind::ParticipantSuspended(
                pb::ParticipantSuspended {
                    participant_id: uuid::Uuid::now_v7().to_string(),
                    reason: "x".into(),
                },
            )),
            Code::FailedPrecondition,
            "not registered",
        ),
    ];
    for (what, b, code, needle) in cases {
        let e = w.submit(as_admin(b)).await.expect_err(what);
        assert_eq!(e.code(), code, "{what}: {e:?}");
        assert!(e.message().contains(needle), "{what}: {}", e.message());
    }
    // A credential that is not a bearer token, or not printable.
    for header in ["Basic YWRtaW46YWRtaW4=", "Bearer", "reetok_abc"] {
        let mut r = tonic::Request::new(pb::ListLotsRequest::default());
        r.metadata_mut()
            .insert("authorization", header.parse().unwrap());
        let e = q.list_lots(r).await.expect_err(header);
        assert_eq!(e.code(), Code::Unauthenticated, "{header}: {e:?}");
    }
    assert_eq!(store_snapshot(&mut q).await, before, "nothing stored");
    let ps = q
        .list_participants(pb::ListParticipantsRequest {})
        .await
        .unwrap()
        .into_inner()
        .participants;
    assert_eq!(ps.len(), 8, "the administrator and the team, no one else");
}
