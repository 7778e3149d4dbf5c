//! The VM a keyed launch meets when its create-only PUT finds the name
//! taken: the same launch again (returned, reaped if it failed), or a reuse
//! of the key (refused).

use provisioner_core::provider::naming;
use provisioner_core::provider::validate::field;
use provisioner_core::{Error, InstanceConfig, InstanceInfo, Result};

use crate::convert::{info_of, launch_fingerprint_of, owner_of, tags_of};
use crate::failures::state_given;
use crate::AzureProvisioner;

impl AzureProvisioner {
    /// The VM a keyed launch met (`412` on its create-only PUT): returned
    /// when it was launched with the same parameters and is not being
    /// deleted, else `InvalidArgument` naming the key. A VM of this launch
    /// that failed after acceptance (the first PUT's answer was lost, and
    /// the create then failed) is reaped and returned, as EC2 returns the
    /// instance of a client token whose launch failed: the caller learns its
    /// id, and describing it says why it failed.
    pub(crate) async fn existing_launch(
        &self,
        name: &str,
        config: &InstanceConfig,
    ) -> Result<InstanceInfo> {
        let vm = self.get_vm(name).await?.ok_or_else(|| Error::Unavailable {
            message: format!("{name} exists and cannot be read yet"),
            context: None,
        })?;
        // Being deleted is read from the VM below: a failed create of this
        // launch is reaped and returned, not refused.
        naming::check_same_launch(
            name,
            config,
            launch_fingerprint_of(&vm),
            owner_of(&vm).as_deref(),
            &self.owner,
            false,
        )?;
        let failed = self.failed_provisioning(name, &vm).await?;
        let state = state_given(&vm, failed.as_ref());
        let (private_ip, public_ip) = if let Some(failure) = self.reapable(&vm, failed.as_ref()) {
            // Were it left to a later describe or list, a caller that gave
            // up here would never delete it: it bills until deleted.
            self.reap(name, failure).await?;
            (None, None)
        } else if state.is_terminal() {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("it names {name}, which is being deleted: wait until it is gone, or use a new key"),
            ));
        } else {
            self.addresses(&vm).await?
        };
        Ok(info_of(
            name,
            &vm,
            state,
            tags_of(&vm),
            (private_ip, public_ip),
        ))
    }
}

/// True for the 412 of a create-only PUT that met an existing VM.
pub(crate) fn is_precondition_failed(e: &azure_core::Error) -> bool {
    matches!(
        e.kind(),
        azure_core::error::ErrorKind::HttpResponse { status, .. }
            if *status == azure_core::StatusCode::PreconditionFailed
    )
}
