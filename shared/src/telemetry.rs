//! Structured JSON logs: one line per request, never a secret.

use tracing_subscriber::EnvFilter;

/// Installs a JSON subscriber on stdout, filtered by `RUST_LOG` (default `info`).
/// Calling it twice is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}
