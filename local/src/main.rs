//! `cargo run -p mfa-local`: serves the API on 127.0.0.1:3000 with the embedded adapters.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use mfa_local::{router, LocalState};
use mfa_shared::clock::SystemClock;
use mfa_shared::embedded::embedded_app;

/// Dashboard MFA, every operation in one local process.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MFA_LOCAL_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    mfa_shared::telemetry::init();
    let args = Args::parse();

    let (app, login) = embedded_app(Arc::new(SystemClock));
    let state = LocalState {
        app: Arc::new(app),
        login,
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| {
            format!(
                "cannot listen on {}: {error} (set --addr or MFA_LOCAL_ADDR)",
                args.addr
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(address = %address, storage = "memory", "mfa-local listening");
    eprintln!("Dashboard MFA listening on http://{address}");
    eprintln!("Storage: in memory (embedded adapters). All data is lost when this process stops.");
    eprintln!("Try: curl -s http://{address}/.well-known/jwks.json");

    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
