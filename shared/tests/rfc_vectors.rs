//! Known-answer tests for TOTP and HOTP.
//!
//! The vectors in `vectors/rfc6238_rfc4226.json` are RFC 6238 Appendix B (TOTP with
//! T0 = 0 and a 30-second step, one ASCII seed per hash as corrected by RFC errata 2866)
//! and RFC 4226 Appendix D (HOTP, SHA-1, 6 digits). Each vector is checked twice: with
//! `totp-rs`, which the service builds its codes on, at the vector's own length, and with
//! the service's `TotpSecret::code_at_step`, which produces the 6-digit SHA-1 codes that
//! members type.

use mfa_shared::domain::totp::{TotpSecret, MIN_SECRET_BYTES, SECRET_BYTES, STEP_SECONDS};
use mfa_shared::random::{OsRandom, Random};
use serde::Deserialize;
use totp_rs::{Algorithm, TOTP};

const VECTORS: &str = include_str!("vectors/rfc6238_rfc4226.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    source: String,
    totp: Vec<TotpVector>,
    hotp: Vec<HotpVector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpVector {
    algorithm: String,
    secret_ascii: String,
    unix_time: u64,
    step: u64,
    digits: usize,
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HotpVector {
    algorithm: String,
    secret_ascii: String,
    counter: u64,
    digits: usize,
    code: String,
}

fn vectors() -> VectorFile {
    serde_json::from_str(VECTORS).expect("the vector file is valid JSON of the expected shape")
}

fn algorithm(name: &str) -> Algorithm {
    match name {
        "SHA1" => Algorithm::SHA1,
        "SHA256" => Algorithm::SHA256,
        "SHA512" => Algorithm::SHA512,
        other => panic!("unknown algorithm {other} in the vector file"),
    }
}

/// Builds a `totp-rs` generator for one vector, with no skew. `new_unchecked` skips the
/// parameter checks of `TOTP::new` (6 to 8 digits, a secret of at least 128 bits).
fn generator(algorithm_name: &str, digits: usize, step: u64, secret: &str) -> TOTP {
    TOTP::new_unchecked(
        algorithm(algorithm_name),
        digits,
        0,
        step,
        secret.as_bytes().to_vec(),
        None,
        String::new(),
    )
}

fn service_secret(secret_ascii: &str) -> TotpSecret {
    TotpSecret::from_bytes(secret_ascii.as_bytes().to_vec())
        .expect("RFC seeds are at least 160 bits")
}

#[test]
fn vector_file_complete() {
    let file = vectors();
    assert!(file.source.contains("RFC 6238"), "source: {}", file.source);
    assert!(file.source.contains("RFC 4226"), "source: {}", file.source);
    assert_eq!(file.totp.len(), 18, "RFC 6238 Appendix B has 18 vectors");
    assert_eq!(file.hotp.len(), 10, "RFC 4226 Appendix D has 10 vectors");
    for name in ["SHA1", "SHA256", "SHA512"] {
        let count = file
            .totp
            .iter()
            .filter(|vector| vector.algorithm == name)
            .count();
        assert_eq!(count, 6, "TOTP vectors for {name}");
    }
    assert!(
        file.totp
            .iter()
            .any(|vector| vector.unix_time == 20_000_000_000),
        "the vector past 2^32 seconds is present"
    );
}

#[test]
fn totp_vectors_with_totp_rs() {
    for vector in vectors().totp {
        let totp = generator(
            &vector.algorithm,
            vector.digits,
            vector.step,
            &vector.secret_ascii,
        );
        assert_eq!(
            totp.generate(vector.unix_time),
            vector.code,
            "{} at t = {}",
            vector.algorithm,
            vector.unix_time
        );
    }
}

#[test]
fn hotp_vectors_with_totp_rs() {
    // HOTP(K, C) is TOTP with a one-second step evaluated at time C.
    for vector in vectors().hotp {
        let hotp = generator(&vector.algorithm, vector.digits, 1, &vector.secret_ascii);
        assert_eq!(
            hotp.generate(vector.counter),
            vector.code,
            "counter {}",
            vector.counter
        );
    }
}

#[test]
fn service_code_matches_hotp_vectors() {
    for vector in vectors().hotp {
        assert_eq!(vector.digits, 6, "counter {}", vector.counter);
        let secret = service_secret(&vector.secret_ascii);
        assert_eq!(
            secret.code_at_step(vector.counter).as_str(),
            vector.code,
            "counter {}",
            vector.counter
        );
    }
}

#[test]
fn service_code_matches_sha1_totp() {
    let sha1: Vec<TotpVector> = vectors()
        .totp
        .into_iter()
        .filter(|vector| vector.algorithm == "SHA1")
        .collect();
    assert_eq!(sha1.len(), 6);
    for vector in sha1 {
        assert_eq!(vector.step, STEP_SECONDS);
        let secret = service_secret(&vector.secret_ascii);
        // A 6-digit code is the 8-digit code's value mod 10^6: its last six digits.
        let expected = &vector.code[vector.code.len() - 6..];
        let step = vector.unix_time / STEP_SECONDS;
        assert_eq!(
            secret.code_at_step(step).as_str(),
            expected,
            "SHA1 at t = {} (step {step})",
            vector.unix_time
        );
    }
}

#[test]
fn service_counter_is_64_bit() {
    // The time 20000000000 is above 2^32, so code that kept Unix time in 32 bits would
    // compute another step and another code.
    let secret = service_secret("12345678901234567890");
    let step = 20_000_000_000 / STEP_SECONDS;
    assert!(step * STEP_SECONDS > u64::from(u32::MAX));
    assert_eq!(secret.code_at_step(step).as_str(), "353130");
}

#[test]
fn generated_secret_is_160_bits() {
    assert_eq!(SECRET_BYTES * 8, 160);
    let first = TotpSecret::generate(&OsRandom);
    let second = TotpSecret::generate(&OsRandom);
    assert_eq!(first.expose().len(), SECRET_BYTES);
    assert_eq!(second.expose().len(), SECRET_BYTES);
    assert_ne!(
        first.expose(),
        second.expose(),
        "two draws from the OS source differ"
    );
    assert_eq!(
        first.to_base32().len(),
        32,
        "160 bits are 32 Base32 characters"
    );
}

/// A random source that writes a counter, to show which bytes a secret is made from.
#[derive(Debug)]
struct CountingRandom;

impl Random for CountingRandom {
    fn fill(&self, buffer: &mut [u8]) {
        for (index, byte) in buffer.iter_mut().enumerate() {
            *byte = index as u8;
        }
    }
}

#[test]
fn generated_secret_uses_random_source() {
    let secret = TotpSecret::generate(&CountingRandom);
    let expected: Vec<u8> = (0..SECRET_BYTES as u8).collect();
    assert_eq!(secret.expose(), expected.as_slice());
}

#[test]
fn secret_under_128_bits_rejected() {
    assert_eq!(MIN_SECRET_BYTES * 8, 128);
    for length in [0, 1, 10, MIN_SECRET_BYTES - 1] {
        assert!(
            TotpSecret::from_bytes(vec![7; length]).is_err(),
            "{} bits must be rejected",
            length * 8
        );
    }
    for length in [MIN_SECRET_BYTES, SECRET_BYTES, 64] {
        assert!(
            TotpSecret::from_bytes(vec![7; length]).is_ok(),
            "{} bits must be accepted",
            length * 8
        );
    }
}
