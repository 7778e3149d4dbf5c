//! Azure launch settings, given once at construction.

use std::fmt;

/// Settings every launch of one [`AzureProvisioner`](crate::AzureProvisioner)
/// shares. The SSH public key is not secret, but `Debug` shortens it.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AzureLaunchConfig {
    /// The subnet the VM's network interface joins (a resource id).
    pub subnet_id: String,
    /// The administrator account.
    pub admin_username: String,
    /// The administrator's SSH public key (password login is disabled).
    pub ssh_public_key: String,
    /// Whether the VM gets a public address (created with it, deleted with it).
    #[cfg_attr(feature = "serde", serde(default))]
    pub public_ip: bool,
    /// A network security group for the interface (a resource id), if any.
    #[cfg_attr(feature = "serde", serde(default))]
    pub network_security_group_id: Option<String>,
}

impl AzureLaunchConfig {
    /// Settings with the required parts; no public address, no NSG.
    pub fn new(
        subnet_id: impl Into<String>,
        admin_username: impl Into<String>,
        ssh_public_key: impl Into<String>,
    ) -> Self {
        Self {
            subnet_id: subnet_id.into(),
            admin_username: admin_username.into(),
            ssh_public_key: ssh_public_key.into(),
            public_ip: false,
            network_security_group_id: None,
        }
    }

    /// Asks for a public address, or not.
    pub fn with_public_ip(mut self, public_ip: bool) -> Self {
        self.public_ip = public_ip;
        self
    }

    /// Sets the network security group.
    pub fn with_network_security_group(mut self, id: impl Into<String>) -> Self {
        self.network_security_group_id = Some(id.into());
        self
    }
}

impl fmt::Debug for AzureLaunchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key: String = self.ssh_public_key.chars().take(16).collect();
        f.debug_struct("AzureLaunchConfig")
            .field("subnet_id", &self.subnet_id)
            .field("admin_username", &self.admin_username)
            .field("ssh_public_key", &format_args!("{key}…"))
            .field("public_ip", &self.public_ip)
            .field("network_security_group_id", &self.network_security_group_id)
            .finish()
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn launch_settings_read_from_a_config_file() {
        let settings =
            AzureLaunchConfig::new("/subscriptions/s/x", "fleet", "ssh-ed25519 AAAA fleet")
                .with_public_ip(true);
        let json = serde_json::to_string(&settings).unwrap();
        let back: AzureLaunchConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, settings);
        // What a file leaves out takes the default.
        let sparse: AzureLaunchConfig = serde_json::from_str(r#"{"subnet_id": "/s", "admin_username": "fleet", "ssh_public_key": "ssh-ed25519 AAAA"}"#).unwrap();
        let _ = sparse;
    }
}
