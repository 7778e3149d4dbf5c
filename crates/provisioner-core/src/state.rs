//! [`CloudInstanceState`]: the provider-neutral lifecycle states.

use std::fmt;
use std::str::FromStr;

/// The state of an instance as the cloud reports it, normalised to a minimal,
/// provider-neutral set.
///
/// Each provisioner maps its native states into these in one table (EC2
/// `shutting-down` becomes [`Terminating`](Self::Terminating), Compute Engine
/// `STAGING` becomes [`Pending`](Self::Pending), and so on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum CloudInstanceState {
    /// The instance is launching or booting.
    Pending,
    /// The instance is running and reachable.
    Running,
    /// The instance is shutting down but is not being destroyed.
    Stopping,
    /// The instance is stopped and can be started again; its storage is kept.
    Stopped,
    /// The instance is being destroyed.
    Terminating,
    /// The instance has been destroyed and no longer exists.
    Terminated,
}

impl CloudInstanceState {
    /// Every state, in a stable order (the lifecycle order). Useful for
    /// exhaustiveness checks in tests and for state machine validation.
    pub const ALL: [CloudInstanceState; 6] = [
        Self::Pending,
        Self::Running,
        Self::Stopping,
        Self::Stopped,
        Self::Terminating,
        Self::Terminated,
    ];

    /// The lowercase name: `"pending"`, `"running"`, `"stopping"`,
    /// `"stopped"`, `"terminating"` or `"terminated"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Terminating => "terminating",
            Self::Terminated => "terminated",
        }
    }

    /// True for [`Terminating`](Self::Terminating) and
    /// [`Terminated`](Self::Terminated): the instance is gone or going, and
    /// will never run again.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Terminating | Self::Terminated)
    }
}

impl fmt::Display for CloudInstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`CloudInstanceState`] from a string that is not
/// one of the six lowercase names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown instance state {0:?}; expected one of pending, running, stopping, stopped, terminating, terminated")]
pub struct ParseStateError(String);

impl FromStr for CloudInstanceState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseStateError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_stable_order() {
        let names: Vec<&str> = CloudInstanceState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "pending",
                "running",
                "stopping",
                "stopped",
                "terminating",
                "terminated"
            ]
        );
        for state in CloudInstanceState::ALL {
            assert_eq!(state.to_string().parse::<CloudInstanceState>(), Ok(state));
        }
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = "Running".parse::<CloudInstanceState>().unwrap_err();
        assert!(err.to_string().contains("\"Running\""));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_uses_the_lowercase_names() {
        let json = serde_json::to_string(&CloudInstanceState::Terminating).unwrap();
        assert_eq!(json, "\"terminating\"");
        let back: CloudInstanceState = serde_json::from_str("\"stopped\"").unwrap();
        assert_eq!(back, CloudInstanceState::Stopped);
    }
}
