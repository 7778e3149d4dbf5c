//! Where a failure came from: [`ErrorContext`], the source of every
//! [`Error`](super::Error) made from a cloud's answer.

use super::{BoxError, SharedError};
use crate::Operation;

/// Where a failure came from: the provider, the cloud's error code, the
/// operation, the request id the cloud gave the call, and the underlying
/// error (the SDK's, the transport's).
///
/// It is the [`source`](std::error::Error::source) of the [`Error`](super::Error) that
/// carries it, and its own source is the underlying error, so walking the
/// chain prints `error → context → SDK error`. `Display` is one line, for
/// example `ec2 launch, code InsufficientInstanceCapacity, request id
/// 5c1b…`. Nothing here holds credentials or user data: codes and request
/// ids are the cloud's, and the SDK errors kept as sources carry the
/// response, never the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The provider (`"ec2"`, `"gcp"`, `"azure"`, `"fake"`, …).
    pub provider: &'static str,
    /// The operation of the trait that failed, once the provider knows it.
    pub operation: Option<Operation>,
    /// The cloud's error code or reason (`InsufficientInstanceCapacity`,
    /// `ZONE_RESOURCE_POOL_EXHAUSTED`, `OperationNotAllowed`), when it gave
    /// one.
    pub code: Option<String>,
    /// The id the cloud gave the request (EC2's `RequestID`, Azure's
    /// `x-ms-request-id`, a Compute Engine operation's name), for a support
    /// case or the cloud's own logs.
    pub request_id: Option<String>,
    /// The underlying error.
    pub source: Option<SharedError>,
}

impl ErrorContext {
    /// A context naming only the provider.
    pub fn new(provider: &'static str) -> Self {
        Self {
            provider,
            operation: None,
            code: None,
            request_id: None,
            source: None,
        }
    }

    /// With the operation.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// With the cloud's code; an empty code is none.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.code = (!code.is_empty()).then_some(code);
        self
    }

    /// With the cloud's request id; an empty id is none.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        let id = request_id.into();
        self.request_id = (!id.is_empty()).then_some(id);
        self
    }

    /// With the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(SharedError::from(source.into()));
        self
    }

    /// Boxed, as the variants of [`Error`](super::Error) keep it.
    pub fn boxed(self) -> Option<Box<Self>> {
        Some(Box::new(self))
    }
}

impl std::fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.provider)?;
        if let Some(op) = self.operation {
            write!(f, " {op}")?;
        }
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
