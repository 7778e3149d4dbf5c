//! EC2 errors to the provider-neutral classes: the one table.
//!
//! Retries happen in the SDK (standard mode, 3 attempts, exponential backoff
//! with jitter): it retries throttling codes (`RequestLimitExceeded`,
//! `Throttling`, …), HTTP 500/502/503/504 (so also
//! `InsufficientInstanceCapacity`, which EC2 sends as a server error) and
//! transport errors. What reaches this table has exhausted those retries.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use provisioner_core::validate::field;
use provisioner_core::{Error, ErrorClass, ProviderFailure};

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
        | "InsufficientVolumeCapacity" => InsufficientCapacity,
        "InstanceLimitExceeded"
        | "VcpuLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "VolumeLimitExceeded"
        | "AddressLimitExceeded"
        | "ResourceLimitExceeded" => QuotaExceeded,
        "InvalidInstanceID.NotFound" => NotFound,
        "InvalidInstanceID.Malformed" | "InvalidInstanceID" => InvalidArgument(field::INSTANCE_ID),
        "InvalidAMIID.Malformed" | "InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable" => {
            InvalidArgument(field::IMAGE)
        }
        "InvalidInstanceType" => InvalidArgument(field::INSTANCE_TYPE),
        "InvalidUserData.Malformed" => InvalidArgument(field::USER_DATA),
        "TagLimitExceeded" | "InvalidTagKey.Malformed" => InvalidArgument(field::TAGS),
        "IdempotentParameterMismatch" => InvalidArgument(field::IDEMPOTENCY_KEY),
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
        "IncorrectInstanceState" | "IncorrectState" | "InvalidInstanceState" => InvalidState,
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
    let (code, message, status) = match &err {
        SdkError::ServiceError(service) => (
            service.err().code().unwrap_or_default().to_owned(),
            service.err().message().unwrap_or_default().to_owned(),
            service.raw().status().as_u16(),
        ),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return Error::Unavailable {
                message: "EC2 could not be reached".to_owned(),
                source: Some(Box::new(err)),
            }
        }
        SdkError::ResponseError(_) => {
            return Error::Unavailable {
                message: "EC2 sent a response that could not be read".to_owned(),
                source: Some(Box::new(err)),
            }
        }
        _ => (String::new(), err.to_string(), 0),
    };
    classify(&code, status).into_error(ProviderFailure {
        provider: "ec2",
        code,
        message,
        instance_id: instance_id.unwrap_or_default().to_owned(),
        retry_after: None,
        source: Some(Box::new(err)),
    })
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
