//! The contract suite: one `pub async fn` per rule of the
//! [`InstanceProvisioner`] contract, run on every implementation.
//!
//! A provider's tests build a [`ContractSubject`] (the provisioner, a launch
//! config valid for that provider, a well-formed id that does not exist and a
//! malformed one) and either call the cases one by one, expand
//! [`contract_tests!`](crate::contract_tests) into one `#[tokio::test]` per
//! case, or call [`run_all`] for a report (what `cargo xtask contract` prints).
//!
//! Every case tags what it launches with `contract-run=<run id>` (a fresh id
//! per case run) and terminates all of it at the end, also when the case
//! fails or panics. Cases wait for eventual states by polling with backoff
//! under the subject's [`Timing`] deadline: milliseconds against an emulator,
//! minutes against a real cloud.
//!
//! ```
//! # async fn demo(subject: provisioner_core::contract::ContractSubject) {
//! use provisioner_core::contract::{run_all, Outcome};
//! let report = run_all(&subject).await;
//! for case in &report.cases {
//!     println!("{:<40} {}", case.case.name(), case.outcome);
//! }
//! assert_eq!(report.count_failed(), 0);
//! # }
//! ```

mod cases;
mod inputs;
mod run;

pub use inputs::{bad_configs, bad_filters, bad_ids, check_bad_inputs, BadConfig};

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use crate::{InstanceConfig, InstanceProvisioner, LaunchFailureKind, Tags};
use run::Run;

/// Failures the suite injects into the cloud a subject runs against (an
/// emulator or an in-memory fake; never a real cloud). Each implementation
/// makes the failure the way its cloud has it: Compute Engine reports a
/// stock-out in the insert operation after accepting it, Azure a quota at
/// once, and so on.
#[async_trait::async_trait]
pub trait FaultInjector: Send + Sync {
    /// The next launch fails for `kind`: accepted and failed afterwards where
    /// the cloud does it that way, refused at once where it does not.
    async fn fail_next_launch(&self, kind: LaunchFailureKind);
    /// The next `count` describe calls are throttled, the cloud asking to
    /// wait `retry_after` where it sends a Retry-After.
    async fn throttle_describes(&self, count: u32, retry_after: Duration);
    /// Forgets every planned failure.
    async fn clear(&self);
    /// The cloud reclaims the spot instance `instance_id` now, with its own
    /// signs of it; false where the injector cannot.
    async fn reclaim(&self, instance_id: &str) -> bool {
        let _ = instance_id;
        false
    }
    /// Whether [`fail_next_start`](Self::fail_next_start) works here;
    /// clause p is skipped with the reason otherwise.
    fn start_failures(&self) -> Support {
        Support::No("the fault injector cannot fail a start".into())
    }
    /// The next start cannot be placed, for `kind`: refused at once where
    /// the cloud does it that way (EC2's StartInstances), accepted and
    /// failed afterwards where it does not.
    async fn fail_next_start(&self, kind: LaunchFailureKind) {
        let _ = kind;
    }
    /// Whether [`plant_failed_launch`](Self::plant_failed_launch) and
    /// [`deletions`](Self::deletions) work here; clause o's case on
    /// another party's instances is skipped with the reason otherwise.
    fn planting(&self) -> Support {
        Support::No("the fault injector cannot plant another party's instances".into())
    }
    /// Creates an instance as another party would (not through the
    /// provisioner under test), carrying exactly `tags` (an ownership marker
    /// among them when the case plants another owner's instance), whose
    /// create the cloud accepted and then failed for capacity. It is placed
    /// beside the subject's instance `beside` (the same project and zone,
    /// or resource group), where the subject's list looks. Its id as the
    /// provider names it; `None` where the injector cannot.
    async fn plant_failed_launch(&self, tags: &Tags, beside: &str) -> Option<String> {
        let _ = (tags, beside);
        None
    }
    /// How many delete requests the cloud received for `instance_id`;
    /// `None` where the injector cannot tell.
    async fn deletions(&self, instance_id: &str) -> Option<u64> {
        let _ = instance_id;
        None
    }
    /// How many requests the cloud has received so far, of any kind; `None`
    /// where the injector cannot count them (a real cloud).
    async fn requests(&self) -> Option<u64> {
        None
    }
}

/// The tag key every case puts on the instances it launches.
pub const RUN_TAG: &str = "contract-run";

/// Whether a provider (or the emulator it runs against) supports an optional
/// behaviour. Unsupported cases are reported as skipped, with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Support {
    /// Supported: the cases that need it run.
    #[default]
    Yes,
    /// Not supported, for this reason (printed in the report).
    No(Cow<'static, str>),
}

impl Support {
    /// Why not, when not supported.
    fn reason(&self) -> Option<String> {
        match self {
            Self::Yes => None,
            Self::No(reason) => Some(reason.to_string()),
        }
    }
}

/// The behaviours where providers (or their test doubles) legitimately differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Two launches with one idempotency key create one instance (clause b).
    pub idempotent_launch: Support,
    /// Stop and start of a terminated instance are refused (clause g). Real
    /// clouds refuse them; some emulators (moto) accept them silently.
    pub refuses_terminated_changes: Support,
    /// The cloud sends Retry-After with throttling errors (clause l). EC2
    /// does not: there `Throttled::retry_after` stays `None`.
    pub sends_retry_after: Support,
    /// The provider launches spot capacity and reports reclaims (clause m).
    /// Not by default: a subject says so.
    pub spot: Support,
    /// Every launch carries the provider's ownership marker and reads
    /// report it as `owner` (clause o). Every provider of this workspace
    /// does; the field lets a provider in the making say it does not yet.
    pub marks_ownership: Support,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            idempotent_launch: Support::Yes,
            refuses_terminated_changes: Support::Yes,
            sends_retry_after: Support::Yes,
            spot: Support::No("the subject does not declare spot capacity".into()),
            marks_ownership: Support::Yes,
        }
    }
}

/// How long cases wait for eventual states, and how often they look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The longest wait for one expected state.
    pub deadline: Duration,
    /// The first pause between two polls; it doubles up to `max_poll`.
    pub first_poll: Duration,
    /// The longest pause between two polls.
    pub max_poll: Duration,
}

impl Timing {
    /// For in-memory fakes and local emulators: states settle in milliseconds.
    pub const fn emulator() -> Self {
        Self {
            deadline: Duration::from_secs(20),
            first_poll: Duration::from_millis(5),
            max_poll: Duration::from_millis(250),
        }
    }

    /// For real clouds: boots and stops take minutes.
    pub const fn cloud() -> Self {
        Self {
            deadline: Duration::from_secs(15 * 60),
            first_poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(20),
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::emulator()
    }
}

/// What the suite runs against: a provisioner and what the cases need to
/// know about its provider.
#[derive(Clone)]
pub struct ContractSubject {
    /// The implementation under test.
    pub provisioner: Arc<dyn InstanceProvisioner>,
    /// A launch config that is valid for this provider (a real image and
    /// type on a real cloud). Cases add their own tags to it.
    pub base_config: InstanceConfig,
    /// An id in the provider's format that names no instance.
    pub unknown_id: String,
    /// An id the provider must reject as malformed (for example one that
    /// would smuggle a path segment into a URL).
    pub malformed_id: String,
    /// Optional behaviours.
    pub capabilities: Capabilities,
    /// Polling deadline and backoff.
    pub timing: Timing,
    /// How to inject failures; `None` (a real cloud) skips the cases that
    /// need them.
    pub faults: Option<Arc<dyn FaultInjector>>,
    /// A page size of at most 2 on the provisioner makes the listing cases
    /// cross pages; set this true to say the factory did so (informational).
    pub small_pages: bool,
    /// A second instance type valid for this provider, for the fallback
    /// case (clause n); `None` skips it.
    pub second_instance_type: Option<String>,
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
}

impl ContractSubject {
    /// A subject with default capabilities and emulator timing.
    pub fn new(
        provisioner: Arc<dyn InstanceProvisioner>,
        base_config: InstanceConfig,
        unknown_id: impl Into<String>,
        malformed_id: impl Into<String>,
    ) -> Self {
        Self {
            provisioner,
            base_config,
            unknown_id: unknown_id.into(),
            malformed_id: malformed_id.into(),
            capabilities: Capabilities::default(),
            timing: Timing::default(),
            faults: None,
            small_pages: false,
            second_instance_type: None,
            keep_alive: None,
        }
    }

    /// Gives the fallback case a second instance type to move on to.
    pub fn with_second_instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.second_instance_type = Some(instance_type.into());
        self
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the timing.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Runs the suite through layers: the provisioner becomes what `wrap`
    /// makes of it (for example a stack of [`layers`](crate::layers)).
    pub fn wrapped(
        mut self,
        wrap: impl FnOnce(Arc<dyn InstanceProvisioner>) -> Arc<dyn InstanceProvisioner>,
    ) -> Self {
        self.provisioner = wrap(self.provisioner);
        self
    }

    /// Lets the cases that need failures inject them with `faults`.
    pub fn with_faults(mut self, faults: Arc<dyn FaultInjector>) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Records that the provisioner lists with pages of at most 2 instances.
    pub fn with_small_pages(mut self) -> Self {
        self.small_pages = true;
        self
    }

    /// Keeps `value` alive as long as the subject (for example an emulator
    /// server handle that stops the server when dropped).
    pub fn holding(mut self, value: impl Any + Send + Sync) -> Self {
        self.keep_alive = Some(Arc::new(value));
        self
    }

    /// Why `case` cannot run on this subject, if it cannot.
    fn unsupported(&self, case: Case) -> Option<String> {
        const NEEDS_FAULTS: &str =
            "needs fault injection (an emulator or the fake, not a real cloud)";
        let needs = match case {
            Case::LaunchIsIdempotent => &self.capabilities.idempotent_launch,
            Case::TerminatedCannotStopOrStart => &self.capabilities.refuses_terminated_changes,
            Case::KeyReusedWithOtherParametersIsRejected
            | Case::KeyReusedAfterTerminateNeverReturnsTheOldInstance => {
                &self.capabilities.idempotent_launch
            }
            Case::SpotReclaimIsSeen if self.faults.is_none() => {
                return Some(NEEDS_FAULTS.to_owned());
            }
            Case::SpotReclaimIsSeen => &self.capabilities.spot,
            Case::LaunchesCarryTheOwnershipMarker => &self.capabilities.marks_ownership,
            Case::StartWithoutCapacityKeepsTheInstance => {
                return match &self.faults {
                    None => Some(NEEDS_FAULTS.to_owned()),
                    Some(faults) => faults.start_failures().reason(),
                };
            }
            Case::OthersInstancesAreNeverDeleted => {
                return match &self.faults {
                    None => Some(NEEDS_FAULTS.to_owned()),
                    Some(faults) => faults.planting().reason(),
                };
            }
            Case::FallbackMovesOnWithoutCapacity => {
                if self.faults.is_none() {
                    return Some(NEEDS_FAULTS.to_owned());
                }
                if self.second_instance_type.is_none() {
                    return Some("the subject gives no second instance type".to_owned());
                }
                return None;
            }
            Case::AcceptedLaunchFailureIsSeen
            | Case::QuotaFailureIsSeen
            | Case::ThrottlingCarriesRetryAfterUnwaited => {
                if self.faults.is_none() {
                    return Some(NEEDS_FAULTS.to_owned());
                }
                return None;
            }
            _ => return None,
        };
        needs.reason()
    }
}

impl fmt::Debug for ContractSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractSubject")
            .field("base_config", &self.base_config)
            .field("unknown_id", &self.unknown_id)
            .field("malformed_id", &self.malformed_id)
            .field("capabilities", &self.capabilities)
            .field("timing", &self.timing)
            .field("faults", &self.faults.is_some())
            .finish_non_exhaustive()
    }
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// Not run, for this reason.
    Skipped(String),
    /// A check failed, with what was expected and what was seen.
    Failed(String),
}

impl Outcome {
    /// Panics on [`Failed`](Self::Failed), with its message; prints the
    /// reason of a skip. For use in `#[test]`s.
    #[track_caller]
    pub fn assert_passed(&self) {
        match self {
            Self::Passed => {}
            Self::Skipped(reason) => eprintln!("skipped: {reason}"),
            Self::Failed(message) => panic!("contract case failed: {message}"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passed => f.write_str("passed"),
            Self::Skipped(reason) => write!(f, "skipped ({reason})"),
            Self::Failed(message) => write!(f, "FAILED: {message}"),
        }
    }
}

/// One case's outcome and how long it took.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The case.
    pub case: Case,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time, cleanup included.
    pub duration: Duration,
}

/// The outcome of every case, in [`Case::ALL`] order.
#[derive(Debug, Clone, Default)]
pub struct ContractReport {
    /// One report per case.
    pub cases: Vec<CaseReport>,
}

impl ContractReport {
    /// How many cases passed.
    pub fn count_passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// How many cases failed.
    pub fn count_failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// How many cases were skipped.
    pub fn count_skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, pick: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pick(&c.outcome)).count()
    }
}

/// Runs every case in order on `subject`.
pub async fn run_all(subject: &ContractSubject) -> ContractReport {
    let mut report = ContractReport::default();
    for &case in Case::ALL {
        let started = Instant::now();
        let outcome = run_case(case, subject).await;
        report.cases.push(CaseReport {
            case,
            outcome,
            duration: started.elapsed(),
        });
    }
    report
}

/// Runs `body` for `case` with a fresh run, then cleans up whatever it
/// launched, whether it passed, failed or panicked.
async fn guarded<F, Fut>(subject: &ContractSubject, case: Case, body: F) -> Outcome
where
    F: FnOnce(Arc<Run>) -> Fut,
    Fut: Future<Output = run::Check>,
{
    if let Some(reason) = subject.unsupported(case) {
        return Outcome::Skipped(reason);
    }
    let run = Arc::new(Run::new(subject.clone(), case));
    let result = AssertUnwindSafe(body(Arc::clone(&run)))
        .catch_unwind()
        .await;
    run.clean_up().await;
    match result {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(failure)) => Outcome::Failed(failure.to_string()),
        Err(panic) => Outcome::Failed(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
    }
}

macro_rules! define_cases {
    ($( #[doc = $doc:literal] $variant:ident => $func:ident, clause $clause:literal; )*) => {
        /// The cases of the suite, one per rule (or group of rules) of the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Case {
            $( #[doc = $doc] $variant, )*
        }

        impl Case {
            /// Every case, in the order `run_all` runs them.
            pub const ALL: &'static [Case] = &[$(Case::$variant),*];

            /// The snake_case name, which is also the name of the case's
            /// function and of its generated test.
            pub const fn name(self) -> &'static str {
                match self { $(Case::$variant => stringify!($func),)* }
            }

            /// The contract clause it tests (`a` … `p`, see the trait docs).
            pub const fn clause(self) -> &'static str {
                match self { $(Case::$variant => $clause,)* }
            }

            /// One sentence on what the case checks.
            pub const fn summary(self) -> &'static str {
                match self { $(Case::$variant => $doc.trim_ascii(),)* }
            }
        }

        $(
            #[doc = $doc]
            pub async fn $func(subject: &ContractSubject) -> Outcome {
                guarded(subject, Case::$variant, cases::$func).await
            }
        )*

        /// Runs one case on `subject`.
        pub async fn run_case(case: Case, subject: &ContractSubject) -> Outcome {
            match case { $(Case::$variant => $func(subject).await,)* }
        }

        /// Expands into one `#[tokio::test]` per contract case, each building
        /// its own subject with `$factory().await`. The calling crate needs
        /// `tokio` (with `macros` and `rt`) among its dev-dependencies.
        ///
        /// ```ignore
        /// async fn subject() -> provisioner_core::contract::ContractSubject { /* … */ }
        /// provisioner_core::contract_tests!(subject);
        /// ```
        #[macro_export]
        macro_rules! contract_tests {
            ($factory:path) => {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $func() {
                        let subject = $factory().await;
                        $crate::contract::$func(&subject).await.assert_passed();
                    }
                )*
            };
        }
    };
}

define_cases! {
    /// Launch returns at once with a non-empty id, state pending or running, and the tags exactly as given.
    LaunchReturnsValidInfo => launch_returns_valid_info, clause "a";
    /// Two launches with one idempotency key return the same instance and create one.
    LaunchIsIdempotent => launch_is_idempotent, clause "b";
    /// An invalid config returns InvalidArgument naming the field, and creates nothing.
    InvalidConfigIsRejected => invalid_config_is_rejected, clause "c";
    /// Every input of the table of bad inputs is InvalidArgument naming its field, and none reaches the cloud.
    BadInputsNeverReachTheCloud => bad_inputs_never_reach_the_cloud, clause "c";
    /// Describe of a live instance returns its id and a state consistent with list.
    DescribeConsistentState => describe_consistent_state, clause "d";
    /// Describe of a well-formed id that does not exist returns terminated.
    DescribeUnknownIsTerminated => describe_unknown_is_terminated, clause "d";
    /// Every operation rejects a malformed id with InvalidArgument naming instance_id.
    MalformedIdIsInvalidArgument => malformed_id_is_invalid_argument, clause "d";
    /// The batch calls answer each id as the single calls do: one bad id fails only itself.
    BatchCallsAnswerEachId => batch_calls_answer_each_id, clause "d";
    /// Terminate leads to terminating, then terminated.
    TerminateMakesTerminated => terminate_makes_terminated, clause "e";
    /// A second terminate succeeds, and so does terminate of an unknown id.
    TerminateIsIdempotent => terminate_is_idempotent, clause "e";
    /// Stop leads to stopped; start returns the same id with the addresses reported now.
    StopStartLifecycle => stop_start_lifecycle, clause "f";
    /// Start of a running and stop of a stopped instance succeed.
    StopStartAreIdempotent => stop_start_are_idempotent, clause "f";
    /// Stop or start of a terminated instance is InvalidState or NotFound, naming the provider and the operation.
    TerminatedCannotStopOrStart => terminated_cannot_stop_or_start, clause "g";
    /// List returns exactly the instances carrying all the filter's tags, across pages.
    ListMatchesByTags => list_matches_by_tags, clause "h";
    /// List with tags no instance carries is empty.
    ListNonMatchingTagsIsEmpty => list_non_matching_tags_is_empty, clause "h";
    /// The states filter holds, and terminated instances appear only when asked for.
    ListFiltersStates => list_filters_states, clause "h";
    /// Concurrent launches return distinct ids, all of them listed.
    ConcurrentLaunchesAreDistinct => concurrent_launches_are_distinct, clause "i";
    /// A key reused after its instance was terminated never returns that instance.
    KeyReusedAfterTerminateNeverReturnsTheOldInstance => key_reused_after_terminate_never_returns_the_old_instance, clause "j";
    /// A key reused with other tags or user data is InvalidArgument naming idempotency_key; the first instance is unchanged.
    KeyReusedWithOtherParametersIsRejected => key_reused_with_other_parameters_is_rejected, clause "j";
    /// A launch accepted and then failed for capacity: wait_until_running says InsufficientCapacity, describe says terminated with the cloud's code, nothing stays.
    AcceptedLaunchFailureIsSeen => accepted_launch_failure_is_seen, clause "k";
    /// A launch failed for quota (at once or after acceptance) is QuotaExceeded, and nothing stays.
    QuotaFailureIsSeen => quota_failure_is_seen, clause "k";
    /// Throttling reaches the caller as Throttled with the cloud's Retry-After, without waiting it out.
    ThrottlingCarriesRetryAfterUnwaited => throttling_carries_retry_after_unwaited, clause "l";
    /// A spot instance the cloud reclaims is terminated or stopped, as its launch asked, and describe and list say it was reclaimed.
    SpotReclaimIsSeen => spot_reclaim_is_seen, clause "m";
    /// A fallback over two offerings moves to the second when the first has no capacity, and remembers the first.
    FallbackMovesOnWithoutCapacity => fallback_moves_on_without_capacity, clause "n";
    /// Launch, describe and list report the provisioner's own owner from the ownership marker, never the marker among the tags.
    LaunchesCarryTheOwnershipMarker => launches_carry_the_ownership_marker, clause "o";
    /// List and describe never delete another party's instance: one without a marker, another owner's, or one outside the filter, even when its create failed.
    OthersInstancesAreNeverDeleted => others_instances_are_never_deleted, clause "o";
    /// A start the cloud cannot place is InsufficientCapacity with the cloud's code (from start or from wait_until_running); the stopped instance stays, is never deleted, and starts once capacity is back.
    StartWithoutCapacityKeepsTheInstance => start_without_capacity_keeps_the_instance, clause "p";
}
