//! [`GcpProvisioner`]: what it holds and how it is built.

use std::sync::Mutex;
use std::time::Duration;

use google_cloud_compute_v1::client::{Instances, ZoneOperations};
use provisioner_core::provider::consistency::{Expiring, RecentLaunches};
use provisioner_core::{Deadlines, Error, OwnerId, Result};

use crate::ids;
use crate::launch::GcpLaunchConfig;
use crate::tags::{LAUNCH_METADATA_KEY, TAGS_METADATA_KEY};

/// How long this provisioner follows the insert operation of an instance it
/// launched, to report a failure Compute Engine gives only there.
pub(crate) const INSERT_FOLLOW_UP: Duration = Duration::from_secs(3600);

/// An [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on Compute Engine, for one project and one or
/// more zones. Instance ids are `ZONE/NAME`.
#[derive(Debug)]
pub struct GcpProvisioner {
    pub(crate) instances: Instances,
    pub(crate) operations: ZoneOperations,
    pub(crate) project: String,
    pub(crate) zones: Vec<String>,
    pub(crate) launch: GcpLaunchConfig,
    /// The owner in the ownership marker (a label) of every instance this
    /// provisioner inserts.
    pub(crate) owner: OwnerId,
    pub(crate) recent: RecentLaunches,
    /// Delete operations this provisioner started, by instance id: while one
    /// runs, Compute Engine shows the instance as STOPPING, and describe
    /// must say terminating.
    /// Kept [`INSERT_FOLLOW_UP`], like the inserts: a delete takes minutes.
    pub(crate) deleting: Mutex<Expiring<String>>,
    /// Insert operations this provisioner started, by instance id, for as
    /// long as [`INSERT_FOLLOW_UP`]: Compute Engine reports a stock-out or a
    /// quota there, after the instance was briefly visible, and nowhere else.
    pub(crate) inserts: Mutex<Expiring<String>>,
    /// Start operations this provisioner started, by instance id, as long:
    /// Compute Engine reports a start it accepted and could not place
    /// (`ZONE_RESOURCE_POOL_EXHAUSTED`) there, the instance left TERMINATED.
    pub(crate) starts: Mutex<Expiring<String>>,
    pub(crate) page_size: u32,
    pub(crate) deadlines: Deadlines,
}

impl GcpProvisioner {
    /// A provisioner on Application Default Credentials.
    pub async fn from_env(
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let instances = Instances::builder().build().await.map_err(builder_error)?;
        let operations = ZoneOperations::builder()
            .build()
            .await
            .map_err(builder_error)?;
        Self::from_clients(instances, operations, project, zones, launch)
    }

    /// A provisioner on an emulator at `endpoint` (this project's, for
    /// example), with anonymous credentials.
    pub async fn for_endpoint(
        endpoint: &str,
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let anonymous = || google_cloud_auth::credentials::anonymous::Builder::new().build();
        let instances = Instances::builder()
            .with_endpoint(endpoint)
            .with_credentials(anonymous())
            .build()
            .await
            .map_err(builder_error)?;
        let operations = ZoneOperations::builder()
            .with_endpoint(endpoint)
            .with_credentials(anonymous())
            .build()
            .await
            .map_err(builder_error)?;
        Self::from_clients(instances, operations, project, zones, launch)
    }

    /// A provisioner on given clients (own credentials, retry or endpoint).
    /// Launches go to the zones in turn (by instance name); lists cover
    /// every zone given.
    pub fn from_clients(
        instances: Instances,
        operations: ZoneOperations,
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let project = project.into();
        if project.is_empty() || project.contains('/') {
            return Err(Error::invalid_argument(
                "project",
                format!("{project:?} is not a project id"),
            ));
        }
        if zones.is_empty() || !zones.iter().all(|z| ids::is_rfc1035(z)) {
            return Err(Error::invalid_argument(
                "zones",
                format!("{zones:?}: one or more zone names"),
            ));
        }
        if launch.user_data_key.is_empty()
            || launch.user_data_key == TAGS_METADATA_KEY
            || launch.user_data_key == LAUNCH_METADATA_KEY
        {
            return Err(Error::invalid_argument(
                "user_data_key",
                "empty or reserved",
            ));
        }
        Ok(Self {
            instances,
            operations,
            project,
            zones,
            launch,
            owner: OwnerId::default(),
            recent: RecentLaunches::new(Duration::from_secs(60)),
            deleting: Mutex::new(Expiring::new(INSERT_FOLLOW_UP)),
            inserts: Mutex::new(Expiring::new(INSERT_FOLLOW_UP)),
            starts: Mutex::new(Expiring::new(INSERT_FOLLOW_UP)),
            page_size: 500,
            deadlines: Deadlines::default(),
        })
    }

    /// How long one request may take (default [`Deadlines::default`]). The
    /// Compute Engine client does not retry, so each request of a call has
    /// `attempt`; a call makes at most three (describe: the instance and the
    /// operations it follows). A request past it fails as `Unavailable`; a
    /// launch retried after that inserts the same name (with a key), so it
    /// never creates a second instance.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Labels every instance this provisioner inserts as `owner`'s (label
    /// [`OWNER_TAG`](provisioner_core::OWNER_TAG)) instead of
    /// [`OwnerId::DEFAULT`]. Give each fleet sharing a project its own.
    pub fn with_owner(mut self, owner: OwnerId) -> Self {
        self.owner = owner;
        self
    }

    /// Lists with `maxResults` of `size` (1 to 500; default 500).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, 500);
        self
    }

    /// How long after launching an instance this provisioner treats Compute
    /// Engine's "not found" for it as eventual consistency (default 60 s).
    pub fn with_consistency_window(mut self, window: Duration) -> Self {
        self.recent = RecentLaunches::new(window);
        self
    }
}

fn builder_error(e: google_cloud_gax::client_builder::Error) -> Error {
    Error::Unauthenticated {
        message: format!("cannot build the Compute Engine client: {e}"),
        context: None,
    }
}
