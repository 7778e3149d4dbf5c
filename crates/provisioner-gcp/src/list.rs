//! aggregatedList: instances by filter across the configured zones, and
//! the name filters a batch describe sends.

use google_cloud_compute_v1::model::Instance;
use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::provider::paging::PageTokens;
use provisioner_core::{Error, Result};

use crate::convert::id_of;
use crate::errors::from_gax;
use crate::tags::alternations;
use crate::GcpProvisioner;
use crate::PROVIDER;

impl GcpProvisioner {
    /// Every instance in the configured zones that `filter` admits, by id,
    /// across every page of aggregatedList. An unreachable configured zone
    /// is an error: the answer would be incomplete.
    pub(crate) async fn list_by_filter(&self, filter: &str) -> Result<Vec<(String, Instance)>> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new(PROVIDER);
        loop {
            let page = self
                .instances
                .aggregated_list()
                .set_project(&self.project)
                .set_filter(filter)
                .set_max_results(self.page_size)
                .set_or_clear_page_token(token.take())
                .with_attempt_timeout(self.deadlines.attempt)
                .send()
                .await
                .map_err(|e| from_gax(e, ""))?;
            if let Some(zone) = self.zones.iter().find(|z| {
                page.unreachables
                    .iter()
                    .any(|u| u.ends_with(&format!("zones/{z}")))
            }) {
                return Err(Error::Unavailable {
                    message: format!("zone {zone} is unreachable: the answer would be incomplete"),
                    context: None,
                });
            }
            for (scope, list) in page.items {
                let in_our_zones = self
                    .zones
                    .iter()
                    .any(|z| scope.ends_with(&format!("zones/{z}")));
                if in_our_zones {
                    found.extend(list.instances.into_iter().map(|i| (id_of(&i), i)));
                }
            }
            match pages.next(page.next_page_token.as_deref())? {
                Some(next) => token = Some(next),
                None => return Ok(found),
            }
        }
    }
}

/// The longest `name eq` filter one aggregatedList carries, counted as it
/// travels (each `|` percent-encoded as `%7C`). Compute Engine documents no
/// limit on the filter, but Google's front ends refuse a GET whose URL
/// passes 8,192 characters (googleapis/google-api-nodejs-client issue 972);
/// 7,500 leaves room for the path and the other parameters (about 250
/// names of 26 characters a filter).
const MAX_NAME_FILTER: usize = 7500;

/// The filters naming `ids` (`ZONE/NAME`), as few as fit
/// [`MAX_NAME_FILTER`] once encoded: `name eq "(a|b|…)"`, a regular expression that must
/// match the whole name. RFC 1035 names hold no regex metacharacter. A name
/// in several zones may match instances in zones not asked for; they are
/// dropped by id.
pub(crate) fn name_filters(ids: &[&str]) -> Vec<String> {
    let names: Vec<&str> = ids
        .iter()
        .filter_map(|id| id.split_once('/').map(|(_, n)| n))
        .collect();
    // The wrapper `name eq "(…)"`, encoded, is about 30 characters.
    alternations(&names, MAX_NAME_FILTER - 30)
        .into_iter()
        .map(|group| format!("name eq \"({group})\""))
        .collect()
}
