//! The provider a run talks to: from the environment (the variables the
//! live contract run reads), or on an emulator at `--endpoint`.

use std::sync::Arc;

use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
use provisioner_core::layers::{RateLimitPolicy, Stack};
use provisioner_core::InstanceProvisioner;
use provisioner_ec2::{emulator_client, Ec2LaunchConfig, Ec2Provisioner};
use provisioner_fake::{FakeCloud, FakeProvisioner};
use provisioner_gcp::{GcpLaunchConfig, GcpProvisioner};

use crate::args::Provider;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| format!("{name} is not set"))
}

/// The provider asked for (`endpoint` points it at an emulator), under the
/// layers every call goes through: the cloud's documented rate limits, and
/// retries of what is retryable (which never launch twice).
pub(crate) async fn build(
    provider: Provider,
    endpoint: Option<&str>,
) -> Result<Arc<dyn InstanceProvisioner>, String> {
    let cloud = cloud(provider, endpoint).await?;
    let policy = match provider {
        Provider::Fake => RateLimitPolicy::default(),
        Provider::Ec2 => RateLimitPolicy::ec2(),
        Provider::Gcp => RateLimitPolicy::gcp(),
        Provider::Azure => RateLimitPolicy::azure(),
    };
    Ok(Stack::new(cloud).rate_limit(policy).retry().build())
}

async fn cloud(
    provider: Provider,
    endpoint: Option<&str>,
) -> Result<Arc<dyn InstanceProvisioner>, String> {
    Ok(match (provider, endpoint) {
        (Provider::Fake, _) => Arc::new(FakeProvisioner::new(FakeCloud::new())),
        (Provider::Ec2, endpoint) => {
            let mut launch = Ec2LaunchConfig::default();
            if let Some(subnet) = var("PROVISIONER_EC2_SUBNET") {
                launch = launch.with_subnet(subnet);
            }
            match endpoint {
                Some(url) => Arc::new(Ec2Provisioner::from_client(emulator_client(url), launch)),
                None => Arc::new(
                    Ec2Provisioner::from_env(launch)
                        .await
                        .map_err(|e| e.to_string())?,
                ),
            }
        }
        (Provider::Gcp, endpoint) => {
            let zone = var("PROVISIONER_GCP_ZONE").unwrap_or_else(|| "us-central1-a".to_owned());
            let launch = GcpLaunchConfig::default();
            let gcp = match endpoint {
                Some(url) => {
                    let project = var("PROVISIONER_GCP_PROJECT")
                        .unwrap_or_else(|| "emulator-project".to_owned());
                    GcpProvisioner::for_endpoint(url, project, vec![zone], launch).await
                }
                None => {
                    let project = required("PROVISIONER_GCP_PROJECT")?;
                    GcpProvisioner::from_env(project, vec![zone], launch).await
                }
            };
            Arc::new(gcp.map_err(|e| e.to_string())?)
        }
        (Provider::Azure, endpoint) => {
            let (scope, launch) = azure_settings(endpoint.is_some())?;
            let azure = match endpoint {
                Some(url) => AzureProvisioner::for_endpoint(url, scope, launch).await,
                None => AzureProvisioner::from_env(scope, launch).await,
            };
            Arc::new(azure.map_err(|e| e.to_string())?)
        }
    })
}

/// Azure's scope and launch settings from `PROVISIONER_AZURE_*`; on an
/// emulator, what is not set defaults to the emulator's example account
/// (`sub-1`, group `fleet`, `westeurope`).
fn azure_settings(emulator: bool) -> Result<(AzureScope, AzureLaunchConfig), String> {
    let setting = |name: &str, default: &str| match var(name) {
        Some(value) => Ok(value),
        None if emulator => Ok(default.to_owned()),
        None => Err(format!("{name} is not set")),
    };
    let sub = setting("PROVISIONER_AZURE_SUBSCRIPTION", "sub-1")?;
    let group = setting("PROVISIONER_AZURE_GROUP", "fleet")?;
    let location = setting("PROVISIONER_AZURE_LOCATION", "westeurope")?;
    let subnet = setting(
        "PROVISIONER_AZURE_SUBNET",
        &format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"),
    )?;
    let key = setting(
        "PROVISIONER_AZURE_SSH_KEY",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 emulator",
    )?;
    Ok((
        AzureScope::new(sub, group, location),
        AzureLaunchConfig::new(subnet, "fleet", key),
    ))
}
