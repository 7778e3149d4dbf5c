//! The api-versions ARM accepts for each resource type this face serves,
//! and the request fields that only newer versions know.
//!
//! The lists are the published versions of each type, newest first, as
//! `az provider show` prints them and as the SDKs pin them
//! (azure-mgmt-compute 39 asks for 2026-04-01, its disks 2026-03-02;
//! @azure/arm-compute 24.1 for 2026-03-01;
//! azure-mgmt-network 33.1 for 2026-03-01; azure-mgmt-resource 26 for
//! 2025-04-01). A version outside its type's list is refused with ARM's
//! `InvalidApiVersionParameter`, naming the supported ones.

use super::*;

/// `Microsoft.Compute/virtualMachines`, and the Compute operation status
/// resources.
pub(super) const VMS: &[&str] = &[
    "2026-04-01",
    // In the REST specs (`Compute/stable/2026-03-01/ComputeRP.json`), and
    // what @azure/arm-compute 24.1.0 sends.
    "2026-03-01",
    "2025-11-01",
    "2025-04-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2023-09-01",
    "2023-07-01",
    "2023-03-01",
    "2022-11-01",
    "2022-08-01",
    "2022-03-01",
    "2021-11-01",
    "2021-07-01",
    "2021-04-01",
    "2021-03-01",
    "2020-12-01",
    "2020-06-01",
    "2019-12-01",
    "2019-07-01",
    "2019-03-01",
    "2018-10-01",
    "2018-06-01",
    "2018-04-01",
    "2017-12-01",
    "2017-03-30",
    "2016-08-30",
    "2016-04-30-preview",
    "2016-03-30",
    "2015-06-15",
    "2015-05-01-preview",
];

/// `Microsoft.Compute/disks`.
pub(super) const DISKS: &[&str] = &[
    "2026-03-02",
    "2025-01-02",
    "2024-03-02",
    "2023-10-02",
    "2023-04-02",
    "2023-01-02",
    "2022-07-02",
    "2022-03-02",
    "2021-12-01",
    "2021-08-01",
    "2021-04-01",
    "2020-12-01",
    "2020-09-30",
    "2020-06-30",
    "2020-05-01",
    "2019-11-01",
    "2019-07-01",
    "2019-03-01",
    "2018-09-30",
    "2018-06-01",
    "2018-04-01",
    "2017-03-30",
    "2016-04-30-preview",
];

/// `Microsoft.Network/networkInterfaces` and `publicIPAddresses`.
pub(super) const NETWORK: &[&str] = &[
    "2026-03-01",
    "2025-07-01",
    "2025-05-01",
    "2025-03-01",
    "2025-01-01",
    "2024-10-01",
    "2024-07-01",
    "2024-05-01",
    "2024-03-01",
    "2024-01-01",
    "2023-11-01",
    "2023-09-01",
    "2023-06-01",
    "2023-05-01",
    "2023-04-01",
    "2023-02-01",
    "2022-11-01",
    "2022-09-01",
    "2022-07-01",
    "2022-05-01",
    "2022-01-01",
    "2021-08-01",
    "2021-05-01",
    "2021-03-01",
    "2021-02-01",
    "2020-11-01",
    "2020-08-01",
    "2020-07-01",
    "2020-06-01",
    "2020-05-01",
    "2020-04-01",
    "2020-03-01",
    "2019-12-01",
    "2019-11-01",
    "2019-09-01",
    "2019-08-01",
    "2019-07-01",
    "2019-06-01",
    "2019-04-01",
    "2019-02-01",
    "2018-12-01",
    "2018-11-01",
    "2018-10-01",
    "2018-08-01",
    "2018-07-01",
    "2018-06-01",
    "2018-04-01",
    "2018-02-01",
    "2018-01-01",
    "2017-11-01",
    "2017-10-01",
    "2017-09-01",
    "2017-08-01",
    "2017-06-01",
    "2017-04-01",
    "2017-03-01",
    "2016-12-01",
    "2016-11-01",
    "2016-10-01",
    "2016-09-01",
    "2016-08-01",
    "2016-07-01",
    "2016-06-01",
    "2016-03-30",
    "2015-06-15",
    "2015-05-01-preview",
];

/// `Microsoft.Resources/resourceGroups`.
pub(super) const GROUPS: &[&str] = &[
    "2025-04-01",
    "2025-03-01",
    "2025-01-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2023-07-01",
    "2022-09-01",
    "2021-04-01",
    "2021-01-01",
    "2020-10-01",
    "2020-08-01",
    "2020-06-01",
    "2019-10-01",
    "2019-08-01",
    "2019-07-01",
    "2019-05-10",
    "2019-05-01",
    "2019-03-01",
    "2018-05-01",
    "2018-02-01",
    "2017-08-01",
    "2017-05-10",
    "2016-09-01",
    "2016-07-01",
    "2016-06-01",
    "2016-02-01",
    "2015-11-01",
    "2015-01-01",
    "2014-04-01",
];

/// VM request fields and the first api-version that knows them. Compute
/// refuses a member its version does not have: "Could not find member".
const VM_FIELDS: &[(&str, &str, &str)] = &[
    ("/properties/userData", "2021-03-01", "userData"),
    // Spot VMs: "the minimum api-version is 2019-03-01" (the VM reference).
    ("/properties/evictionPolicy", "2019-03-01", "evictionPolicy"),
    ("/properties/billingProfile", "2019-03-01", "billingProfile"),
    (
        "/properties/networkProfile/networkInterfaceConfigurations",
        "2021-03-01",
        "networkInterfaceConfigurations",
    ),
    (
        "/properties/storageProfile/osDisk/deleteOption",
        "2021-03-01",
        "deleteOption",
    ),
];

/// Refuses a VM body that uses a field newer than `version`, as Compute
/// does: 400 `InvalidRequestContent`.
pub(super) fn check_vm_fields(version: &str, body: &Value) -> Result<(), ArmError> {
    for (pointer, since, member) in VM_FIELDS {
        if body.pointer(pointer).is_some() && version < *since {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                format!(
                    "The request content was invalid and could not be deserialized: \
                     'Could not find member '{member}' on object of type 'Properties'. \
                     Path '{}'.'.",
                    pointer.trim_start_matches('/').replace('/', ".")
                ),
            ));
        }
    }
    Ok(())
}

/// True when answers in `version` carry `timeCreated` (2021-11-01 on).
pub(super) fn has_time_created(version: &str) -> bool {
    version >= "2021-11-01"
}
