//! EC2 errors to the provider-neutral classes: the one table.
//!
//! Retries happen in the SDK (standard mode, 3 attempts, exponential backoff
//! with jitter): it retries throttling codes (`RequestLimitExceeded`,
//! `Throttling`, …), HTTP 500/502/503/504 and transport errors, but never a
//! code this table calls capacity ([`CapacityIsNotRetriedInPlace`]): EC2
//! sends `InsufficientInstanceCapacity` as a 500, and asking the same zone
//! for the same type again at once only delays the caller's fallback. What
//! reaches this table has exhausted those retries.

use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::config::interceptors::InterceptorContext;
use aws_sdk_ec2::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::run_instances::RunInstancesError;
use aws_sdk_ec2::operation::start_instances::StartInstancesError;
use aws_sdk_ec2::operation::RequestId;
use provisioner_core::provider::validate::field;
use provisioner_core::provider::{ErrorClass, ProviderFailure};
use provisioner_core::{Error, ErrorContext};

use crate::PROVIDER;

/// The table: EC2 error code (and HTTP status, for codes it does not know)
/// to class.
pub(crate) fn classify(code: &str, status: u16) -> ErrorClass {
    use ErrorClass::*;
    match code {
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "RequestThrottled"
        | "RequestThrottledException" => Throttled,
        "InsufficientInstanceCapacity"
        | "InsufficientHostCapacity"
        | "InsufficientReservedInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientCapacityOnHost"
        | "InsufficientAddressCapacity"
        | "InsufficientVolumeCapacity"
        // The type is not offered in this zone, or the subnet has no free
        // address: another type, zone or subnet may work, as for capacity.
        | "Unsupported"
        | "InsufficientFreeAddressesInSubnet" => InsufficientCapacity,
        "InstanceLimitExceeded"
        | "VcpuLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "VolumeLimitExceeded"
        | "AddressLimitExceeded"
        | "ResourceLimitExceeded" => QuotaExceeded,
        // A spot price below the current one: another offering may launch.
        "SpotMaxPriceTooLow" => PriceTooLow,
        "InvalidInstanceID.NotFound" | "InvalidVolume.NotFound" => NotFound,
        "InvalidInstanceID.Malformed" | "InvalidInstanceID" => InvalidArgument(field::INSTANCE_ID),
        "InvalidVolumeID.Malformed" => InvalidArgument("orphan"),
        "InvalidAMIID.Malformed" | "InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable" => {
            InvalidArgument(field::IMAGE)
        }
        "InvalidInstanceType" => InvalidArgument(field::INSTANCE_TYPE),
        "InvalidUserData.Malformed" => InvalidArgument(field::USER_DATA),
        "TagLimitExceeded" | "InvalidTagKey.Malformed" => InvalidArgument(field::TAGS),
        // The key was used with other parameters, or its instance was
        // terminated: either way it may not launch again.
        "IdempotentParameterMismatch" | "IdempotentInstanceTerminated" => {
            InvalidArgument(field::IDEMPOTENCY_KEY)
        }
        "InvalidBlockDeviceMapping" => InvalidArgument(field::DISK_SIZE_GB),
        "InvalidParameterValue"
        | "InvalidParameter"
        | "InvalidParameterCombination"
        | "MissingParameter"
        | "UnknownParameter"
        | "InvalidSubnetID.NotFound"
        | "InvalidGroup.NotFound"
        | "InvalidKeyPair.NotFound"
        | "InvalidParameterValue.IamInstanceProfile" => InvalidArgument("launch settings"),
        // `UnsupportedOperation`: stop of an instance-store or one-time spot
        // instance; `OperationNotPermitted`: stop or termination protection.
        // The code leads the message, so a fleet can tell them apart.
        // `VolumeInUse`: a volume to delete is attached again.
        "IncorrectInstanceState"
        | "IncorrectState"
        | "VolumeInUse"
        | "InvalidInstanceState"
        | "UnsupportedOperation"
        | "OperationNotPermitted" => InvalidState,
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "RequestExpired" => Unauthenticated,
        "UnauthorizedOperation" | "AccessDenied" | "OptInRequired" | "Blocked" => PermissionDenied,
        "InternalError" | "InternalFailure" | "Unavailable" | "ServiceUnavailable" => Unavailable,
        _ if status >= 500 => Unavailable,
        _ => Other,
    }
}

/// Maps an SDK error; `instance_id` names the instance the call was about.
pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>, instance_id: Option<&str>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut retry_after = None;
    let request_id = request_id_of(&err);
    let (code, message, status) = match &err {
        SdkError::ServiceError(service) => {
            retry_after = retry_after_of(service.raw());
            (
                service.err().code().unwrap_or_default().to_owned(),
                service.err().message().unwrap_or_default().to_owned(),
                service.raw().status().as_u16(),
            )
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return Error::Unavailable {
                message: "EC2 could not be reached".to_owned(),
                context: ErrorContext::new(PROVIDER).with_source(err).boxed(),
            }
        }
        SdkError::ResponseError(_) => {
            return Error::Unavailable {
                message: "EC2 sent a response that could not be read".to_owned(),
                context: ErrorContext::new(PROVIDER)
                    .with_request_id(request_id)
                    .with_source(err)
                    .boxed(),
            }
        }
        _ => (String::new(), err.to_string(), 0),
    };
    classify(&code, status).into_error(ProviderFailure {
        instance_id: instance_id.unwrap_or_default().to_owned(),
        request_id,
        retry_after,
        source: Some(Box::new(err)),
        ..ProviderFailure::new(PROVIDER, code, message)
    })
}

/// The id EC2 gave the request: the SDK reads it from the
/// `x-amzn-requestid` header; EC2's error document carries it as
/// `<RequestID>` (the EC2 query protocol's spelling), which the SDK leaves
/// unread, so this reads it there too.
fn request_id_of<E>(err: &SdkError<E, HttpResponse>) -> String {
    if let Some(id) = err.request_id() {
        return id.to_owned();
    }
    let body = match err {
        SdkError::ServiceError(service) => service.raw().body().bytes(),
        SdkError::ResponseError(response) => response.raw().body().bytes(),
        _ => None,
    };
    body.and_then(|body| std::str::from_utf8(body).ok())
        .and_then(|text| {
            let start = text.find("<RequestID>")? + "<RequestID>".len();
            let len = text[start..].find("</RequestID>")?;
            Some(text[start..start + len].trim().to_owned())
        })
        .unwrap_or_default()
}

/// The ids an `InvalidInstanceID.NotFound` names ("The instance IDs
/// 'i-1, i-2' do not exist"); empty for any other error.
pub(crate) fn unknown_ids<E>(err: &SdkError<E, HttpResponse>) -> Vec<&str>
where
    E: ProvideErrorMetadata,
{
    let Some(service) = err.as_service_error() else {
        return Vec::new();
    };
    if service.code() != Some("InvalidInstanceID.NotFound") {
        return Vec::new();
    }
    service
        .message()
        .unwrap_or_default()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("i-") && crate::rules::check_instance_id(word).is_ok())
        .collect()
}

/// The wait EC2 asked for, where it said: `x-amz-retry-after` (milliseconds,
/// what the AWS SDKs read) or a standard `Retry-After` (seconds). EC2's
/// `RequestLimitExceeded` usually carries neither.
fn retry_after_of(response: &HttpResponse) -> Option<Duration> {
    let headers = response.headers();
    if let Some(ms) = headers
        .get("x-amz-retry-after")
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    headers
        .get("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A retry classifier that forbids retrying, in the same call, an error the
/// table calls capacity. It runs after the SDK's own classifiers and
/// overrides their "server error, retry" for these codes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CapacityIsNotRetriedInPlace;

impl ClassifyRetry for CapacityIsNotRetriedInPlace {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(error) = error.as_operation_error() else {
            return RetryAction::NoActionIndicated;
        };
        let code = error
            .downcast_ref::<RunInstancesError>()
            .and_then(|e| e.code())
            .or_else(|| {
                error
                    .downcast_ref::<StartInstancesError>()
                    .and_then(|e| e.code())
            });
        match code.map(|code| classify(code, 500)) {
            Some(ErrorClass::InsufficientCapacity) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "capacity is not retried in place"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn the_table() {
        let table = [
            ("RequestLimitExceeded", 503, Throttled),
            ("Throttling", 400, Throttled),
            ("InsufficientInstanceCapacity", 500, InsufficientCapacity),
            ("InsufficientHostCapacity", 500, InsufficientCapacity),
            ("InstanceLimitExceeded", 400, QuotaExceeded),
            ("VcpuLimitExceeded", 400, QuotaExceeded),
            ("SpotMaxPriceTooLow", 400, PriceTooLow),
            ("InvalidInstanceID.NotFound", 400, NotFound),
            (
                "InvalidInstanceID.Malformed",
                400,
                InvalidArgument("instance_id"),
            ),
            ("InvalidAMIID.NotFound", 400, InvalidArgument("image")),
            (
                "InvalidParameterValue",
                400,
                InvalidArgument("launch settings"),
            ),
            (
                "IdempotentParameterMismatch",
                400,
                InvalidArgument("idempotency_key"),
            ),
            ("IncorrectInstanceState", 400, InvalidState),
            (
                "IdempotentInstanceTerminated",
                400,
                InvalidArgument("idempotency_key"),
            ),
            ("Unsupported", 400, InsufficientCapacity),
            (
                "InsufficientFreeAddressesInSubnet",
                400,
                InsufficientCapacity,
            ),
            ("UnsupportedOperation", 400, InvalidState),
            ("OperationNotPermitted", 400, InvalidState),
            ("AuthFailure", 401, Unauthenticated),
            ("UnauthorizedOperation", 403, PermissionDenied),
            ("InternalError", 500, Unavailable),
            ("Unavailable", 503, Unavailable),
            ("SomethingNew", 502, Unavailable),
            ("SomethingNew", 400, Other),
        ];
        for (code, status, class) in table {
            assert_eq!(classify(code, status), class, "{code} {status}");
        }
    }
}
