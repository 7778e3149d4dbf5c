//! The contract subject of each provider and target: what the suite runs on.

use std::sync::Arc;
use std::time::Duration;

use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
use provisioner_core::contract::{Capabilities, ContractSubject, Support, Timing};
use provisioner_core::{InstanceConfig, InstanceProvisioner};
use provisioner_ec2::{emulator_client, Ec2LaunchConfig, Ec2Provisioner};
use provisioner_emulator::Emulator;
use provisioner_fake::{FakeCloud, FakeProvisioner, Personality};
use provisioner_gcp::{GcpLaunchConfig, GcpProvisioner};

use crate::moto;

/// Where a provider's suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Against {
    /// The project's own emulator (the fake's model for `fake`).
    Emulator,
    /// moto, an independent EC2 emulator (EC2 only).
    Moto,
    /// A real account.
    Live,
}

/// A subject, or why the provider is not run (which is not a failure).
pub(crate) enum Subject {
    Ready(Box<ContractSubject>),
    NotRun(String),
}

pub(crate) async fn subject(provider: &str, against: Against) -> Result<Subject, String> {
    Ok(match (provider, against) {
        ("fake", Against::Emulator) => Subject::Ready(Box::new(fake())),
        ("fake", other) => Subject::NotRun(format!(
            "the fake runs in memory only, not against {other:?}"
        )),
        ("ec2", Against::Emulator) => Subject::Ready(Box::new(ec2_emulator().await?)),
        ("ec2", Against::Moto) => Subject::Ready(Box::new(ec2_moto()?)),
        ("ec2", Against::Live) => Subject::Ready(Box::new(ec2_live().await?)),
        ("gcp", Against::Emulator) => Subject::Ready(Box::new(gcp_emulator().await?)),
        ("gcp", Against::Live) => Subject::Ready(Box::new(gcp_live().await?)),
        ("azure", Against::Emulator) => Subject::Ready(Box::new(azure_emulator().await?)),
        ("azure", Against::Live) => Subject::Ready(Box::new(azure_live().await?)),
        (_, Against::Moto) => Subject::NotRun("moto serves only EC2 here".to_owned()),
        (name, _) => Subject::NotRun(format!("no subject for {name} against {against:?}")),
    })
}

fn fake() -> ContractSubject {
    let cloud = FakeCloud::new();
    let prefix = cloud.personality().id_prefix;
    let faults = Arc::new(cloud.clone());
    ContractSubject::new(
        Arc::new(FakeProvisioner::new(cloud).with_page_size(2)),
        InstanceConfig::new("img-contract", "small"),
        format!("{prefix}0000000000000dead"),
        format!("{prefix}../../x"),
    )
    .with_faults(faults)
    .with_small_pages()
    .with_second_instance_type("medium")
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
}

const EC2_NO_RETRY_AFTER: &str = "EC2 sends no Retry-After with RequestLimitExceeded";
const EC2_UNKNOWN: &str = "i-0000000000000dead";
const EC2_MALFORMED: &str = "i-0123/../../x";

async fn ec2_emulator() -> Result<ContractSubject, String> {
    let emulator = Emulator::builder()
        .ec2_page_cap(2)
        .start()
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    );
    Ok(ContractSubject::new(
        Arc::new(ec2),
        InstanceConfig::new("ami-0abcdef1234567890", "t3.micro").with_disk_size_gb(16),
        EC2_UNKNOWN,
        EC2_MALFORMED,
    )
    .with_capabilities(Capabilities {
        sends_retry_after: Support::No(EC2_NO_RETRY_AFTER.into()),
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_small_pages()
    .with_second_instance_type("t3.small")
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator))
}

fn ec2_moto() -> Result<ContractSubject, String> {
    let server = moto::start()?;
    // moto accepts MaxResults of 5 and up, like EC2.
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&server.endpoint),
        Ec2LaunchConfig::default(),
    )
    .with_page_size(5);
    Ok(ContractSubject::new(
        Arc::new(ec2),
        // An image moto ships (its root device is /dev/sda1).
        InstanceConfig::new("ami-12c6146b", "t3.micro").with_disk_size_gb(16),
        EC2_UNKNOWN,
        EC2_MALFORMED,
    )
    .with_capabilities(Capabilities {
        idempotent_launch: Support::No(
            "moto ignores ClientToken: every RunInstances creates an instance".into(),
        ),
        refuses_terminated_changes: Support::No(
            "moto accepts StopInstances and StartInstances on terminated instances".into(),
        ),
        sends_retry_after: Support::No(EC2_NO_RETRY_AFTER.into()),
        ..Capabilities::default()
    })
    .with_timing(Timing {
        deadline: Duration::from_secs(60),
        ..Timing::emulator()
    })
    .holding(server))
}

/// The variables a live EC2 run reads, besides the standard AWS ones.
const LIVE_VARS: &str =
    "PROVISIONER_EC2_IMAGE (an AMI id), PROVISIONER_EC2_INSTANCE_TYPE (default t3.micro), \
PROVISIONER_EC2_SUBNET (optional)";

/// True when one of `vars` is set or one of `files` (under the home
/// directory) exists: a local source of credentials. Checked before any
/// credential chain runs, so that a machine without credentials fails at
/// once instead of probing instance metadata endpoints.
fn has_local_credentials(vars: &[&str], files: &[&str]) -> bool {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    vars.iter().any(|v| std::env::var_os(v).is_some())
        || home.is_some_and(|home| files.iter().any(|f| home.join(f).exists()))
}

async fn ec2_live() -> Result<ContractSubject, String> {
    use aws_sdk_ec2::config::ProvideCredentials;
    let missing = |why: String| {
        format!("{why}; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_REGION, and {LIVE_VARS}")
    };
    let sources = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    if !has_local_credentials(&sources, &[".aws/credentials", ".aws/config"]) {
        return Err(missing("no AWS credentials found".to_owned()));
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| missing("no AWS credentials provider is configured".to_owned()))?;
    if let Err(e) = provider.provide_credentials().await {
        return Err(missing(format!("no AWS credentials found ({e})")));
    }
    if config.region().is_none() {
        return Err(missing("no AWS region".to_owned()));
    }
    let image = std::env::var("PROVISIONER_EC2_IMAGE")
        .map_err(|_| missing("PROVISIONER_EC2_IMAGE is not set".to_owned()))?;
    let instance_type =
        std::env::var("PROVISIONER_EC2_INSTANCE_TYPE").unwrap_or_else(|_| "t3.micro".to_owned());
    let mut launch = Ec2LaunchConfig::default();
    if let Ok(subnet) = std::env::var("PROVISIONER_EC2_SUBNET") {
        launch = launch.with_subnet(subnet);
    }
    let ec2 = Ec2Provisioner::from_sdk_config(&config, launch).with_page_size(5);
    Ok(ContractSubject::new(
        Arc::new(ec2),
        InstanceConfig::new(image, instance_type),
        EC2_UNKNOWN,
        EC2_MALFORMED,
    )
    .with_timing(Timing::cloud()))
}

const GCP_IMAGE: &str = "projects/debian-cloud/global/images/family/debian-12";
const GCP_MALFORMED: &str = "us-central1-a/../x";

async fn gcp_emulator() -> Result<ContractSubject, String> {
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .gce_page_cap(2)
        .start()
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let zones = vec!["us-central1-a".to_owned(), "us-central1-b".to_owned()];
    let gcp = GcpProvisioner::for_endpoint(
        &emulator.endpoint(),
        "contract-project",
        zones,
        GcpLaunchConfig::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(ContractSubject::new(
        Arc::new(gcp),
        InstanceConfig::new(GCP_IMAGE, "e2-small").with_disk_size_gb(20),
        "us-central1-a/p-00000000000000000dead",
        GCP_MALFORMED,
    )
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_small_pages()
    .with_second_instance_type("e2-medium")
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator))
}

/// The variables a live Compute Engine run reads, besides Application
/// Default Credentials.
const GCP_LIVE_VARS: &str = "PROVISIONER_GCP_PROJECT, PROVISIONER_GCP_ZONE (default us-central1-a), \
PROVISIONER_GCP_IMAGE (default the debian-12 family), PROVISIONER_GCP_MACHINE_TYPE (default e2-small)";

async fn gcp_live() -> Result<ContractSubject, String> {
    let missing = |why: &str| {
        format!("{why}; set up Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login) and {GCP_LIVE_VARS}")
    };
    let project = std::env::var("PROVISIONER_GCP_PROJECT")
        .map_err(|_| missing("PROVISIONER_GCP_PROJECT is not set"))?;
    let adc_file = ".config/gcloud/application_default_credentials.json";
    if !has_local_credentials(&["GOOGLE_APPLICATION_CREDENTIALS"], &[adc_file]) {
        return Err(missing("no Application Default Credentials file found"));
    }
    let zone = std::env::var("PROVISIONER_GCP_ZONE").unwrap_or_else(|_| "us-central1-a".to_owned());
    let image = std::env::var("PROVISIONER_GCP_IMAGE").unwrap_or_else(|_| GCP_IMAGE.to_owned());
    let machine_type =
        std::env::var("PROVISIONER_GCP_MACHINE_TYPE").unwrap_or_else(|_| "e2-small".to_owned());
    let gcp = GcpProvisioner::from_env(project, vec![zone.clone()], GcpLaunchConfig::default())
        .await
        .map_err(|e| missing(&format!("no usable credentials ({e})")))?;
    Ok(ContractSubject::new(
        Arc::new(gcp),
        InstanceConfig::new(image, machine_type),
        format!("{zone}/p-00000000000000000dead"),
        GCP_MALFORMED,
    )
    .with_timing(Timing::cloud()))
}

const AZURE_IMAGE: &str = "Canonical:ubuntu-24_04-lts:server:latest";

async fn azure_emulator() -> Result<ContractSubject, String> {
    let emulator = Emulator::builder()
        .personality(Personality::azure())
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet(AZURE_SUBNET)
        .arm_page_cap(2)
        .start()
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let subnet = AZURE_SUBNET;
    let azure = AzureProvisioner::for_endpoint(
        &emulator.endpoint(),
        AzureScope::new("sub-1", "fleet", "westeurope"),
        AzureLaunchConfig::new(
            subnet,
            "fleet",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatorKey fleet",
        )
        .with_public_ip(true),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(ContractSubject::new(
        Arc::new(azure),
        InstanceConfig::new(AZURE_IMAGE, "Standard_B2s").with_disk_size_gb(64),
        "p-00000000000000000dead",
        "p-1/../../x",
    )
    .with_small_pages()
    .with_second_instance_type("Standard_B2ms")
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator))
}

/// The variables a live Azure run reads, besides azure_identity's own.
const AZURE_LIVE_VARS: &str = "PROVISIONER_AZURE_SUBSCRIPTION, PROVISIONER_AZURE_GROUP, PROVISIONER_AZURE_LOCATION, \
PROVISIONER_AZURE_SUBNET, PROVISIONER_AZURE_SSH_KEY, PROVISIONER_AZURE_IMAGE (default Ubuntu 24.04), \
PROVISIONER_AZURE_SIZE (default Standard_B2s)";

async fn azure_live() -> Result<ContractSubject, String> {
    let missing = |why: &str| {
        format!("{why}; set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET (or log in with az) and {AZURE_LIVE_VARS}")
    };
    let sources = [
        "AZURE_CLIENT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
    ];
    if !has_local_credentials(&sources, &[".azure/azureProfile.json"]) {
        return Err(missing("no Azure credentials found"));
    }
    let var = |name: &str| std::env::var(name).map_err(|_| missing(&format!("{name} is not set")));
    let scope = AzureScope::new(
        var("PROVISIONER_AZURE_SUBSCRIPTION")?,
        var("PROVISIONER_AZURE_GROUP")?,
        var("PROVISIONER_AZURE_LOCATION")?,
    );
    let launch = AzureLaunchConfig::new(
        var("PROVISIONER_AZURE_SUBNET")?,
        "fleet",
        var("PROVISIONER_AZURE_SSH_KEY")?,
    );
    let image = std::env::var("PROVISIONER_AZURE_IMAGE").unwrap_or_else(|_| AZURE_IMAGE.to_owned());
    let size =
        std::env::var("PROVISIONER_AZURE_SIZE").unwrap_or_else(|_| "Standard_B2s".to_owned());
    let azure = AzureProvisioner::from_env(scope, launch)
        .await
        .map_err(|e| missing(&e.to_string()))?;
    Ok(ContractSubject::new(
        Arc::new(azure),
        InstanceConfig::new(image, size),
        "p-00000000000000000dead",
        "p-1/../../x",
    )
    .with_timing(Timing::cloud()))
}

/// The subscription, resource group and location the emulator serves to
/// the Azure provider in the soak and the wire bench.
pub(crate) const AZURE_SCOPE: (&str, &str, &str) = ("sub-1", "fleet", "westeurope");
/// The subnet its VMs are placed in.
pub(crate) const AZURE_SUBNET: &str =
    "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";
/// The project and zones the emulator serves to the Compute Engine provider
/// in the soak and the wire bench.
pub(crate) const GCP_PROJECT: &str = "fleet-project";
pub(crate) const GCP_ZONES: [&str; 2] = ["us-central1-a", "us-central1-b"];

/// A provider of this workspace on the emulator at `endpoint` (started
/// with [`AZURE_SCOPE`]'s resource group), and a launch config its cloud
/// takes.
pub(crate) async fn on_emulator(
    provider: &str,
    endpoint: &str,
) -> Result<(Arc<dyn InstanceProvisioner>, InstanceConfig), String> {
    Ok(match provider {
        "ec2" => (
            Arc::new(Ec2Provisioner::from_client(
                emulator_client(endpoint),
                Ec2LaunchConfig::default(),
            )),
            InstanceConfig::new("ami-0abcdef1234567890", "t3.micro"),
        ),
        "gcp" => (
            Arc::new(
                GcpProvisioner::for_endpoint(
                    endpoint,
                    GCP_PROJECT,
                    GCP_ZONES.iter().map(|z| (*z).to_owned()).collect(),
                    GcpLaunchConfig::default(),
                )
                .await
                .map_err(|e| e.to_string())?,
            ),
            InstanceConfig::new(
                "projects/debian-cloud/global/images/family/debian-12",
                "e2-small",
            ),
        ),
        _ => (
            Arc::new(
                AzureProvisioner::for_endpoint(
                    endpoint,
                    AzureScope::new(AZURE_SCOPE.0, AZURE_SCOPE.1, AZURE_SCOPE.2),
                    AzureLaunchConfig::new(
                        AZURE_SUBNET,
                        "fleet",
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetKey fleet",
                    ),
                )
                .await
                .map_err(|e| e.to_string())?,
            ),
            InstanceConfig::new("Canonical:ubuntu-24_04-lts:server:latest", "Standard_B2s"),
        ),
    })
}
