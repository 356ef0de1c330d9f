//! [`Probe`]: an SDK interceptor that records the calls a client makes and can make one of
//! them time out.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

#[derive(Debug, Default)]
struct State {
    calls: Vec<String>,
    transaction_items: BTreeSet<String>,
    /// The call to send to an endpoint that never responds, and that endpoint.
    stall: Option<(usize, String)>,
    stalled: Option<String>,
}

/// Marks the call that [`Probe`] sends to the endpoint that never responds.
#[derive(Debug, Clone)]
struct Stalled(String);

impl Storable for Stalled {
    type Storer = StoreReplace<Self>;
}

/// Records each SDK call as its IAM action name (`dynamodb:GetItem`, `kms:Sign`), and the
/// writes inside each `TransactWriteItems` as the IAM actions that authorize them
/// (`dynamodb:PutItem`, `dynamodb:UpdateItem`, `dynamodb:DeleteItem`,
/// `dynamodb:ConditionCheckItem`). After [`Probe::stall`] it sends every attempt of one
/// call to another endpoint, such as a `BlackHole`, so that call times out as it would on
/// a lost connection. Clones share their state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    state: Arc<Mutex<State>>,
}

impl Probe {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears the calls recorded so far and stalls nothing.
    pub(crate) fn reset(&self) {
        *self.state() = State::default();
    }

    /// Clears the calls recorded so far and sends the `n`-th call from now (1 for the next
    /// one) to `endpoint` (`http://host:port`).
    pub(crate) fn stall(&self, n: usize, endpoint: &str) {
        *self.state() = State {
            stall: Some((n, endpoint.to_owned())),
            ..State::default()
        };
    }

    /// Returns the calls made since the last reset, in order.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Returns the IAM actions of the writes inside the transactions made since the last
    /// reset.
    pub(crate) fn transaction_items(&self) -> BTreeSet<String> {
        self.state().transaction_items.clone()
    }

    /// Returns the call that was stalled, once it has started.
    pub(crate) fn stalled(&self) -> Option<String> {
        self.state().stalled.clone()
    }
}

/// Returns the IAM actions that authorize the writes of a transaction.
fn item_actions(input: &TransactWriteItemsInput) -> Vec<&'static str> {
    let mut actions = Vec::new();
    for item in input.transact_items() {
        if item.put().is_some() {
            actions.push("dynamodb:PutItem");
        }
        if item.update().is_some() {
            actions.push("dynamodb:UpdateItem");
        }
        if item.delete().is_some() {
            actions.push("dynamodb:DeleteItem");
        }
        if item.condition_check().is_some() {
            actions.push("dynamodb:ConditionCheckItem");
        }
    }
    actions
}

impl Intercept for Probe {
    fn name(&self) -> &'static str {
        "Probe"
    }

    // The operation's name is in the config bag from serialization on, not yet when
    // execution starts. Serialization happens once per call, whatever its retries.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = cfg.load::<Metadata>().map_or_else(
            || "unknown:unknown".to_owned(),
            |metadata| {
                format!(
                    "{}:{}",
                    metadata.service().to_ascii_lowercase(),
                    metadata.name()
                )
            },
        );
        let mut state = self.state();
        state.calls.push(call.clone());
        if let Some(input) = context.input().downcast_ref::<TransactWriteItemsInput>() {
            let actions = item_actions(input);
            state
                .transaction_items
                .extend(actions.into_iter().map(str::to_owned));
        }
        let stall = match &state.stall {
            Some((n, endpoint)) if *n == state.calls.len() => Some(endpoint.clone()),
            _ => None,
        };
        if let Some(endpoint) = stall {
            state.stalled = Some(call);
            cfg.interceptor_state().store_put(Stalled(endpoint));
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Stalled(endpoint)) = cfg.load::<Stalled>() else {
            return Ok(());
        };
        let request = context.request_mut();
        let uri = request.uri();
        let path_start = uri
            .find("://")
            .and_then(|scheme_end| {
                uri[scheme_end + 3..]
                    .find('/')
                    .map(|offset| scheme_end + 3 + offset)
            })
            .unwrap_or(uri.len());
        let redirected = format!("{endpoint}{}", &uri[path_start..]);
        request.set_uri(redirected)?;
        Ok(())
    }
}
