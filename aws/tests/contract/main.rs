//! The store-and-keys contract: one suite of generic tests over `Arc<dyn Store>`,
//! `Arc<dyn SecretCipher>` and `Arc<dyn TokenSigner>`, run unchanged against the embedded
//! adapters and against DynamoDB and KMS on moto's server (each test on its own table and
//! keys).

#[path = "../common/mod.rs"]
mod common;
mod suite;

/// Declares one `#[tokio::test]` per suite function, on backends made by `$backend`.
macro_rules! contract_tests {
    ($backend:path; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(backend) = $backend(stringify!($name)).await else {
                    return;
                };
                crate::suite::$name(backend).await;
            }
        )+
    };
}

/// Declares the whole suite on backends made by `$backend`.
macro_rules! whole_suite {
    ($backend:path) => {
        contract_tests!(
            $backend;
            assertion_id_consumed_once,
            sign_in_spends_assertion_once,
            sign_in_records_every_member,
            members_listed_in_user_order,
            settings_default_then_stored_with_audit,
            pending_enrollment_replaced,
            activation_stores_factor_once,
            activation_rejects_wrong_enrollment,
            forced_activation_spends_ticket,
            totp_step_spent_once,
            stale_proof_changes_nothing,
            backup_code_spent_once,
            regeneration_checks_version,
            factor_removed_by_proof,
            failures_count_and_lock,
            failure_window_restarts,
            tickets_stored_and_read,
            refresh_rotated_once,
            revoke_keeps_first_time,
            session_ended_with_ticket,
            session_replaced_once,
            reset_removes_factor_and_raises_epoch,
            audit_events_filtered_by_target,
            cipher_binds_context,
            moved_ciphertext_rejected,
            signer_signs_es256,
        );
    };
}

mod memory {
    whole_suite!(crate::common::memory_backend);
}

mod aws {
    whole_suite!(crate::common::aws_backend);
}
