//! Fault injection for tests (feature `test-support`): [`FailNth`] fails a chosen SDK call,
//! and [`BlackHole`] is an endpoint that accepts connections and never responds, so calls
//! time out.
//!
//! Attach one [`FailNth`] to both clients with [`crate::AwsClients::with_interceptor`]; it
//! counts every operation either client runs (an operation is one SDK call, whatever its
//! retries), and fails the one chosen with [`FailNth::arm`], on every attempt.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The point in a call at which an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Before the request is sent, so the service never receives it, as when a connection
    /// fails.
    BeforeSend,
    /// After the service responded, so the service applied the request but the response
    /// is lost, as when a timeout strikes late.
    AfterSend,
}

#[derive(Debug, Default)]
struct State {
    calls: usize,
    target: Option<(usize, FaultPoint)>,
    operations: Vec<String>,
    failed: Option<String>,
}

/// Marks the operation that [`FailNth`] chose to fail.
#[derive(Debug, Clone, Copy)]
struct Doomed(FaultPoint);

impl Storable for Doomed {
    type Storer = StoreReplace<Self>;
}

/// An SDK interceptor that fails the n-th operation after it is armed. Clones share their
/// count.
#[derive(Debug, Clone, Default)]
pub struct FailNth {
    state: Arc<Mutex<State>>,
}

impl FailNth {
    /// Creates an interceptor that counts operations and fails none.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resets the count and fails the `n`-th operation from now (1 for the next one) at
    /// `point`.
    pub fn arm(&self, n: usize, point: FaultPoint) {
        let mut state = self.state();
        *state = State {
            target: Some((n, point)),
            ..State::default()
        };
    }

    /// Resets the count and fails nothing.
    pub fn disarm(&self) {
        *self.state() = State::default();
    }

    /// Returns how many operations ran since the last [`arm`](Self::arm) or
    /// [`disarm`](Self::disarm).
    pub fn calls(&self) -> usize {
        self.state().calls
    }

    /// Returns the operations counted since then, as `Service.Operation` names.
    pub fn operations(&self) -> Vec<String> {
        self.state().operations.clone()
    }

    /// Returns the operation that was failed, if the armed one has run.
    pub fn failed(&self) -> Option<String> {
        self.state().failed.clone()
    }
}

fn doomed(cfg: &ConfigBag, point: FaultPoint) -> bool {
    cfg.load::<Doomed>().is_some_and(|doomed| doomed.0 == point)
}

impl Intercept for FailNth {
    fn name(&self) -> &'static str {
        "FailNth"
    }

    // Counted here rather than in `read_before_execution`, which runs before the SDK
    // records the operation's name for client-level interceptors. This hook runs once per
    // operation, before its first attempt.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_owned(),
            |metadata| format!("{}.{}", metadata.service(), metadata.name()),
        );
        let mut state = self.state();
        state.calls += 1;
        state.operations.push(operation.clone());
        if let Some((n, point)) = state.target {
            if state.calls == n {
                state.failed = Some(operation);
                cfg.interceptor_state().store_put(Doomed(point));
            }
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if doomed(cfg, FaultPoint::BeforeSend) {
            return Err("injected fault: the request was not sent".into());
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if doomed(cfg, FaultPoint::AfterSend) {
            return Err("injected fault: the response was lost".into());
        }
        Ok(())
    }
}

/// A TCP endpoint on 127.0.0.1 that accepts connections, reads nothing and sends nothing,
/// so every call to it runs into the client's timeout. It stops when dropped.
#[derive(Debug)]
pub struct BlackHole {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl BlackHole {
    /// Starts listening on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// Returns the I/O error when the socket cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Ok(Self { address, task })
    }

    /// Returns the endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}
