//! [`Operation`]: the six calls of the trait, by name.

use std::fmt;

/// The six operations of [`InstanceProvisioner`](crate::InstanceProvisioner),
/// as layers label them and the fake's faults and call log count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Launch one instance.
    Launch,
    /// Terminate.
    Terminate,
    /// Stop.
    Stop,
    /// Start.
    Start,
    /// Describe one instance.
    Describe,
    /// List one page.
    List,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 6] = [
        Self::Launch,
        Self::Terminate,
        Self::Stop,
        Self::Start,
        Self::Describe,
        Self::List,
    ];

    /// The position in [`ALL`](Self::ALL), for per-operation tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "launch",
            Self::Terminate => "terminate",
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Describe => "describe",
            Self::List => "list",
        }
    }
}

impl std::str::FromStr for Operation {
    type Err = String;

    /// Parses the lowercase name ([`as_str`](Self::as_str)).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str() == name)
            .ok_or_else(|| format!("unknown operation {name:?}"))
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
