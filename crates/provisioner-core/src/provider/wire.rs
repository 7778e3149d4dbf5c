//! The contract written once: a provider speaks its cloud through [`Wire`]
//! (a handful of calls, each only its cloud's), and every type that does is
//! an [`InstanceProvisioner`] by the one implementation here, which holds
//! every rule the providers share.
//!
//! The rules, in the order a call meets them:
//!
//! - every call runs in [`in_operation`], so each error names the provider
//!   and the operation;
//! - inputs are checked before any call: the launch config against the
//!   provider's [`ConfigRules`], an instance id by
//!   [`check_instance_id`](validate::check_instance_id) and then the
//!   provider's own form ([`Wire::check_id`]), a filter's tags against its
//!   tag rules (clause c);
//! - a launch is remembered in the provider's [`RecentLaunches`], so that a
//!   cloud whose reads lag behind its writes never makes a running
//!   instance look terminated: describe says `Pending`, stop and start wait
//!   for it to be seen, terminate waits before it takes "not found" as done
//!   (clauses d and e);
//! - an id the cloud does not know describes as what the provider's own
//!   records say of it ([`Wire::vanished`]: a launch that failed after
//!   acceptance, a reclaim), else `Terminated` (clause d);
//! - a start whose answer does not carry the instance is followed by a
//!   read of it, so that the addresses returned are the cloud's now
//!   (clause f);
//! - a batch read or terminate checks each id on its own (a malformed one
//!   fails alone), sends each valid id once, and answers in the order
//!   asked; an id the batch terminate did not find that is a recent launch
//!   is terminated on its own once the cloud sees it.
//!
//! `object_store` keeps each cloud's requests in its own `client.rs` behind
//! shared traits; this is the same split for the instance contract.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::batch::{each, unique_valid};
use super::consistency::RecentLaunches;
use super::in_operation;
use super::validate::{self, ConfigRules};
use crate::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus, Operation, Orphan, Result,
};

/// One cloud's calls, each speaking only its cloud; the contract's shared
/// rules are the [`InstanceProvisioner`] every `Wire` gets (see the
/// [module](self)).
///
/// Inputs reach these methods checked, and an error they return is named
/// after the provider and operation on its way out: a method maps the
/// cloud's answer and nothing more.
#[async_trait]
pub trait Wire: Send + Sync {
    /// The provider's short name (`"ec2"`, `"fake"`), its
    /// [`InstanceProvisioner::name`].
    fn provider(&self) -> &'static str;

    /// The input rules of this cloud, checked before any call.
    fn rules(&self) -> &ConfigRules;

    /// The launches this provider made lately.
    fn recent(&self) -> &RecentLaunches;

    /// Checks that `id` has this cloud's form of an instance id (the common
    /// checks have passed). Malformed is [`Error::InvalidArgument`] naming
    /// `instance_id`.
    fn check_id(&self, id: &str) -> Result<()>;

    /// Sends the launch of a checked `config`; what the cloud said of the
    /// new instance.
    async fn launch(&self, config: &InstanceConfig) -> Result<InstanceInfo>;

    /// Sends the terminate of `id`. An id the cloud does not know is
    /// [`Error::NotFound`] (the shared rules decide what that means).
    async fn terminate(&self, id: &str) -> Result<()>;

    /// Sends the stop of `id` (unknown: [`Error::NotFound`]).
    async fn stop(&self, id: &str) -> Result<()>;

    /// Sends the start of `id` (unknown: [`Error::NotFound`]); the instance
    /// with the addresses it holds now when the cloud's answer says them,
    /// else `None`, and [`info`](Self::info) reads them.
    async fn start(&self, id: &str) -> Result<Option<InstanceInfo>>;

    /// The status of `id` as the cloud says now; `None` when it does not
    /// know the id.
    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>>;

    /// The instance `id` as the cloud says now, with its addresses; `None`
    /// when it does not know the id.
    async fn info(&self, id: &str) -> Result<Option<InstanceInfo>>;

    /// What the provider's own records say of an id the cloud does not know
    /// (a launch that failed after acceptance and vanished, a reclaimed
    /// spot instance deleted by its cloud); `None` when they say nothing,
    /// and the id is then terminated. The default has no records.
    async fn vanished(&self, id: &str) -> Option<InstanceStatus> {
        let _ = id;
        None
    }

    /// Every instance that `filter` (its tags checked) admits, across all
    /// the cloud's pages.
    async fn list(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>>;

    /// True when the cloud reads and terminates many ids in one request
    /// ([`statuses`](Self::statuses), [`terminate_many`](Self::terminate_many));
    /// false (the default): the batch methods go one id at a time,
    /// [`BATCH_CONCURRENCY`](super::batch::BATCH_CONCURRENCY) at once.
    const BATCHES: bool = false;

    /// The statuses of several checked, distinct ids, in as few requests
    /// as the cloud allows: those the cloud knows, by id. An error fails
    /// the whole batch. The default reads them one by one (only used when
    /// [`BATCHES`](Self::BATCHES) says so).
    async fn statuses(&self, ids: &[&str]) -> Result<HashMap<String, InstanceStatus>> {
        let mut known = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(status) = self.status(id).await? {
                known.insert((*id).to_owned(), status);
            }
        }
        Ok(known)
    }

    /// Sends the terminate of several checked, distinct ids, in as few
    /// requests as the cloud allows; the ids the cloud did not know. An
    /// error fails the whole batch. The default terminates them one by one
    /// (only used when [`BATCHES`](Self::BATCHES) says so).
    async fn terminate_many(&self, ids: &[&str]) -> Result<Vec<String>> {
        let mut unknown = Vec::new();
        for id in ids {
            match self.terminate(id).await {
                Ok(()) => {}
                Err(Error::NotFound { .. }) => unknown.push((*id).to_owned()),
                Err(e) => return Err(e),
            }
        }
        Ok(unknown)
    }

    /// As [`InstanceProvisioner::list_orphans`]; the default lists none.
    async fn orphans(&self) -> Result<Vec<Orphan>> {
        Ok(Vec::new())
    }

    /// As [`InstanceProvisioner::delete_orphan`]; the default refuses every
    /// orphan as [`Error::InvalidArgument`] naming `orphan`.
    async fn delete_orphan(&self, orphan: &Orphan) -> Result<()> {
        Err(Error::invalid_argument(
            "orphan",
            format!(
                "{} lists no orphans: {} is not one",
                self.provider(),
                orphan.id
            ),
        ))
    }
}

/// Both checks of an instance id: the common one, then the cloud's form.
fn check_id<W: Wire + ?Sized>(wire: &W, id: &str) -> Result<()> {
    validate::check_instance_id(id)?;
    wire.check_id(id)
}

/// A status the provider gave: one that says the instance is terminated
/// (the cloud's own word, or the provider's records of a failed launch or
/// a reclaim) ends the wait for a recent launch to become visible.
fn seen<W: Wire + ?Sized>(wire: &W, status: InstanceStatus) -> InstanceStatus {
    if status.state == CloudInstanceState::Terminated {
        wire.recent().forget(&status.instance_id);
    }
    status
}

/// The status of `id`, which the cloud does not know: the provider's
/// records, a launch still becoming visible, or gone.
async fn unseen<W: Wire + ?Sized>(wire: &W, id: &str) -> InstanceStatus {
    if let Some(status) = wire.vanished(id).await {
        // Gone for good: from now on "not found" means just that.
        wire.recent().forget(id);
        return status;
    }
    if wire.recent().contains(id) {
        return InstanceStatus::new(id, CloudInstanceState::Pending)
            .with_state_reason("launched; not yet visible to the cloud's reads".to_owned());
    }
    InstanceStatus::gone(id)
}

#[async_trait]
impl<W: Wire> InstanceProvisioner for W {
    fn name(&self) -> &'static str {
        self.provider()
    }

    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        in_operation(self.provider(), Operation::Launch, async {
            validate::check_config(config, self.rules())?;
            let info = self.launch(config).await?;
            self.recent().record(&info.instance_id);
            Ok(info)
        })
        .await
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        in_operation(self.provider(), Operation::Terminate, async {
            check_id(self, instance_id)?;
            self.recent()
                .terminate(instance_id, || self.terminate(instance_id))
                .await
        })
        .await
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        in_operation(self.provider(), Operation::Stop, async {
            check_id(self, instance_id)?;
            self.recent()
                .retry_while_unseen(instance_id, || self.stop(instance_id))
                .await
        })
        .await
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        in_operation(self.provider(), Operation::Start, async {
            check_id(self, instance_id)?;
            let started = self
                .recent()
                .retry_while_unseen(instance_id, || self.start(instance_id))
                .await?;
            if let Some(info) = started {
                return Ok(info);
            }
            // The start answered with states at most: read the addresses
            // the cloud holds now, never what the caller had.
            self.info(instance_id)
                .await?
                .ok_or_else(|| Error::NotFound {
                    instance_id: instance_id.to_owned(),
                    context: None,
                })
        })
        .await
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        in_operation(self.provider(), Operation::Describe, async {
            check_id(self, instance_id)?;
            match self.status(instance_id).await? {
                Some(status) => Ok(seen(self, status)),
                None => Ok(unseen(self, instance_id).await),
            }
        })
        .await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        in_operation(self.provider(), Operation::List, async {
            validate::check_filter_tags(&filter.tags, &self.rules().tags)?;
            self.list(filter).await
        })
        .await
    }

    async fn describe_instances(
        &self,
        instance_ids: &[&str],
    ) -> Result<Vec<Result<InstanceStatus>>> {
        if !W::BATCHES {
            let calls = instance_ids.iter().map(|id| self.describe_instance(id));
            return Ok(each(calls.collect()).await);
        }
        in_operation(self.provider(), Operation::Describe, async {
            let valid = unique_valid(instance_ids, |id| check_id(self, id));
            let mut known = self.statuses(&valid).await?;
            let mut answers = Vec::with_capacity(instance_ids.len());
            for id in instance_ids {
                answers.push(match check_id(self, id) {
                    Err(e) => Err(e),
                    // A repeated id gets the same answer again.
                    Ok(()) => Ok(match known.get(*id) {
                        Some(status) => seen(self, status.clone()),
                        None => {
                            let status = unseen(self, id).await;
                            known.insert((*id).to_owned(), status.clone());
                            status
                        }
                    }),
                });
            }
            Ok(answers)
        })
        .await
    }

    async fn terminate_instances(&self, instance_ids: &[&str]) -> Result<Vec<Result<()>>> {
        if !W::BATCHES {
            let calls = instance_ids.iter().map(|id| self.terminate_instance(id));
            return Ok(each(calls.collect()).await);
        }
        in_operation(self.provider(), Operation::Terminate, async {
            let valid = unique_valid(instance_ids, |id| check_id(self, id));
            let unseen = self.terminate_many(&valid).await?;
            let unknown: HashSet<&str> = unseen.iter().map(String::as_str).collect();
            for id in valid.iter().filter(|id| !unknown.contains(*id)) {
                self.recent().forget(id);
            }
            // A launch too recent for the cloud to see waits on its own;
            // any other unknown id is done.
            let mut late = HashMap::new();
            for id in unseen.iter().filter(|id| self.recent().contains(id)) {
                late.insert(id.clone(), self.terminate_instance(id).await);
            }
            Ok(instance_ids
                .iter()
                .map(|id| {
                    check_id(self, id)?;
                    match late.get(*id) {
                        Some(Err(e)) => Err(e.clone()),
                        _ => Ok(()),
                    }
                })
                .collect())
        })
        .await
    }

    async fn list_orphans(&self) -> Result<Vec<Orphan>> {
        in_operation(self.provider(), Operation::List, self.orphans()).await
    }

    async fn delete_orphan(&self, orphan: &Orphan) -> Result<()> {
        in_operation(
            self.provider(),
            Operation::Terminate,
            Wire::delete_orphan(self, orphan),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    /// A cloud whose reads never see anything (the worst lag), which knows
    /// one vanished launch, and whose start answers with states only.
    struct Lagging {
        recent: RecentLaunches,
        reads: AtomicU32,
    }

    #[async_trait]
    impl Wire for Lagging {
        fn provider(&self) -> &'static str {
            "lagging"
        }
        fn rules(&self) -> &ConfigRules {
            &ConfigRules::BASE
        }
        fn recent(&self) -> &RecentLaunches {
            &self.recent
        }
        fn check_id(&self, id: &str) -> Result<()> {
            match id.starts_with("i-") {
                true => Ok(()),
                false => Err(Error::invalid_argument("instance_id", "not i-…")),
            }
        }
        async fn launch(&self, _: &InstanceConfig) -> Result<InstanceInfo> {
            Ok(InstanceInfo::new("i-new", CloudInstanceState::Pending))
        }
        async fn terminate(&self, id: &str) -> Result<()> {
            Err(Error::NotFound {
                instance_id: id.to_owned(),
                context: None,
            })
        }
        async fn stop(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn start(&self, _: &str) -> Result<Option<InstanceInfo>> {
            Ok(None)
        }
        async fn status(&self, _: &str) -> Result<Option<InstanceStatus>> {
            Ok(None)
        }
        async fn info(&self, id: &str) -> Result<Option<InstanceInfo>> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            Ok(Some(InstanceInfo::new(id, CloudInstanceState::Running)))
        }
        async fn vanished(&self, id: &str) -> Option<InstanceStatus> {
            (id == "i-failed")
                .then(|| InstanceStatus::gone(id).with_state_reason("failed".to_owned()))
        }
        async fn list(&self, _: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
            Ok(Vec::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_shared_rules_hold_for_any_wire() {
        let p = Lagging {
            recent: RecentLaunches::new(Duration::from_secs(30)),
            reads: AtomicU32::new(0),
        };
        // Checked before any call, named after the provider and operation.
        let bad = p.describe_instance("vm-1").await.unwrap_err();
        assert_eq!(bad.invalid_field(), Some("instance_id"));
        assert_eq!(bad.context().map(|c| c.provider), Some("lagging"));
        let bad = p.launch_instance(&InstanceConfig::new("", "t")).await;
        assert_eq!(bad.unwrap_err().invalid_field(), Some("image"));

        // A launch the cloud cannot see yet is pending, not terminated.
        let id = p
            .launch_instance(&InstanceConfig::new("img", "t"))
            .await
            .unwrap()
            .instance_id;
        let status = p.describe_instance(&id).await.unwrap();
        assert_eq!(status.state, CloudInstanceState::Pending);
        // The provider's records speak for an id the cloud forgot; else gone.
        let failed = p.describe_instance("i-failed").await.unwrap();
        assert_eq!(failed.state_reason.as_deref(), Some("failed"));
        let gone = p.describe_instance("i-other").await.unwrap();
        assert_eq!(gone.state, CloudInstanceState::Terminated);

        // A start answered with states only is followed by a read.
        let started = p.start_instance("i-other").await.unwrap();
        assert_eq!(started.state, CloudInstanceState::Running);
        assert_eq!(p.reads.load(Ordering::Relaxed), 1);

        // Terminate of an unknown id succeeds; of the recent launch too,
        // once its window has passed, and it is forgotten.
        p.terminate_instance("i-other").await.unwrap();
        p.terminate_instance(&id).await.unwrap();
        assert!(!p.recent().contains(&id));
    }
}
