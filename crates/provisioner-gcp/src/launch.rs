//! Compute Engine launch settings, given once at construction.

/// The service account instances run as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceAccount {
    /// Its email.
    pub email: String,
    /// OAuth scopes, such as `https://www.googleapis.com/auth/cloud-platform`.
    pub scopes: Vec<String>,
}

/// Settings every launch of one [`GcpProvisioner`](crate::GcpProvisioner)
/// shares. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct GcpLaunchConfig {
    /// The VPC network (URL or `global/networks/NAME`); the project's
    /// `default` network when `None`.
    pub network: Option<String>,
    /// The subnetwork (URL or `regions/REGION/subnetworks/NAME`).
    pub subnetwork: Option<String>,
    /// The service account, if any.
    pub service_account: Option<ServiceAccount>,
    /// Whether instances get an external address (a one-to-one NAT access
    /// config). Default: true.
    pub external_ip: bool,
    /// The metadata key user data goes under: `user-data` (what cloud-init
    /// reads) by default; `startup-script` for a plain script.
    pub user_data_key: String,
}

impl Default for GcpLaunchConfig {
    fn default() -> Self {
        Self {
            network: None,
            subnetwork: None,
            service_account: None,
            external_ip: true,
            user_data_key: "user-data".to_owned(),
        }
    }
}

impl GcpLaunchConfig {
    /// Sets the network.
    pub fn with_network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    /// Sets the subnetwork.
    pub fn with_subnetwork(mut self, subnetwork: impl Into<String>) -> Self {
        self.subnetwork = Some(subnetwork.into());
        self
    }

    /// Sets the service account.
    pub fn with_service_account(mut self, email: impl Into<String>, scopes: Vec<String>) -> Self {
        self.service_account = Some(ServiceAccount {
            email: email.into(),
            scopes,
        });
        self
    }

    /// Asks for an external address, or not.
    pub fn with_external_ip(mut self, external: bool) -> Self {
        self.external_ip = external;
        self
    }

    /// Puts user data under another metadata key.
    pub fn with_user_data_key(mut self, key: impl Into<String>) -> Self {
        self.user_data_key = key.into();
        self
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn launch_settings_read_from_a_config_file() {
        let settings = GcpLaunchConfig::default()
            .with_subnetwork("regions/r/subnetworks/s")
            .with_external_ip(false);
        let json = serde_json::to_string(&settings).unwrap();
        let back: GcpLaunchConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, settings);
        // What a file leaves out takes the default.
        let sparse: GcpLaunchConfig = serde_json::from_str(r#"{"external_ip": false}"#).unwrap();
        let _ = sparse;
    }
}
