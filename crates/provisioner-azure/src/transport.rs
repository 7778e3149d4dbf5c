//! The last step of every request: send it, retry what may succeed later,
//! and turn every error answer into an error that keeps what ARM said.
//!
//! azure_core 0.21's own retry policy waits `max(Retry-After, backoff)`
//! uncapped (Compute asks for 1,200 s when it throttles), and its errors keep
//! neither the Retry-After nor the body's `details[]`. This policy takes the
//! place of the HTTP transport (the SDK clients get no other retry policy):
//!
//! - it retries 408, 429, 500, 502, 503, 504 and I/O errors up to
//!   `max_retries` times, waiting as long as Retry-After asks, or an
//!   exponential backoff when it does not say;
//! - a Retry-After longer than the cap is not waited: the answer goes to the
//!   caller at once, as `Throttled` with that wait;
//! - each attempt has a deadline, and so has the whole call with its
//!   retries ([`Deadlines`]); an attempt past its deadline counts as an I/O
//!   error (retried: a PUT is retried with the same VM name, so it never
//!   creates a second VM), a call past its deadline fails as one;
//! - every error answer becomes an `azure_core::Error` of kind
//!   `HttpResponse` whose inner error is an [`ArmFailure`]: status, code,
//!   message, the codes of `details[]` and Retry-After, which `errors.rs`
//!   classifies.

use provisioner_core::backoff::Backoff;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::headers::{Headers, RETRY_AFTER, RETRY_AFTER_MS, X_MS_RETRY_AFTER_MS};
use azure_core::{Context, HttpClient, Policy, PolicyResult, Request, StatusCode};
use provisioner_core::Deadlines;

/// An error answer of ARM, as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmFailure {
    pub(crate) status: u16,
    /// `error.code` of the body (empty when the body had none).
    pub(crate) code: String,
    /// `error.message`, or the status line.
    pub(crate) message: String,
    /// The codes of `error.details[]`, in order.
    pub(crate) detail_codes: Vec<String>,
    /// The wait the answer asked for.
    pub(crate) retry_after: Option<Duration>,
    /// `x-ms-request-id`: ARM's id for the request, which a support case
    /// and the activity log name it by (empty when the answer had none).
    pub(crate) request_id: String,
}

impl fmt::Display for ArmFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ArmFailure {}

impl ArmFailure {
    /// Reads an error answer: ARM's envelope `{"error": {"code", "message",
    /// "details": [{"code", …}]}}` (some services send the fields at the top
    /// level), the Retry-After headers and `x-ms-request-id`.
    pub(crate) fn parse(status: u16, headers: &Headers, body: &[u8]) -> Self {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let error = json
            .as_ref()
            .map(|j| j.get("error").unwrap_or(j))
            .cloned()
            .unwrap_or_default();
        let text = |key: &str| error.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let detail_codes = error
            .get("details")
            .and_then(|d| d.as_array())
            .map(|details| {
                details
                    .iter()
                    .filter_map(|d| d.get("code")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status,
            code: text("code").unwrap_or_default(),
            message: text("message").unwrap_or_else(|| format!("HTTP {status}")),
            detail_codes,
            retry_after: retry_after(headers),
            request_id: headers
                .get_optional_str(&azure_core::headers::REQUEST_ID)
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn into_error(self) -> azure_core::Error {
        let kind = ErrorKind::http_response(
            StatusCode::try_from(self.status).unwrap_or(StatusCode::InternalServerError),
            (!self.code.is_empty()).then(|| self.code.clone()),
        );
        let message = self.to_string();
        azure_core::Error::full(kind, self, message)
    }
}

/// The wait an answer asks for: `retry-after-ms`, `x-ms-retry-after-ms`
/// (milliseconds) or `Retry-After` (seconds).
fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in [RETRY_AFTER_MS, X_MS_RETRY_AFTER_MS] {
        if let Some(ms) = headers
            .get_optional_str(&name)
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    headers
        .get_optional_str(&RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The statuses worth another attempt (azure_core's list).
fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// How this crate sends requests: see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct ArmTransport {
    http: Arc<dyn HttpClient>,
    pub(crate) max_retries: u32,
    pub(crate) first_backoff: Duration,
    /// The deadlines, shared so a built provisioner can change them:
    /// (attempt, total) in milliseconds.
    deadlines_ms: Arc<(AtomicU64, AtomicU64)>,
    /// The cap, in milliseconds; shared, so a built provisioner can change it.
    max_retry_after_ms: Arc<AtomicU64>,
}

impl ArmTransport {
    pub(crate) fn new(max_retry_after: Duration) -> Self {
        Self {
            http: azure_core::new_http_client(),
            max_retries: 3,
            first_backoff: Duration::from_millis(800),
            deadlines_ms: Arc::new((
                AtomicU64::new(millis(Deadlines::default().attempt)),
                AtomicU64::new(millis(Deadlines::default().total)),
            )),
            max_retry_after_ms: Arc::new(AtomicU64::new(millis(max_retry_after))),
        }
    }

    pub(crate) fn set_max_retry_after(&self, cap: Duration) {
        self.max_retry_after_ms
            .store(millis(cap), Ordering::Relaxed);
    }

    pub(crate) fn set_deadlines(&self, deadlines: Deadlines) {
        self.deadlines_ms
            .0
            .store(millis(deadlines.attempt), Ordering::Relaxed);
        self.deadlines_ms
            .1
            .store(millis(deadlines.total), Ordering::Relaxed);
    }

    fn deadlines(&self) -> Deadlines {
        Deadlines::new(
            Duration::from_millis(self.deadlines_ms.0.load(Ordering::Relaxed)),
            Duration::from_millis(self.deadlines_ms.1.load(Ordering::Relaxed)),
        )
    }

    /// One attempt, within the attempt deadline: past it, an I/O error.
    async fn attempt(&self, request: &Request, deadline: Duration) -> PolicyResult {
        match tokio::time::timeout(deadline, self.http.execute_request(request)).await {
            Ok(result) => result,
            Err(_) => Err(azure_core::Error::message(
                ErrorKind::Io,
                format!("no answer within the attempt deadline of {deadline:?}"),
            )),
        }
    }

    /// Sends `request`, retrying as the module docs say.
    async fn send_with_retries(&self, request: &Request) -> PolicyResult {
        let deadline = self.deadlines().attempt;
        let mut attempt = 0;
        let mut backoff = Backoff::new(self.first_backoff, Duration::from_secs(30));
        loop {
            match self.attempt(request, deadline).await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let (status, headers, body) = response.deconstruct();
                    let body = body.collect().await?;
                    let failure = ArmFailure::parse(u16::from(status), &headers, &body);
                    let wait = is_retryable(failure.status)
                        .then(|| self.wait_before_retry(attempt, &mut backoff, failure.retry_after))
                        .flatten();
                    match wait {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => return Err(failure.into_error()),
                    }
                }
                Err(e) if e.kind() == &ErrorKind::Io => {
                    match self.wait_before_retry(attempt, &mut backoff, None) {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    fn max_retry_after(&self) -> Duration {
        Duration::from_millis(self.max_retry_after_ms.load(Ordering::Relaxed))
    }

    /// The wait before another attempt, or `None` when the answer goes to
    /// the caller now (the last attempt, or a Retry-After longer than this
    /// transport takes).
    fn wait_before_retry(
        &self,
        attempt: u32,
        backoff: &mut Backoff,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let own = backoff.next_pause();
        match retry_after {
            Some(asked) if asked > self.max_retry_after() => None,
            Some(asked) => Some(asked),
            None => Some(own),
        }
    }
}

#[async_trait::async_trait]
impl Policy for ArmTransport {
    async fn send(
        &self,
        _ctx: &Context,
        request: &mut Request,
        _next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let total = self.deadlines().total;
        match tokio::time::timeout(total, self.send_with_retries(request)).await {
            Ok(result) => result,
            Err(_) => Err(azure_core::Error::message(
                ErrorKind::Io,
                format!("no answer within the call deadline of {total:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::headers::HeaderValue;

    #[test]
    fn an_error_answer_keeps_code_details_and_retry_after() {
        let mut headers = Headers::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1200"));
        let body = br#"{"error":{"code":"OperationNotAllowed","message":"The server rejected the request because too many requests have been received for this subscription.","details":[{"code":"TooManyRequests","target":"PutVM3Min","message":"{}"}]}}"#;
        let failure = ArmFailure::parse(429, &headers, body);
        assert_eq!(failure.code, "OperationNotAllowed");
        assert_eq!(failure.detail_codes, ["TooManyRequests"]);
        assert_eq!(failure.retry_after, Some(Duration::from_secs(1200)));
        let odd = ArmFailure::parse(502, &Headers::new(), b"<html>bad gateway</html>");
        assert_eq!((odd.code.as_str(), odd.message.as_str()), ("", "HTTP 502"));
    }

    #[test]
    fn a_retry_after_beyond_the_cap_is_not_waited() {
        let transport = ArmTransport::new(Duration::from_secs(60));
        let mut backoff = Backoff::new(transport.first_backoff, Duration::from_secs(30));
        assert_eq!(
            transport.wait_before_retry(0, &mut backoff, Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            transport.wait_before_retry(1, &mut backoff, Some(Duration::from_secs(1200))),
            None
        );
        assert_eq!(transport.wait_before_retry(3, &mut backoff, None), None);
        // Its own pause doubled with each attempt, whatever was waited.
        assert_eq!(
            transport.wait_before_retry(2, &mut backoff, None),
            Some(Duration::from_millis(3200))
        );
    }
}
