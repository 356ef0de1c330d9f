//! `cargo run -p mfa-local`: serves the API on 127.0.0.1:3000 with the embedded adapters,
//! or with `--aws` on DynamoDB and KMS at `AWS_ENDPOINT_URL` (moto's server, say).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use mfa_aws::AwsSettings;
use mfa_local::{router, LocalState};
use mfa_shared::clock::SystemClock;
use mfa_shared::embedded::{embedded_app, DemoLogin};
use mfa_shared::random::OsRandom;
use mfa_shared::App;

/// Dashboard MFA, every operation in one local process.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MFA_LOCAL_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,

    /// Use the AWS adapters: DynamoDB table `MFA_TABLE` (default `mfa`) and the KMS keys
    /// `MFA_SECRETS_KEY_ID` and `MFA_SIGNING_KEY_ID` (default `alias/mfa-secrets` and
    /// `alias/mfa-signing`), at `AWS_ENDPOINT_URL` or wherever the AWS configuration points.
    #[arg(long)]
    aws: bool,

    /// With `--aws`, create the table and both keys when they are missing.
    #[arg(long, requires = "aws")]
    create_resources: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    mfa_shared::telemetry::init();
    let args = Args::parse();

    let (app, login, storage) = if args.aws {
        let (app, login) = aws_app(args.create_resources).await?;
        (app, login, "aws")
    } else {
        let (app, login) = embedded_app(Arc::new(SystemClock));
        (app, login, "memory")
    };
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
    tracing::info!(address = %address, storage, "mfa-local listening");
    eprintln!("Dashboard MFA listening on http://{address}");
    if args.aws {
        eprintln!("Storage: DynamoDB and KMS (AWS adapters), at AWS_ENDPOINT_URL or the AWS configuration.");
    } else {
        eprintln!(
            "Storage: in memory (embedded adapters). All data is lost when this process stops."
        );
    }
    eprintln!("Try: curl -s http://{address}/.well-known/jwks.json");

    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Builds the app on the AWS adapters, trusting a demo login service for `/dev/login`.
async fn aws_app(create_resources: bool) -> Result<(App, DemoLogin), Box<dyn std::error::Error>> {
    let settings = AwsSettings::from_env()?;
    if create_resources {
        mfa_aws::create_resources(&settings).await?;
    }
    let parts = mfa_aws::build_parts(&settings).await?;
    let login = DemoLogin::generate(&OsRandom);
    let app = App::new(parts, &login.config());
    Ok((app, login))
}
