//! The contract tests, each a generic async function over a [`Backend`].

use mfa_shared::domain::lockout::{Failures, MAX_FAILURES, WINDOW_SECONDS};
use mfa_shared::domain::model::Role;
use mfa_shared::ports::{
    AccountSettings, Activation, AuditAction, EncryptionContext, KeyError, MemberRecord, Proof,
    ProofEffect, SignIn, SignInGrant, TicketPurpose,
};
use mfa_shared::tokens::access::AccessTokens;
use mfa_shared::tokens::jwt::KeySet;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;

use crate::common::*;

fn totp(user_id: &str, factor_id: &str, step: u64) -> Proof {
    Proof::Totp {
        user_id: user(user_id),
        factor_id: factor_id.to_owned(),
        step,
    }
}

fn backup(user_id: &str, factor_id: &str, selector: &str, used_at: u64) -> Proof {
    Proof::BackupCode {
        user_id: user(user_id),
        factor_id: factor_id.to_owned(),
        selector: selector.to_owned(),
        used_at,
    }
}

fn sign_in(ticket_hash: &str, session_id: &str, user_id: &str) -> ProofEffect {
    ProofEffect::SignIn {
        ticket_hash: ticket_hash.to_owned(),
        session: Box::new(session(
            session_id,
            &user(user_id),
            &format!("refresh-{session_id}"),
        )),
    }
}

pub async fn assertion_id_consumed_once(b: Backend) {
    let store = &b.store;
    assert!(
        store
            .consume_assertion_id("jti-1", 1_300, 1_000)
            .await
            .expect("consume"),
        "{}: first use",
        b.name
    );
    assert!(
        !store
            .consume_assertion_id("jti-1", 1_300, 1_001)
            .await
            .expect("consume"),
        "{}: second use",
        b.name
    );
    assert!(
        store
            .consume_assertion_id("jti-2", 1_300, 1_001)
            .await
            .expect("consume"),
        "{}: other jti",
        b.name
    );
    assert!(
        !store
            .consume_assertion_id("jti-1", 1_300, 1_299)
            .await
            .expect("consume"),
        "{}: last second",
        b.name
    );
    assert!(
        store
            .consume_assertion_id("jti-1", 1_700, 1_300)
            .await
            .expect("consume"),
        "{}: after expiry",
        b.name
    );
    assert!(
        !store
            .consume_assertion_id("jti-1", 1_700, 1_301)
            .await
            .expect("consume"),
        "{}: recorded again",
        b.name
    );
}

/// Returns Ana's sign-in with assertion id `jti`, a membership of each of `accounts` in
/// `role`, and `grant`.
fn ana_sign_in(jti: &str, accounts: &[String], role: Role, grant: SignInGrant) -> SignIn {
    let members = accounts
        .iter()
        .map(|slug| MemberRecord {
            account: account(slug),
            user_id: user("ana"),
            email: "ana@acme.test".to_owned(),
            role,
            last_sign_in: 1_000,
        })
        .collect();
    SignIn {
        jti: jti.to_owned(),
        expires_at: 1_300,
        members,
        grant,
    }
}

pub async fn sign_in_spends_assertion_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let accounts = ["acme".to_owned(), "beta".to_owned()];
    let first_session = session("s-1", &ana, "h-1");
    let first = ana_sign_in(
        "jti-1",
        &accounts,
        Role::Owner,
        SignInGrant::Session(Box::new(first_session.clone())),
    );
    assert!(
        store
            .complete_sign_in(&first, 1_000)
            .await
            .expect("sign in"),
        "{}: first use",
        b.name
    );
    assert_eq!(
        store.session("s-1").await.expect("read session"),
        Some(first_session),
        "{}: the session is stored",
        b.name
    );
    let members = store.members(&account("beta")).await.expect("list members");
    assert_eq!(members, [first.members[1].clone()], "{}", b.name);

    let challenge = ticket("t-1", &ana, TicketPurpose::Challenge);
    let replay = ana_sign_in(
        "jti-1",
        &accounts,
        Role::Member,
        SignInGrant::Ticket(challenge.clone()),
    );
    assert!(
        !store
            .complete_sign_in(&replay, 1_001)
            .await
            .expect("sign in"),
        "{}: second use",
        b.name
    );
    assert_eq!(
        store.ticket("t-1").await.expect("read ticket"),
        None,
        "{}: a replay stores no ticket",
        b.name
    );
    let member = store
        .member(&account("acme"), &ana)
        .await
        .expect("read member");
    assert_eq!(
        member.map(|member| member.role),
        Some(Role::Owner),
        "{}: a replay changes no member",
        b.name
    );

    assert!(
        store
            .complete_sign_in(&replay, 1_300)
            .await
            .expect("sign in"),
        "{}: after expiry",
        b.name
    );
    assert_eq!(
        store.ticket("t-1").await.expect("read ticket"),
        Some(challenge),
        "{}: the ticket is stored",
        b.name
    );
}

pub async fn sign_in_records_every_member(b: Backend) {
    let store = &b.store;
    // More accounts than one DynamoDB transaction takes with the assertion id and grant.
    let accounts: Vec<String> = (0..120).map(|index| format!("a{index:03}")).collect();
    let grant = SignInGrant::Session(Box::new(session("s-1", &user("ana"), "h-1")));
    let sign_in = ana_sign_in("jti-1", &accounts, Role::Member, grant);

    assert!(
        store
            .complete_sign_in(&sign_in, 1_000)
            .await
            .expect("sign in"),
        "{}",
        b.name
    );

    for slug in [&accounts[0], &accounts[97], &accounts[98], &accounts[119]] {
        let member = store
            .member(&account(slug), &user("ana"))
            .await
            .expect("read member");
        assert!(member.is_some(), "{}: member of {slug}", b.name);
    }
}

pub async fn members_listed_in_user_order(b: Backend) {
    let store = &b.store;
    let member = |slug: &str, user_id: &str, role: Role, at: u64| MemberRecord {
        account: account(slug),
        user_id: user(user_id),
        email: format!("{user_id}@acme.test"),
        role,
        last_sign_in: at,
    };
    for record in [
        member("acme", "carol", Role::Member, 1),
        member("acme", "alice", Role::Owner, 2),
        member("acme", "bob", Role::Admin, 3),
        member("beta", "alice", Role::Member, 4),
    ] {
        store.record_member(&record).await.expect("record member");
    }

    let listed = store.members(&account("acme")).await.expect("list members");
    let ids: Vec<&str> = listed.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(
        ids,
        ["alice", "bob", "carol"],
        "{}: members ordered by user id",
        b.name
    );
    assert_eq!(
        listed[0],
        member("acme", "alice", Role::Owner, 2),
        "{}",
        b.name
    );
    let found = store
        .member(&account("beta"), &user("alice"))
        .await
        .expect("read member");
    assert_eq!(
        found,
        Some(member("beta", "alice", Role::Member, 4)),
        "{}",
        b.name
    );
    assert_eq!(
        store
            .member(&account("acme"), &user("dave"))
            .await
            .expect("read"),
        None,
        "{}",
        b.name
    );
    assert_eq!(
        store
            .member(&account("gamma"), &user("alice"))
            .await
            .expect("read"),
        None,
        "{}",
        b.name
    );
    assert!(
        store
            .members(&account("gamma"))
            .await
            .expect("list")
            .is_empty(),
        "{}",
        b.name
    );

    let promoted = member("acme", "carol", Role::Admin, 9);
    store.record_member(&promoted).await.expect("update member");
    let listed = store.members(&account("acme")).await.expect("list members");
    assert_eq!(listed.len(), 3, "{}: an update adds no member", b.name);
    assert_eq!(listed[2], promoted, "{}: the update is stored", b.name);
}

pub async fn settings_default_then_stored_with_audit(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let unset = store
        .account_settings(&account("acme"))
        .await
        .expect("read settings");
    assert_eq!(
        unset,
        AccountSettings::unset(&account("acme")),
        "{}",
        b.name
    );

    let on = AccountSettings {
        account: account("acme"),
        require_mfa: true,
        updated_at: Some(50),
        updated_by: Some(ana.clone()),
    };
    let turned_on = audit(
        "e-on",
        50,
        AuditAction::EnforcementChanged { require_mfa: true },
        &ana,
        &ana,
    );
    store
        .put_account_settings(&on, &turned_on)
        .await
        .expect("write settings");
    assert_eq!(
        store
            .account_settings(&account("acme"))
            .await
            .expect("read"),
        on,
        "{}",
        b.name
    );
    let other = store
        .account_settings(&account("beta"))
        .await
        .expect("read");
    assert_eq!(
        other,
        AccountSettings::unset(&account("beta")),
        "{}",
        b.name
    );

    let off = AccountSettings {
        require_mfa: false,
        updated_at: Some(60),
        ..on.clone()
    };
    let turned_off = audit(
        "e-off",
        60,
        AuditAction::EnforcementChanged { require_mfa: false },
        &ana,
        &ana,
    );
    store
        .put_account_settings(&off, &turned_off)
        .await
        .expect("write settings");
    assert_eq!(
        store
            .account_settings(&account("acme"))
            .await
            .expect("read"),
        off,
        "{}",
        b.name
    );
    assert_eq!(
        store.audit_events(&ana).await.expect("audit"),
        [turned_on, turned_off],
        "{}",
        b.name
    );
}

pub async fn pending_enrollment_replaced(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    assert_eq!(
        store.factor(&ana).await.expect("read factor"),
        None,
        "{}",
        b.name
    );
    assert_eq!(
        store.pending_enrollment(&ana).await.expect("read pending"),
        None,
        "{}",
        b.name
    );

    let first = pending(&ana, "enr-1");
    store
        .put_pending_enrollment(&first)
        .await
        .expect("store pending");
    assert_eq!(
        store.pending_enrollment(&ana).await.expect("read"),
        Some(first),
        "{}",
        b.name
    );
    let second = pending(&ana, "enr-2");
    store
        .put_pending_enrollment(&second)
        .await
        .expect("store pending");
    assert_eq!(
        store.pending_enrollment(&ana).await.expect("read"),
        Some(second),
        "{}",
        b.name
    );
    assert_eq!(
        store.pending_enrollment(&user("bob")).await.expect("read"),
        None,
        "{}",
        b.name
    );
}

pub async fn activation_stores_factor_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let lockout = audit("lock", 5, AuditAction::LockedOut, &ana, &ana);
    store
        .record_failure(&ana, 5, None, &lockout)
        .await
        .expect("count failure");
    store
        .record_failure(&ana, 6, None, &lockout)
        .await
        .expect("count failure");
    store
        .put_pending_enrollment(&pending(&ana, "enr-1"))
        .await
        .expect("store pending");

    let enrolled = audit("enrolled", 10, AuditAction::Enrolled, &ana, &ana);
    let activation = Activation {
        factor: factor(&ana, "enr-1", 33, &["aa", "bb"]),
        enrollment_id: "enr-1".to_owned(),
        sign_in: None,
        audit: enrolled.clone(),
    };
    assert!(
        store.activate_factor(&activation).await.expect("activate"),
        "{}: first activation",
        b.name
    );
    assert_eq!(
        store.factor(&ana).await.expect("read"),
        Some(activation.factor.clone()),
        "{}",
        b.name
    );
    assert_eq!(
        store.pending_enrollment(&ana).await.expect("read"),
        None,
        "{}: pending removed",
        b.name
    );
    assert_eq!(
        store.failures(&ana).await.expect("read"),
        Failures::default(),
        "{}: failures cleared",
        b.name
    );
    assert_eq!(
        store.audit_events(&ana).await.expect("audit"),
        std::slice::from_ref(&enrolled),
        "{}",
        b.name
    );

    store
        .put_pending_enrollment(&pending(&ana, "enr-2"))
        .await
        .expect("store pending");
    let before = snapshot(store.as_ref(), &ana, &[], &[]).await;
    let again = Activation {
        factor: factor(&ana, "enr-2", 40, &["cc"]),
        enrollment_id: "enr-2".to_owned(),
        sign_in: None,
        audit: audit("enrolled-2", 20, AuditAction::Enrolled, &ana, &ana),
    };
    assert!(
        !store.activate_factor(&again).await.expect("activate"),
        "{}: already enrolled",
        b.name
    );
    assert_eq!(
        snapshot(store.as_ref(), &ana, &[], &[]).await,
        before,
        "{}: nothing changed",
        b.name
    );
}

pub async fn activation_rejects_wrong_enrollment(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    store
        .put_pending_enrollment(&pending(&ana, "enr-1"))
        .await
        .expect("store pending");
    let lockout = audit("lock", 5, AuditAction::LockedOut, &ana, &ana);
    store
        .record_failure(&ana, 5, None, &lockout)
        .await
        .expect("count failure");
    let before = snapshot(store.as_ref(), &ana, &[], &[]).await;

    let wrong = Activation {
        factor: factor(&ana, "enr-other", 33, &["aa"]),
        enrollment_id: "enr-other".to_owned(),
        sign_in: None,
        audit: audit("enrolled", 10, AuditAction::Enrolled, &ana, &ana),
    };
    assert!(
        !store.activate_factor(&wrong).await.expect("activate"),
        "{}: other enrollment id",
        b.name
    );
    assert_eq!(
        snapshot(store.as_ref(), &ana, &[], &[]).await,
        before,
        "{}: nothing changed",
        b.name
    );

    let bob = user("bob");
    let no_pending = Activation {
        factor: factor(&bob, "enr-1", 33, &["aa"]),
        enrollment_id: "enr-1".to_owned(),
        sign_in: None,
        audit: audit("enrolled-bob", 10, AuditAction::Enrolled, &bob, &bob),
    };
    assert!(
        !store.activate_factor(&no_pending).await.expect("activate"),
        "{}: no pending enrollment",
        b.name
    );
    assert_eq!(store.factor(&bob).await.expect("read"), None, "{}", b.name);
    assert!(
        store.audit_events(&bob).await.expect("audit").is_empty(),
        "{}",
        b.name
    );
}

pub async fn forced_activation_spends_ticket(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    store
        .put_pending_enrollment(&pending(&ana, "enr-1"))
        .await
        .expect("store pending");
    store
        .put_ticket(&ticket("t-1", &ana, TicketPurpose::Enrollment))
        .await
        .expect("store ticket");

    let started = session("s-1", &ana, "h-1");
    let activation = Activation {
        factor: factor(&ana, "enr-1", 33, &["aa"]),
        enrollment_id: "enr-1".to_owned(),
        sign_in: Some(("t-1".to_owned(), started.clone())),
        audit: audit("enrolled", 10, AuditAction::Enrolled, &ana, &ana),
    };
    assert!(
        store.activate_factor(&activation).await.expect("activate"),
        "{}",
        b.name
    );
    assert_eq!(
        store.ticket("t-1").await.expect("read"),
        None,
        "{}: ticket spent",
        b.name
    );
    assert_eq!(
        store.session("s-1").await.expect("read"),
        Some(started),
        "{}: session started",
        b.name
    );

    let bob = user("bob");
    store
        .put_pending_enrollment(&pending(&bob, "enr-b"))
        .await
        .expect("store pending");
    let before = snapshot(store.as_ref(), &bob, &["t-1"], &["s-2"]).await;
    let reused = Activation {
        factor: factor(&bob, "enr-b", 33, &["aa"]),
        enrollment_id: "enr-b".to_owned(),
        sign_in: Some(("t-1".to_owned(), session("s-2", &bob, "h-2"))),
        audit: audit("enrolled-bob", 11, AuditAction::Enrolled, &bob, &bob),
    };
    assert!(
        !store.activate_factor(&reused).await.expect("activate"),
        "{}: spent ticket",
        b.name
    );
    let after = snapshot(store.as_ref(), &bob, &["t-1"], &["s-2"]).await;
    assert_eq!(after, before, "{}: nothing changed", b.name);
}

pub async fn totp_step_spent_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    enroll(store.as_ref(), &factor(&ana, "f1", 100, &["aa"])).await;
    for hash in ["t-1", "t-2", "t-3"] {
        store
            .put_ticket(&ticket(hash, &ana, TicketPurpose::Challenge))
            .await
            .expect("store ticket");
    }
    let lockout = audit("lock", 5, AuditAction::LockedOut, &ana, &ana);
    store
        .record_failure(&ana, 5, None, &lockout)
        .await
        .expect("count failure");

    let effect = sign_in("t-1", "s-1", "ana");
    assert!(
        store
            .complete_proof(&totp("ana", "f1", 101), &effect, &[])
            .await
            .expect("proof"),
        "{}",
        b.name
    );
    let after = snapshot(store.as_ref(), &ana, &["t-1", "t-2"], &["s-1"]).await;
    assert_eq!(
        after.factor.as_ref().map(|f| f.last_step),
        Some(101),
        "{}: step recorded",
        b.name
    );
    assert_eq!(
        after.tickets,
        [None, Some(ticket("t-2", &ana, TicketPurpose::Challenge))],
        "{}",
        b.name
    );
    assert!(after.sessions[0].is_some(), "{}: session started", b.name);
    assert_eq!(
        after.failures,
        Failures::default(),
        "{}: failures cleared",
        b.name
    );

    let replay = sign_in("t-2", "s-2", "ana");
    assert!(
        !store
            .complete_proof(&totp("ana", "f1", 101), &replay, &[])
            .await
            .expect("proof"),
        "{}: same step",
        b.name
    );
    assert!(
        !store
            .complete_proof(&totp("ana", "f1", 100), &replay, &[])
            .await
            .expect("proof"),
        "{}: older step",
        b.name
    );
    assert_eq!(
        store.session("s-2").await.expect("read"),
        None,
        "{}: no session for a replay",
        b.name
    );
    assert!(
        store.ticket("t-2").await.expect("read").is_some(),
        "{}: ticket kept",
        b.name
    );

    assert!(
        store
            .complete_proof(&totp("ana", "f1", 103), &replay, &[])
            .await
            .expect("proof"),
        "{}: later step",
        b.name
    );
    let factor = store.factor(&ana).await.expect("read").expect("factor");
    assert_eq!(factor.last_step, 103, "{}", b.name);
}

pub async fn stale_proof_changes_nothing(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    enroll(store.as_ref(), &factor(&ana, "f1", 100, &["aa", "bb"])).await;
    store
        .put_ticket(&ticket("t-1", &ana, TicketPurpose::Challenge))
        .await
        .expect("store ticket");
    let lockout = audit("lock", 5, AuditAction::LockedOut, &ana, &ana);
    store
        .record_failure(&ana, 5, None, &lockout)
        .await
        .expect("count failure");
    let before = snapshot(store.as_ref(), &ana, &["t-1"], &["s-1"]).await;

    let used = [audit("used", 50, AuditAction::BackupCodeUsed, &ana, &ana)];
    let cases = [
        (
            "other factor id",
            totp("ana", "f2", 101),
            sign_in("t-1", "s-1", "ana"),
        ),
        (
            "user without factor",
            totp("bob", "f1", 101),
            sign_in("t-1", "s-1", "bob"),
        ),
        (
            "unknown selector",
            backup("ana", "f1", "zz", 50),
            sign_in("t-1", "s-1", "ana"),
        ),
        (
            "backup code of other factor",
            backup("ana", "f2", "aa", 50),
            sign_in("t-1", "s-1", "ana"),
        ),
        (
            "unknown ticket",
            totp("ana", "f1", 101),
            sign_in("t-9", "s-1", "ana"),
        ),
        (
            "regeneration with stale version",
            totp("ana", "f1", 101),
            ProofEffect::ReplaceBackupCodes {
                expected_version: 7,
                codes: stored_codes(&["xx"]),
            },
        ),
        (
            "removal with used step",
            totp("ana", "f1", 100),
            ProofEffect::RemoveFactor,
        ),
    ];
    for (case, proof, effect) in cases {
        let spent = store
            .complete_proof(&proof, &effect, &used)
            .await
            .expect("proof");
        assert!(!spent, "{}: {case} should be rejected", b.name);
        let after = snapshot(store.as_ref(), &ana, &["t-1"], &["s-1"]).await;
        assert_eq!(after, before, "{}: {case} changed the store", b.name);
    }
}

pub async fn backup_code_spent_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    enroll(
        store.as_ref(),
        &factor(&ana, "f1", 100, &["aa", "bb", "cc"]),
    )
    .await;
    store
        .put_ticket(&ticket("t-1", &ana, TicketPurpose::Challenge))
        .await
        .expect("store ticket");
    store
        .put_ticket(&ticket("t-2", &ana, TicketPurpose::Challenge))
        .await
        .expect("store ticket");

    let first = audit("used-1", 500, AuditAction::BackupCodeUsed, &ana, &ana);
    let proof = backup("ana", "f1", "aa", 500);
    assert!(
        store
            .complete_proof(
                &proof,
                &sign_in("t-1", "s-1", "ana"),
                std::slice::from_ref(&first)
            )
            .await
            .expect("proof"),
        "{}",
        b.name
    );
    let factor = store.factor(&ana).await.expect("read").expect("factor");
    let used: Vec<Option<u64>> = factor
        .backup_codes
        .iter()
        .map(|code| code.used_at)
        .collect();
    assert_eq!(used, [Some(500), None, None], "{}: only aa spent", b.name);
    assert_eq!(factor.backup_version, 1, "{}", b.name);
    assert_eq!(factor.backup_codes_remaining(), 2, "{}", b.name);
    assert_eq!(
        factor.last_step, 100,
        "{}: a backup code leaves the step",
        b.name
    );

    let again = backup("ana", "f1", "aa", 501);
    assert!(
        !store
            .complete_proof(&again, &sign_in("t-2", "s-2", "ana"), &[])
            .await
            .expect("proof"),
        "{}: spent code",
        b.name
    );
    assert!(
        store.ticket("t-2").await.expect("read").is_some(),
        "{}: ticket kept",
        b.name
    );

    let second = audit("used-2", 502, AuditAction::BackupCodeUsed, &ana, &ana);
    let other = backup("ana", "f1", "bb", 502);
    assert!(
        store
            .complete_proof(
                &other,
                &sign_in("t-2", "s-2", "ana"),
                std::slice::from_ref(&second)
            )
            .await
            .expect("proof"),
        "{}",
        b.name
    );
    let factor = store.factor(&ana).await.expect("read").expect("factor");
    assert_eq!(factor.backup_version, 2, "{}", b.name);
    let events = store.audit_events(&ana).await.expect("audit");
    assert_eq!(
        events[1..],
        [first, second],
        "{}: audit after enrollment",
        b.name
    );
}

pub async fn regeneration_checks_version(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    enroll(store.as_ref(), &factor(&ana, "f1", 100, &["aa", "bb"])).await;
    store
        .put_ticket(&ticket("t-1", &ana, TicketPurpose::Challenge))
        .await
        .expect("store ticket");
    let spend = backup("ana", "f1", "aa", 300);
    assert!(
        store
            .complete_proof(&spend, &sign_in("t-1", "s-1", "ana"), &[])
            .await
            .expect("proof"),
        "{}",
        b.name
    );
    let before = snapshot(store.as_ref(), &ana, &[], &[]).await;

    let stale = ProofEffect::ReplaceBackupCodes {
        expected_version: 0,
        codes: stored_codes(&["xx", "yy"]),
    };
    assert!(
        !store
            .complete_proof(&totp("ana", "f1", 101), &stale, &[])
            .await
            .expect("proof"),
        "{}: stale version",
        b.name
    );
    assert_eq!(
        snapshot(store.as_ref(), &ana, &[], &[]).await,
        before,
        "{}: nothing changed",
        b.name
    );

    let current = ProofEffect::ReplaceBackupCodes {
        expected_version: 1,
        codes: stored_codes(&["xx", "yy"]),
    };
    let regenerated = audit(
        "regenerated",
        400,
        AuditAction::BackupCodesRegenerated,
        &ana,
        &ana,
    );
    let replaced = store
        .complete_proof(
            &totp("ana", "f1", 101),
            &current,
            std::slice::from_ref(&regenerated),
        )
        .await
        .expect("proof");
    assert!(replaced, "{}: current version", b.name);
    let factor = store.factor(&ana).await.expect("read").expect("factor");
    assert_eq!(
        factor.backup_codes,
        stored_codes(&["xx", "yy"]),
        "{}: whole set replaced",
        b.name
    );
    assert_eq!(factor.backup_version, 2, "{}", b.name);
    assert_eq!(factor.last_step, 101, "{}: step spent", b.name);
    assert_eq!(
        store.audit_events(&ana).await.expect("audit").last(),
        Some(&regenerated),
        "{}",
        b.name
    );

    let old_code = backup("ana", "f1", "bb", 401);
    store
        .put_ticket(&ticket("t-2", &ana, TicketPurpose::Challenge))
        .await
        .expect("store ticket");
    assert!(
        !store
            .complete_proof(&old_code, &sign_in("t-2", "s-2", "ana"), &[])
            .await
            .expect("proof"),
        "{}: old set",
        b.name
    );

    let by_code = ProofEffect::ReplaceBackupCodes {
        expected_version: 2,
        codes: stored_codes(&["pp", "qq"]),
    };
    assert!(
        store
            .complete_proof(&backup("ana", "f1", "xx", 402), &by_code, &[])
            .await
            .expect("proof"),
        "{}",
        b.name
    );
    let factor = store.factor(&ana).await.expect("read").expect("factor");
    assert_eq!(
        factor.backup_codes,
        stored_codes(&["pp", "qq"]),
        "{}",
        b.name
    );
    assert_eq!(
        factor.backup_version, 4,
        "{}: one for the spent code, one for the new set",
        b.name
    );
}

pub async fn factor_removed_by_proof(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    enroll(store.as_ref(), &factor(&ana, "f1", 100, &["aa"])).await;
    let disabled = audit("disabled", 200, AuditAction::Disabled, &ana, &ana);
    let removed = store
        .complete_proof(
            &totp("ana", "f1", 101),
            &ProofEffect::RemoveFactor,
            std::slice::from_ref(&disabled),
        )
        .await
        .expect("proof");
    assert!(removed, "{}", b.name);
    assert_eq!(
        store.factor(&ana).await.expect("read"),
        None,
        "{}: factor removed",
        b.name
    );
    assert_eq!(
        store.audit_events(&ana).await.expect("audit").last(),
        Some(&disabled),
        "{}",
        b.name
    );
    let again = store
        .complete_proof(&totp("ana", "f1", 102), &ProofEffect::RemoveFactor, &[])
        .await;
    assert!(!again.expect("proof"), "{}: nothing left to remove", b.name);

    let bob = user("bob");
    enroll(store.as_ref(), &factor(&bob, "fb", 100, &["aa"])).await;
    let by_code = store
        .complete_proof(
            &backup("bob", "fb", "aa", 300),
            &ProofEffect::RemoveFactor,
            &[],
        )
        .await;
    assert!(
        by_code.expect("proof"),
        "{}: removal with a backup code",
        b.name
    );
    assert_eq!(store.factor(&bob).await.expect("read"), None, "{}", b.name);
}

pub async fn failures_count_and_lock(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    assert_eq!(
        store.failures(&ana).await.expect("read"),
        Failures::default(),
        "{}",
        b.name
    );

    let reuse = audit("reuse-3", 1_003, AuditAction::CodeReuseRejected, &ana, &ana);
    for i in 1..=12u64 {
        let lockout = audit(
            &format!("lock-{i:02}"),
            1_000 + i,
            AuditAction::LockedOut,
            &ana,
            &ana,
        );
        let replay = (i == 3).then_some(&reuse);
        let failures = store
            .record_failure(&ana, 1_000 + i, replay, &lockout)
            .await
            .expect("count failure");
        let expected = Failures {
            count: u32::try_from(i).expect("small"),
            recent: (1_001.max(i.saturating_sub(9) + 1_000)..=1_000 + i).collect(),
        };
        assert_eq!(failures, expected, "{}: failure {i}", b.name);
    }
    let lockout = audit(
        &format!("lock-{MAX_FAILURES:02}"),
        1_000 + u64::from(MAX_FAILURES),
        AuditAction::LockedOut,
        &ana,
        &ana,
    );
    assert_eq!(
        store.audit_events(&ana).await.expect("audit"),
        [reuse, lockout],
        "{}: one reuse, one lockout",
        b.name
    );
    let stored = store.failures(&ana).await.expect("read");
    assert_eq!(
        stored,
        Failures {
            count: 12,
            recent: (1_003..=1_012).collect()
        },
        "{}",
        b.name
    );
    assert_eq!(
        store.failures(&user("bob")).await.expect("read"),
        Failures::default(),
        "{}",
        b.name
    );
}

pub async fn failure_window_restarts(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let lockout = audit("lock", 1, AuditAction::LockedOut, &ana, &ana);
    store
        .record_failure(&ana, 1_000, None, &lockout)
        .await
        .expect("count failure");
    store
        .record_failure(&ana, 1_010, None, &lockout)
        .await
        .expect("count failure");
    let later = 1_010 + WINDOW_SECONDS;
    let failures = store
        .record_failure(&ana, later, None, &lockout)
        .await
        .expect("count failure");
    assert_eq!(
        failures,
        Failures {
            count: 1,
            recent: vec![later]
        },
        "{}: a whole quiet window starts over",
        b.name
    );
    assert_eq!(
        store.failures(&ana).await.expect("read"),
        failures,
        "{}",
        b.name
    );
}

pub async fn tickets_stored_and_read(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let challenge = ticket("t-1", &ana, TicketPurpose::Challenge);
    let enrollment = ticket("t-2", &ana, TicketPurpose::Enrollment);
    store.put_ticket(&challenge).await.expect("store ticket");
    store.put_ticket(&enrollment).await.expect("store ticket");
    assert_eq!(
        store.ticket("t-1").await.expect("read"),
        Some(challenge),
        "{}: expired or not, callers check",
        b.name
    );
    assert_eq!(
        store.ticket("t-2").await.expect("read"),
        Some(enrollment),
        "{}",
        b.name
    );
    assert_eq!(store.ticket("t-3").await.expect("read"), None, "{}", b.name);
}

pub async fn refresh_rotated_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let original = session("s-1", &ana, "h-1");
    store.put_session(&original).await.expect("store session");
    assert_eq!(
        store.session("s-1").await.expect("read"),
        Some(original.clone()),
        "{}",
        b.name
    );
    assert_eq!(
        store.session("s-9").await.expect("read"),
        None,
        "{}",
        b.name
    );

    assert!(
        !store
            .rotate_refresh("s-1", "h-wrong", "h-2")
            .await
            .expect("rotate"),
        "{}: wrong hash",
        b.name
    );
    assert_eq!(
        store.session("s-1").await.expect("read"),
        Some(original),
        "{}: unchanged",
        b.name
    );
    assert!(
        store
            .rotate_refresh("s-1", "h-1", "h-2")
            .await
            .expect("rotate"),
        "{}: current hash",
        b.name
    );
    assert!(
        !store
            .rotate_refresh("s-1", "h-1", "h-3")
            .await
            .expect("rotate"),
        "{}: rotated hash",
        b.name
    );
    assert!(
        store
            .rotate_refresh("s-1", "h-2", "h-3")
            .await
            .expect("rotate"),
        "{}",
        b.name
    );
    let rotated = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(rotated.refresh_hash, "h-3", "{}", b.name);
    assert_eq!(
        rotated.previous_refresh_hashes,
        ["h-1", "h-2"],
        "{}",
        b.name
    );

    store.revoke_session("s-1", 50).await.expect("revoke");
    assert!(
        !store
            .rotate_refresh("s-1", "h-3", "h-4")
            .await
            .expect("rotate"),
        "{}: revoked",
        b.name
    );
    assert!(
        !store
            .rotate_refresh("s-9", "h-1", "h-2")
            .await
            .expect("rotate"),
        "{}: unknown session",
        b.name
    );
    assert_eq!(
        store.session("s-9").await.expect("read"),
        None,
        "{}: rotation creates nothing",
        b.name
    );
}

pub async fn revoke_keeps_first_time(b: Backend) {
    let store = &b.store;
    store
        .put_session(&session("s-1", &user("ana"), "h-1"))
        .await
        .expect("store session");
    store.revoke_session("s-1", 10).await.expect("revoke");
    store.revoke_session("s-1", 20).await.expect("revoke again");
    let revoked = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(
        revoked.revoked_at,
        Some(10),
        "{}: the first revocation counts",
        b.name
    );
    store
        .revoke_session("s-9", 30)
        .await
        .expect("revoking an unknown session is a no-op");
    assert_eq!(
        store.session("s-9").await.expect("read"),
        None,
        "{}",
        b.name
    );
}

pub async fn session_ended_with_ticket(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    store
        .put_session(&session("s-1", &ana, "h-1"))
        .await
        .expect("store session");
    let next_step = ticket("t-1", &ana, TicketPurpose::Challenge);

    assert!(
        !store
            .end_session_with_ticket("s-1", "h-wrong", 30, &next_step)
            .await
            .expect("end"),
        "{}",
        b.name
    );
    assert_eq!(
        store.ticket("t-1").await.expect("read"),
        None,
        "{}: no ticket on a wrong hash",
        b.name
    );
    let live = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(live.revoked_at, None, "{}: still live", b.name);

    assert!(
        store
            .end_session_with_ticket("s-1", "h-1", 30, &next_step)
            .await
            .expect("end"),
        "{}",
        b.name
    );
    let ended = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(ended.revoked_at, Some(30), "{}", b.name);
    assert_eq!(
        store.ticket("t-1").await.expect("read"),
        Some(next_step),
        "{}",
        b.name
    );

    let another = ticket("t-2", &ana, TicketPurpose::Challenge);
    assert!(
        !store
            .end_session_with_ticket("s-1", "h-1", 31, &another)
            .await
            .expect("end"),
        "{}: ended",
        b.name
    );
    assert!(
        !store
            .end_session_with_ticket("s-9", "h-1", 31, &another)
            .await
            .expect("end"),
        "{}: unknown",
        b.name
    );
    assert_eq!(store.ticket("t-2").await.expect("read"), None, "{}", b.name);
}

pub async fn session_replaced_once(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    store
        .put_session(&session("s-1", &ana, "h-1"))
        .await
        .expect("store session");
    let switched = session("s-2", &ana, "h-2");
    assert!(
        store
            .replace_session("s-1", &switched, 40)
            .await
            .expect("replace"),
        "{}",
        b.name
    );
    let old = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(old.revoked_at, Some(40), "{}", b.name);
    assert_eq!(
        store.session("s-2").await.expect("read"),
        Some(switched),
        "{}",
        b.name
    );

    let again = session("s-3", &ana, "h-3");
    assert!(
        !store
            .replace_session("s-1", &again, 41)
            .await
            .expect("replace"),
        "{}: old revoked",
        b.name
    );
    assert_eq!(
        store.session("s-3").await.expect("read"),
        None,
        "{}",
        b.name
    );
    let old = store.session("s-1").await.expect("read").expect("session");
    assert_eq!(
        old.revoked_at,
        Some(40),
        "{}: first revocation kept",
        b.name
    );
    assert!(
        !store
            .replace_session("s-9", &again, 42)
            .await
            .expect("replace"),
        "{}: unknown",
        b.name
    );
    assert_eq!(
        store.session("s-3").await.expect("read"),
        None,
        "{}",
        b.name
    );
}

pub async fn reset_removes_factor_and_raises_epoch(b: Backend) {
    let store = &b.store;
    let ana = user("ana");
    let admin = user("admin");
    assert_eq!(
        store.session_epoch(&ana).await.expect("epoch"),
        0,
        "{}",
        b.name
    );
    enroll(store.as_ref(), &factor(&ana, "f1", 100, &["aa"])).await;
    store
        .put_pending_enrollment(&pending(&ana, "enr-9"))
        .await
        .expect("store pending");

    let reset = audit("reset-1", 2_000, AuditAction::Reset, &admin, &ana);
    store.reset_user(&ana, &reset).await.expect("reset");
    assert_eq!(
        store.factor(&ana).await.expect("read"),
        None,
        "{}: factor deleted",
        b.name
    );
    assert_eq!(
        store.pending_enrollment(&ana).await.expect("read"),
        None,
        "{}: pending deleted",
        b.name
    );
    assert_eq!(
        store.session_epoch(&ana).await.expect("epoch"),
        1,
        "{}",
        b.name
    );
    assert_eq!(
        store.audit_events(&ana).await.expect("audit").last(),
        Some(&reset),
        "{}",
        b.name
    );

    let second = audit("reset-2", 2_001, AuditAction::Reset, &admin, &ana);
    store
        .reset_user(&ana, &second)
        .await
        .expect("reset with nothing to delete");
    assert_eq!(
        store.session_epoch(&ana).await.expect("epoch"),
        2,
        "{}",
        b.name
    );
    assert_eq!(
        store.session_epoch(&user("bob")).await.expect("epoch"),
        0,
        "{}",
        b.name
    );
}

pub async fn audit_events_filtered_by_target(b: Backend) {
    let store = &b.store;
    let (ana, bob) = (user("ana"), user("bob"));
    let settings = AccountSettings::unset(&account("acme"));
    let events = [
        audit(
            "e-1",
            10,
            AuditAction::EnforcementChanged { require_mfa: false },
            &ana,
            &ana,
        ),
        audit(
            "e-2",
            20,
            AuditAction::EnforcementChanged { require_mfa: false },
            &ana,
            &bob,
        ),
        audit(
            "e-3",
            30,
            AuditAction::EnforcementChanged { require_mfa: false },
            &bob,
            &ana,
        ),
    ];
    for event in &events {
        store
            .put_account_settings(&settings, event)
            .await
            .expect("write settings");
    }
    let for_ana = store.audit_events(&ana).await.expect("audit");
    assert_eq!(
        for_ana,
        [events[0].clone(), events[2].clone()],
        "{}: by target, oldest first",
        b.name
    );
    assert_eq!(
        store.audit_events(&bob).await.expect("audit"),
        [events[1].clone()],
        "{}",
        b.name
    );
    assert!(
        store
            .audit_events(&user("carol"))
            .await
            .expect("audit")
            .is_empty(),
        "{}",
        b.name
    );
}

pub async fn cipher_binds_context(b: Backend) {
    let cipher = &b.cipher;
    let secret = b"20 bytes of a secret";
    let context = EncryptionContext::totp(&user("ana"), "f1");
    let sealed = cipher.encrypt(secret, &context).await.expect("encrypt");
    assert_ne!(sealed.as_slice(), secret.as_slice(), "{}", b.name);
    let opened = cipher.decrypt(&sealed, &context).await.expect("decrypt");
    assert_eq!(opened.as_slice(), secret.as_slice(), "{}", b.name);
    let resealed = cipher.encrypt(secret, &context).await.expect("encrypt");
    assert_ne!(
        resealed, sealed,
        "{}: each encryption is randomised",
        b.name
    );

    let cases = [
        (
            "other user",
            EncryptionContext::totp(&user("bob"), "f1"),
            sealed.clone(),
        ),
        (
            "other factor",
            EncryptionContext::totp(&user("ana"), "f2"),
            sealed.clone(),
        ),
        (
            "truncated",
            context.clone(),
            sealed[..sealed.len() / 2].to_vec(),
        ),
        ("empty", context.clone(), Vec::new()),
    ];
    for (case, context, ciphertext) in cases {
        let result = cipher.decrypt(&ciphertext, &context).await;
        assert!(
            matches!(result, Err(KeyError::Rejected)),
            "{}: {case}: {result:?}",
            b.name
        );
    }
}

pub async fn moved_ciphertext_rejected(b: Backend) {
    let (store, cipher) = (&b.store, &b.cipher);
    let (ana, bob) = (user("ana"), user("bob"));
    let secret = b"ana's 20-byte secret";
    let mut ana_factor = factor(&ana, "f1", 100, &["aa"]);
    ana_factor.ciphertext = cipher
        .encrypt(secret, &EncryptionContext::totp(&ana, "f1"))
        .await
        .expect("encrypt");
    enroll(store.as_ref(), &ana_factor).await;
    let mut copied = factor(&bob, "f1", 100, &["aa"]);
    copied.ciphertext = ana_factor.ciphertext.clone();
    enroll(store.as_ref(), &copied).await;

    let stored = store
        .factor(&bob)
        .await
        .expect("read")
        .expect("bob's factor");
    let context = EncryptionContext::totp(&stored.user_id, &stored.factor_id);
    let result = cipher.decrypt(&stored.ciphertext, &context).await;
    assert!(
        matches!(result, Err(KeyError::Rejected)),
        "{}: copied ciphertext: {result:?}",
        b.name
    );

    let own = store
        .factor(&ana)
        .await
        .expect("read")
        .expect("ana's factor");
    let opened = cipher
        .decrypt(&own.ciphertext, &EncryptionContext::totp(&ana, "f1"))
        .await
        .expect("decrypt");
    assert_eq!(opened.as_slice(), secret.as_slice(), "{}", b.name);
}

pub async fn signer_signs_es256(b: Backend) {
    let signer = &b.signer;
    assert!(!signer.key_id().is_empty(), "{}", b.name);
    let raw = signer.sign(b"header.payload").await.expect("sign");
    let signature = Signature::from_slice(&raw).expect("64-byte r || s");
    let verified = signer.verifying_key().verify(b"header.payload", &signature);
    assert!(verified.is_ok(), "{}: signature verifies", b.name);
    assert!(
        signer
            .verifying_key()
            .verify(b"header.other", &signature)
            .is_err(),
        "{}",
        b.name
    );

    let tokens = AccessTokens {
        issuer: "https://mfa.test".to_owned(),
        audience: "dashboard".to_owned(),
        keys: KeySet::single(signer.key_id(), *signer.verifying_key()),
    };
    let record = session("s-1", &user("ana"), "h-1");
    let token = tokens
        .issue(signer.as_ref(), &record, 1_000, "jti-1".to_owned())
        .await
        .expect("issue");
    let claims = tokens
        .verify(&token, 1_001)
        .expect("the access token verifies");
    assert_eq!(claims.sid, "s-1", "{}", b.name);
}
