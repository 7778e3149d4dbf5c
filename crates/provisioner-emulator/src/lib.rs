//! A local server that speaks cloud wire APIs over the fake's model
//! ([`provisioner_fake::FakeCloud`]), so that the real SDK clients (and
//! clients in other languages) are tested offline.
//!
//! One server, one model, one fault layer, several faces. The faces today:
//!
//! - **EC2** (`POST /`, the Query API): RunInstances (MinCount to MaxCount
//!   in one reservation), DescribeInstances
//!   (filters `tag:KEY`, `tag-key`, `tag-value`, `instance-state-name`,
//!   `instance-id`, `instance-type`, `availability-zone`, with EC2's `*`/`?`
//!   wildcards and `\` escapes; MaxResults and NextToken),
//!   DescribeInstanceStatus, TerminateInstances, StopInstances,
//!   StartInstances, CreateTags,
//!   DeleteTags and DescribeImages, with EC2's XML shapes, error envelope
//!   and status codes, `DryRun`, and ClientToken idempotency.
//! - **Compute Engine** (`/compute/v1/...`, REST JSON): instances insert,
//!   get, list, aggregatedList, delete, start, stop, suspend, resume,
//!   setLabels and setMetadata (fingerprint-guarded); zone operations get,
//!   wait and list; names unique per project and zone; `filter` on labels,
//!   status and name (AIP-160 `=`, `!=`, `:`, or `eq`/`ne` regular
//!   expressions); `maxResults`/`pageToken`; its error envelope; operations
//!   that go PENDING, RUNNING, DONE.
//! - **Azure Resource Manager** (`/subscriptions/...`, JSON): resource
//!   groups; virtual machines PUT, GET (`$expand=instanceView`), DELETE,
//!   deallocate, start, powerOff, instanceView, and lists by group and by
//!   subscription paged by `nextLink`; network interfaces and public
//!   addresses created with a VM or by their own PUT, and VMs naming an
//!   existing NIC by id; long-running operations with
//!   `Azure-AsyncOperation`, `Location` and `Retry-After`; every published
//!   `api-version` of each resource type; ARM's error envelope.
//! - **Control** (`/_emulator/...`, JSON): fault injection over HTTP.
//!
//! Faults come from two places: the model's ([`FakeCloud::fail_next`],
//! random faults, latency, the invisibility window after launch), which each
//! face turns into its own wire errors, and the wire's
//! ([`WireFaults::drop_after_commit`]): the request is applied, then the
//! connection is closed without an answer.
//!
//! ```
//! use provisioner_emulator::Emulator;
//! use provisioner_fake::{Fault, Operation};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let emulator = Emulator::builder().start().await?;
//! let endpoint = emulator.endpoint(); // http://127.0.0.1:PORT, for any EC2 client
//! assert!(endpoint.starts_with("http://127.0.0.1:"));
//! emulator.cloud().fail_next(Operation::Launch, 1, Fault::Throttled { retry_after: None });
//! emulator.wire().drop_after_commit("RunInstances", 1);
//! # Ok(())
//! # }
//! ```

mod admin;
mod arm;
mod ec2;
mod envelope;
mod faults;
mod gce;
mod lro;
mod server;
mod tls;
mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use provisioner_fake::{FakeCloud, Personality};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[cfg(feature = "contract")]
pub use faults::EmulatorFaults;
pub use wire::{Face, WireCounts, WireFaults};

/// What every face's handlers share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) cloud: FakeCloud,
    pub(crate) wire: Arc<WireFaults>,
    pub(crate) counts: Arc<WireCounts>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) gce_operations: Arc<gce::Operations>,
    pub(crate) arm_state: Arc<arm::ArmState>,
    pub(crate) ec2_volumes: Arc<ec2::Volumes>,
}

impl AppState {
    /// What every face holds that no instance holds.
    pub(crate) fn unattached(&self) -> UnattachedResources {
        let mut counts = self.arm_state.unattached();
        counts.disks += self.ec2_volumes.unattached(&self.cloud)
            + self.gce_operations.disks.unattached(&self.cloud);
        counts
    }
}

/// Per-face settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The most instances one DescribeInstances page holds, whatever
    /// MaxResults asks (EC2 may return fewer than asked).
    pub(crate) ec2_page_cap: usize,
    /// The most instances one Compute Engine list page holds, whatever
    /// maxResults asks.
    pub(crate) gce_page_cap: usize,
    /// The most VMs one ARM list page holds.
    pub(crate) arm_page_cap: usize,
    /// The ARM caller's role is assigned on its resource groups only: reads
    /// at subscription scope are `AuthorizationFailed`.
    pub(crate) arm_group_scoped: bool,
    /// `https` when serving TLS, else `http`: for the URLs the faces
    /// answer with (ARM's operation and nextLink URLs).
    pub(crate) scheme: &'static str,
}

/// The emulator: see [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: a fresh cloud with EC2's personality,
    /// listening on 127.0.0.1 on a free port.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            cloud: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ec2_page_cap: 1000,
            gce_page_cap: 500,
            arm_page_cap: 1000,
            arm_group_scoped: false,
            tls_dir: None,
            groups: Vec::new(),
            ec2_images_keeping_root: Vec::new(),
            subnets: Vec::new(),
        }
    }
}

/// Configures and starts an emulator.
#[derive(Debug)]
pub struct EmulatorBuilder {
    cloud: Option<FakeCloud>,
    listen: SocketAddr,
    ec2_page_cap: usize,
    gce_page_cap: usize,
    arm_page_cap: usize,
    arm_group_scoped: bool,
    tls_dir: Option<PathBuf>,
    groups: Vec<(String, String, String)>,
    ec2_images_keeping_root: Vec<String>,
    subnets: Vec<String>,
}

impl EmulatorBuilder {
    /// Serves this cloud (for example one with transition delays, or one a
    /// test also drives directly).
    pub fn cloud(mut self, cloud: FakeCloud) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// Serves a fresh cloud with this personality (EC2's by default; use
    /// [`Personality::gce`] for the Compute Engine face).
    pub fn personality(mut self, personality: Personality) -> Self {
        self.cloud = Some(FakeCloud::builder().personality(personality).build());
        self
    }

    /// Listens on this address (default 127.0.0.1:0, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Caps DescribeInstances pages at `cap` instances (at least 1), so that
    /// small fleets still cross pages in tests.
    pub fn ec2_page_cap(mut self, cap: usize) -> Self {
        self.ec2_page_cap = cap.max(1);
        self
    }

    /// Caps Compute Engine list pages at `cap` instances (at least 1).
    pub fn gce_page_cap(mut self, cap: usize) -> Self {
        self.gce_page_cap = cap.max(1);
        self
    }

    /// Caps ARM VM list pages at `cap` VMs (at least 1).
    pub fn arm_page_cap(mut self, cap: usize) -> Self {
        self.arm_page_cap = cap.max(1);
        self
    }

    /// Answers the Azure face as to a principal whose role is assigned on
    /// its resource groups only (a common least-privilege setup): a read at
    /// subscription scope, such as the subscription's VM list, is 403
    /// `AuthorizationFailed`.
    pub fn arm_group_scoped(mut self) -> Self {
        self.arm_group_scoped = true;
        self
    }

    /// Serves https with a self-signed certificate for `localhost`,
    /// `127.0.0.1` and `::1`, made at start and written as PEM into `dir`
    /// (see [`EmulatorHandle::certificate`]) so that a client can trust it.
    /// Some clients (azure-core's) send a bearer token only over https.
    pub fn tls(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tls_dir = Some(dir.into());
        self
    }

    /// Creates a resource group for the Azure face, as the account it
    /// stands for already has it: VMs, network interfaces and public
    /// addresses go into existing groups only (clients may also create
    /// groups with ARM's PUT).
    pub fn resource_group(
        mut self,
        subscription: impl Into<String>,
        group: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        self.groups
            .push((subscription.into(), group.into(), location.into()));
        self
    }

    /// Creates a subnet for the Azure face, as the account it stands for
    /// already has it: `id` is the subnet's resource id
    /// (`/subscriptions/S/resourceGroups/G/providers/Microsoft.Network/virtualNetworks/V/subnets/N`),
    /// its group declared with [`resource_group`](Self::resource_group);
    /// its virtual network is created in the group's region if it does not
    /// exist. Network interfaces join existing subnets only (clients may
    /// also create networks with ARM's PUT).
    pub fn subnet(mut self, id: impl Into<String>) -> Self {
        self.subnets.push(id.into());
        self
    }

    /// Registers an EC2 image (an `ami-` id) whose own block device mapping
    /// keeps the root volume when an instance terminates
    /// (`DeleteOnTermination=false`, as an AMI's creator can set it): a
    /// launch that does not map the root device itself leaves its volume
    /// `available`, billed, after the instance is gone. Every other image
    /// deletes its root with the instance.
    pub fn ec2_image_keeping_root(mut self, image: impl Into<String>) -> Self {
        self.ec2_images_keeping_root.push(image.into());
        self
    }

    /// Binds and starts serving in the background.
    pub async fn start(self) -> std::io::Result<EmulatorHandle> {
        let listener = TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let (tls, certificate) = match &self.tls_dir {
            Some(dir) => {
                let (acceptor, path) = tls::self_signed(dir)?;
                (Some(acceptor), Some(path))
            }
            None => (None, None),
        };
        let cloud = self
            .cloud
            .unwrap_or_else(|| FakeCloud::builder().personality(Personality::ec2()).build());
        let state = AppState {
            cloud: cloud.clone(),
            wire: Arc::new(WireFaults::default()),
            counts: Arc::default(),
            settings: Arc::new(Settings {
                ec2_page_cap: self.ec2_page_cap,
                gce_page_cap: self.gce_page_cap,
                arm_page_cap: self.arm_page_cap,
                arm_group_scoped: self.arm_group_scoped,
                scheme: if tls.is_some() { "https" } else { "http" },
            }),
            gce_operations: Arc::default(),
            arm_state: Arc::default(),
            ec2_volumes: Arc::new(ec2::Volumes::keeping_root(self.ec2_images_keeping_root)),
        };
        for (sub, group, location) in &self.groups {
            state
                .arm_state
                .put_group(sub, group, location, &serde_json::json!({}));
        }
        for subnet in &self.subnets {
            state
                .arm_state
                .declare_subnet(subnet)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let app = ec2::router()
            .merge(gce::router())
            .merge(arm::router())
            .merge(admin::router())
            .layer(axum::middleware::from_fn(envelope::shape_errors))
            .layer(axum::middleware::from_fn(arm::stamp_request_ids))
            .layer(axum::middleware::from_fn(gce::refuse_long_urls))
            .with_state(state.clone());
        // ARM's fixed path words are matched without regard to case, before
        // routing.
        let app = axum::Router::new().fallback_service(
            tower::ServiceBuilder::new()
                .map_request(arm::canonical_path::<axum::body::Body>)
                .service(app),
        );
        let (stop, stopped) = oneshot::channel();
        let counts = Arc::clone(&state.counts);
        let task = tokio::spawn(server::serve(listener, tls, app.clone(), counts, stopped));
        Ok(EmulatorHandle {
            app,
            addr,
            certificate,
            state,
            stop: Some(stop),
            task,
        })
    }
}

/// The network and disk resources that exist on their own and that no
/// instance holds, counted by kind: what launches left behind. The ARM face
/// keeps network interfaces, public addresses and disks apart from its VMs,
/// the EC2 face volumes and the Compute Engine face disks (`disks`), each
/// kept after its instance when its delete option says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct UnattachedResources {
    /// Network interfaces.
    pub network_interfaces: usize,
    /// Public IP addresses.
    pub public_addresses: usize,
    /// Disks: Azure managed disks, EC2 volumes, Compute Engine disks.
    pub disks: usize,
}

impl UnattachedResources {
    /// All of them.
    pub fn total(&self) -> usize {
        self.network_interfaces + self.public_addresses + self.disks
    }
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    app: axum::Router,
    addr: SocketAddr,
    certificate: Option<PathBuf>,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl EmulatorHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, such as `http://127.0.0.1:40123` (`https://` when
    /// serving TLS).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.state.settings.scheme, self.addr)
    }

    /// Where the self-signed certificate was written, when serving TLS
    /// ([`EmulatorBuilder::tls`]).
    pub fn certificate(&self) -> Option<&Path> {
        self.certificate.as_deref()
    }

    /// The model it serves (for faults, the call log and assertions).
    pub fn cloud(&self) -> &FakeCloud {
        &self.state.cloud
    }

    /// Checks, for a provider's tests, that `provisioner` (built with a
    /// per-attempt deadline under a few seconds) ends a describe this
    /// emulator holds for a minute within 15 s, as
    /// [`Error::Unavailable`](provisioner_core::Error::Unavailable): a
    /// cloud that hangs never hangs the fleet. Launches one instance from
    /// `config` first; clears the latency after.
    #[cfg(feature = "contract")]
    pub async fn check_a_hanging_call_ends_at_its_deadline(
        &self,
        provisioner: &dyn provisioner_core::InstanceProvisioner,
        config: &provisioner_core::InstanceConfig,
    ) -> Result<(), String> {
        use std::time::{Duration, Instant};
        let id = provisioner
            .launch_instance(config)
            .await
            .map_err(|e| format!("launch: {e}"))?
            .instance_id;
        let cloud = self.cloud();
        cloud.set_latency(
            provisioner_fake::Operation::Describe,
            Duration::from_secs(60),
        );
        let started = Instant::now();
        let result = provisioner.describe_instance(&id).await;
        let took = started.elapsed();
        cloud.set_latency(provisioner_fake::Operation::Describe, Duration::ZERO);
        match result {
            Err(provisioner_core::Error::Unavailable { .. }) if took < Duration::from_secs(15) => {
                Ok(())
            }
            Err(provisioner_core::Error::Unavailable { .. }) => Err(format!(
                "the describe ended as Unavailable only after {took:?}"
            )),
            other => Err(format!(
                "the describe gave {other:?} after {took:?}, want Unavailable"
            )),
        }
    }

    /// The contract suite's fault injector on this emulator: the model's
    /// faults, with instances named by the providers' ids.
    #[cfg(feature = "contract")]
    pub fn faults(&self) -> EmulatorFaults {
        EmulatorFaults::new(self.state.cloud.clone())
            .planting_through(self.app.clone(), self.state.arm_state.first_group_id())
            .counting(std::sync::Arc::clone(&self.state.counts))
    }

    /// The wire-level faults.
    pub fn wire(&self) -> &WireFaults {
        &self.state.wire
    }

    /// Answers one request in process, through the same router and layers
    /// as the server; wire faults (a dropped connection) and the wire
    /// counts do not apply. For tests that send many requests.
    pub async fn answer(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> axum::http::Response<axum::body::Body> {
        use tower::ServiceExt as _;
        match self.app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// How many requests `face` received on the wire.
    pub fn requests_received(&self, face: Face) -> u64 {
        self.state.counts.received(face)
    }

    /// The network and disk resources no instance holds
    /// ([`UnattachedResources`]), also served as `GET /_emulator/state`.
    pub fn unattached_resources(&self) -> UnattachedResources {
        self.state.unattached()
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
