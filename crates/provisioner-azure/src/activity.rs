//! The one Azure Monitor call this crate makes: the activity log of one VM
//! (`GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`,
//! api-version 2015-04-01), where Azure records a Spot VM eviction.
//!
//! The SDK crate that has this operation, `azure_mgmt_monitor` 0.21, does
//! not compile the only package holding it (`package-preview-2023-09`: its
//! models derive `Default` over fields that have none). So the request is
//! built here, as the generated clients build theirs (bearer token from the
//! credential, `api-version` in the query, `nextLink` paging), and sent
//! through an `azure_core` pipeline on this crate's transport, with the
//! same retries, deadlines and error reading as every other call.

use std::sync::Arc;

use azure_core::auth::TokenCredential;
use azure_core::{Context, Method, Pipeline, Request, Url};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How far back a VM's events are read: the activity log keeps 90 days, and
/// a query may not reach further back; a day short of it stays inside
/// whatever the clocks disagree by.
const LOOKBACK: time::Duration = time::Duration::days(89);

impl crate::AzureProvisioner {
    /// The activity log's events of VM `name` of the last [`LOOKBACK`];
    /// `None` when this provisioner cannot read the log (built on given
    /// clients, or a role without `Microsoft.Insights/eventtypes/values/read`:
    /// that must not break describe).
    pub(crate) async fn vm_events(
        &self,
        name: &str,
    ) -> provisioner_core::Result<Option<Vec<Event>>> {
        let Some(log) = &self.activity else {
            return Ok(None);
        };
        let id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{name}",
            self.subscription, self.group
        );
        let since = OffsetDateTime::now_utc() - LOOKBACK;
        match log.events(&self.subscription, &id, since).await {
            Ok(events) => Ok(Some(events)),
            Err(e) => match crate::errors::from_azure(e, name) {
                provisioner_core::Error::PermissionDenied { .. }
                | provisioner_core::Error::Unauthenticated { .. } => Ok(None),
                other => Err(other),
            },
        }
    }
}

/// A client of the activity log.
#[derive(Clone)]
pub(crate) struct ActivityLog {
    endpoint: Url,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    pipeline: Pipeline,
}

/// The fields of an event this crate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// `operationName.value`.
    pub(crate) operation: String,
    /// `status.value`.
    pub(crate) status: String,
    /// `eventTimestamp`.
    pub(crate) at: Option<OffsetDateTime>,
}

impl Event {
    fn read(v: &Value) -> Self {
        let text = |field: &str| {
            v.pointer(&format!("/{field}/value"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            operation: text("operationName"),
            status: text("status"),
            at: v
                .get("eventTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
        }
    }
}

impl ActivityLog {
    /// A client at `endpoint` (ARM's), with `credential`, sending through
    /// `options`' transport.
    pub(crate) fn new(
        endpoint: Url,
        credential: Arc<dyn TokenCredential>,
        options: azure_core::ClientOptions,
    ) -> azure_core::Result<Self> {
        let scope = endpoint
            .join(azure_core::auth::DEFAULT_SCOPE_SUFFIX)?
            .to_string();
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            Vec::new(),
        );
        Ok(Self {
            endpoint,
            credential,
            scope,
            pipeline,
        })
    }

    /// The events of resource `resource_id` since `from`, every page.
    pub(crate) async fn events(
        &self,
        subscription: &str,
        resource_id: &str,
        from: OffsetDateTime,
    ) -> azure_core::Result<Vec<Event>> {
        let from = from
            .format(&Rfc3339)
            .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::DataConversion, e))?;
        let mut url = self.endpoint.clone();
        url.set_path(&format!(
            "/subscriptions/{subscription}/providers/Microsoft.Insights/eventtypes/management/values"
        ));
        url.query_pairs_mut()
            .append_pair(azure_core::query_param::API_VERSION, "2015-04-01")
            .append_pair(
                "$filter",
                &format!("eventTimestamp ge '{from}' and resourceUri eq '{resource_id}'"),
            )
            .append_pair("$select", "operationName,status,eventTimestamp");
        let mut events = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let token = self.credential.get_token(&[&self.scope]).await?;
            let mut request = Request::new(url, Method::Get);
            request.insert_header(
                azure_core::headers::AUTHORIZATION,
                format!("Bearer {}", token.token.secret()),
            );
            request.set_body(azure_core::EMPTY_BODY);
            let response = self
                .pipeline
                .send(&Context::default(), &mut request)
                .await?;
            let page: Value = response.json().await?;
            let items = page.get("value").and_then(Value::as_array);
            events.extend(items.into_iter().flatten().map(Event::read));
            next = match page.get("nextLink").and_then(Value::as_str) {
                Some(link) if !link.is_empty() => Some(self.endpoint.join(link)?),
                _ => None,
            };
        }
        Ok(events)
    }
}
