//! Parallel calls on DynamoDB (moto's server): each single-use thing is spent exactly once,
//! and the failure count loses no increment.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use futures::future::join_all;
use mfa_shared::domain::lockout::{Failures, MAX_FAILURES};
use mfa_shared::ports::{AuditAction, Proof, ProofEffect, Store, TicketPurpose};
use tokio::sync::Barrier;

use common::*;

fn totp_proof(user_id: &str, step: u64) -> Proof {
    Proof::Totp {
        user_id: user(user_id),
        factor_id: "f1".to_owned(),
        step,
    }
}

fn backup_proof(user_id: &str, selector: &str) -> Proof {
    Proof::BackupCode {
        user_id: user(user_id),
        factor_id: "f1".to_owned(),
        selector: selector.to_owned(),
        used_at: 500,
    }
}

fn sign_in(ticket_hash: &str, session_id: &str, user_id: &str) -> ProofEffect {
    ProofEffect::SignIn {
        ticket_hash: ticket_hash.to_owned(),
        session: Box::new(session(session_id, &user(user_id), "h-1")),
    }
}

/// Runs `calls` parallel `complete_proof` calls, each with its own ticket and session, all
/// released at once. Returns the outcome of each call.
async fn race_proofs(
    store: &Arc<dyn Store>,
    user_id: &str,
    calls: usize,
    proof: Proof,
) -> Vec<bool> {
    for i in 0..calls {
        let record = ticket(&format!("t-{i}"), &user(user_id), TicketPurpose::Challenge);
        store.put_ticket(&record).await.expect("store ticket");
    }
    let barrier = Arc::new(Barrier::new(calls));
    let tasks = (0..calls).map(|i| {
        let (store, barrier, proof) = (store.clone(), barrier.clone(), proof.clone());
        let effect = sign_in(&format!("t-{i}"), &format!("s-{i}"), user_id);
        tokio::spawn(async move {
            barrier.wait().await;
            store.complete_proof(&proof, &effect, &[]).await
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|joined| {
            joined
                .expect("task completes")
                .expect("complete_proof succeeds or returns false")
        })
        .collect()
}

/// Counts the tickets still stored and the sessions started among `t-i` and `s-i`.
async fn remaining_tickets_and_sessions(store: &Arc<dyn Store>, calls: usize) -> (usize, usize) {
    let mut tickets = 0;
    let mut sessions = 0;
    for i in 0..calls {
        if store
            .ticket(&format!("t-{i}"))
            .await
            .expect("read ticket")
            .is_some()
        {
            tickets += 1;
        }
        if store
            .session(&format!("s-{i}"))
            .await
            .expect("read session")
            .is_some()
        {
            sessions += 1;
        }
    }
    (tickets, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_step_has_one_winner() {
    let Some(backend) = aws_backend("totp_step_has_one_winner").await else {
        return;
    };
    let store = backend.store;
    enroll(store.as_ref(), &factor(&user("ana"), "f1", 100, &["aa"])).await;

    let outcomes = race_proofs(&store, "ana", 20, totp_proof("ana", 101)).await;

    let winners = outcomes.iter().filter(|won| **won).count();
    assert_eq!(
        winners, 1,
        "20 parallel uses of one TOTP step: {outcomes:?}"
    );
    let factor = store
        .factor(&user("ana"))
        .await
        .expect("read")
        .expect("factor");
    assert_eq!(factor.last_step, 101);
    let (tickets, sessions) = remaining_tickets_and_sessions(&store, 20).await;
    assert_eq!(tickets, 19, "only the winner's ticket is spent");
    assert_eq!(sessions, 1, "only the winner starts a session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_code_has_one_winner() {
    let Some(backend) = aws_backend("backup_code_has_one_winner").await else {
        return;
    };
    let store = backend.store;
    enroll(
        store.as_ref(),
        &factor(&user("ana"), "f1", 100, &["aa", "bb"]),
    )
    .await;

    let outcomes = race_proofs(&store, "ana", 30, backup_proof("ana", "aa")).await;

    let winners = outcomes.iter().filter(|won| **won).count();
    assert_eq!(
        winners, 1,
        "30 parallel uses of one backup code: {outcomes:?}"
    );
    let factor = store
        .factor(&user("ana"))
        .await
        .expect("read")
        .expect("factor");
    let used: Vec<Option<u64>> = factor
        .backup_codes
        .iter()
        .map(|code| code.used_at)
        .collect();
    assert_eq!(used, [Some(500), None], "only code aa is spent");
    assert_eq!(factor.backup_version, 1, "the set changed once");
    let (tickets, sessions) = remaining_tickets_and_sessions(&store, 30).await;
    assert_eq!(tickets, 29, "only the winner's ticket is spent");
    assert_eq!(sessions, 1, "only the winner starts a session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_failures_all_counted() {
    const CALLS: u32 = 50;
    let Some(backend) = aws_backend("parallel_failures_all_counted").await else {
        return;
    };
    let store = backend.store;
    let ana = user("ana");

    let barrier = Arc::new(Barrier::new(CALLS as usize));
    let tasks = (0..CALLS).map(|i| {
        let (store, barrier, ana) = (store.clone(), barrier.clone(), ana.clone());
        tokio::spawn(async move {
            let lockout = audit(
                &format!("lock-{i:02}"),
                1_000,
                AuditAction::LockedOut,
                &ana,
                &ana,
            );
            barrier.wait().await;
            let failures = store.record_failure(&ana, 1_000, None, &lockout).await;
            (failures.expect("record_failure succeeds"), lockout)
        })
    });
    let results: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.expect("task completes"))
        .collect();

    let mut counts: Vec<u32> = results.iter().map(|(failures, _)| failures.count).collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=CALLS).collect::<Vec<_>>(),
        "each call returns a distinct new count"
    );
    let stored = store.failures(&ana).await.expect("read failures");
    assert_eq!(
        stored,
        Failures {
            count: CALLS,
            recent: vec![1_000; 10]
        },
        "the count rose by exactly {CALLS}"
    );

    let locking_call = results
        .iter()
        .find(|(failures, _)| failures.count == MAX_FAILURES)
        .expect("one call reached the limit");
    let audit_events = store.audit_events(&ana).await.expect("read audit");
    assert_eq!(
        audit_events,
        std::slice::from_ref(&locking_call.1),
        "only the failure that reached the limit is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regeneration_races_backup_code() {
    const ROUNDS: usize = 40;
    let Some(backend) = aws_backend("regeneration_races_backup_code").await else {
        return;
    };
    let store = backend.store;
    let mut regenerations_won = 0;
    let mut codes_won = 0;

    for round in 0..ROUNDS {
        let user_id = format!("user-{round}");
        let owner = user(&user_id);
        enroll(store.as_ref(), &factor(&owner, "f1", 100, &["aa", "bb"])).await;
        store
            .put_ticket(&ticket(
                &format!("t-{round}"),
                &owner,
                TicketPurpose::Challenge,
            ))
            .await
            .expect("store ticket");

        let barrier = Arc::new(Barrier::new(2));
        let regenerate = {
            let (store, barrier) = (store.clone(), barrier.clone());
            let proof = totp_proof(&user_id, 101);
            let effect = ProofEffect::ReplaceBackupCodes {
                expected_version: 0,
                codes: stored_codes(&["xx", "yy"]),
            };
            tokio::spawn(async move {
                barrier.wait().await;
                store.complete_proof(&proof, &effect, &[]).await
            })
        };
        let spend = {
            let (store, barrier) = (store.clone(), barrier.clone());
            let proof = backup_proof(&user_id, "aa");
            let effect = sign_in(&format!("t-{round}"), &format!("s-{round}"), &user_id);
            tokio::spawn(async move {
                barrier.wait().await;
                store.complete_proof(&proof, &effect, &[]).await
            })
        };
        let regenerated = regenerate
            .await
            .expect("task completes")
            .expect("regeneration runs");
        let spent = spend
            .await
            .expect("task completes")
            .expect("backup code use runs");

        assert!(
            !(regenerated && spent),
            "round {round}: both the regeneration and the old code succeeded"
        );
        assert!(regenerated || spent, "round {round}: neither succeeded");
        let factor = store.factor(&owner).await.expect("read").expect("factor");
        let session = store
            .session(&format!("s-{round}"))
            .await
            .expect("read session");
        if regenerated {
            regenerations_won += 1;
            assert_eq!(
                factor.backup_codes,
                stored_codes(&["xx", "yy"]),
                "round {round}: new set stored"
            );
            assert_eq!(factor.last_step, 101, "round {round}");
            assert!(
                session.is_none(),
                "round {round}: the old code started no session"
            );
        } else {
            codes_won += 1;
            let used: Vec<Option<u64>> = factor
                .backup_codes
                .iter()
                .map(|code| code.used_at)
                .collect();
            assert_eq!(
                used,
                [Some(500), None],
                "round {round}: old set with aa spent"
            );
            assert_eq!(
                factor.last_step, 100,
                "round {round}: the regeneration spent no step"
            );
            assert!(
                session.is_some(),
                "round {round}: the code started a session"
            );
        }
        assert_eq!(
            factor.backup_version, 1,
            "round {round}: the set changed once"
        );
    }
    eprintln!("regeneration won {regenerations_won} rounds, the backup code won {codes_won}");
}
