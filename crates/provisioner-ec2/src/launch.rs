//! EC2-specific launch settings, given once at construction.

/// The IAM instance profile to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum IamInstanceProfile {
    /// By ARN.
    Arn(String),
    /// By name.
    Name(String),
}

/// Settings every launch of one [`Ec2Provisioner`](crate::Ec2Provisioner)
/// shares: where instances go and what they may do. Nothing here is secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Ec2LaunchConfig {
    /// The subnet (and so VPC and availability zone); the account's default
    /// subnet when `None`.
    pub subnet_id: Option<String>,
    /// Security groups by id; the VPC's default group when empty.
    pub security_group_ids: Vec<String>,
    /// The key pair for SSH, if any.
    pub key_name: Option<String>,
    /// The IAM instance profile, if any.
    pub iam_instance_profile: Option<IamInstanceProfile>,
    /// Whether the instance gets a public address; the subnet's setting when
    /// `None`.
    pub associate_public_ip: Option<bool>,
}

impl Ec2LaunchConfig {
    /// Sets the subnet.
    pub fn with_subnet(mut self, subnet_id: impl Into<String>) -> Self {
        self.subnet_id = Some(subnet_id.into());
        self
    }

    /// Adds a security group.
    pub fn with_security_group(mut self, group_id: impl Into<String>) -> Self {
        self.security_group_ids.push(group_id.into());
        self
    }

    /// Sets the key pair.
    pub fn with_key_name(mut self, key_name: impl Into<String>) -> Self {
        self.key_name = Some(key_name.into());
        self
    }

    /// Sets the IAM instance profile.
    pub fn with_iam_instance_profile(mut self, profile: IamInstanceProfile) -> Self {
        self.iam_instance_profile = Some(profile);
        self
    }

    /// Asks for (or refuses) a public address.
    pub fn with_public_ip(mut self, associate: bool) -> Self {
        self.associate_public_ip = Some(associate);
        self
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn launch_settings_read_from_a_config_file() {
        let settings = Ec2LaunchConfig::default()
            .with_subnet("subnet-1")
            .with_iam_instance_profile(IamInstanceProfile::Name("fleet".into()));
        let json = serde_json::to_string(&settings).unwrap();
        let back: Ec2LaunchConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, settings);
        // What a file leaves out takes the default.
        let sparse: Ec2LaunchConfig = serde_json::from_str(r#"{"subnet_id": "subnet-1"}"#).unwrap();
        let _ = sparse;
    }
}
