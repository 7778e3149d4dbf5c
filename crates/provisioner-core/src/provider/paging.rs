//! [`PageTokens`]: the loop over a cloud's pages, which ends when the cloud
//! stops giving a next-page token, and fails when it gives one twice (a
//! loop that would otherwise never end).

use std::collections::HashSet;

use crate::{Error, ErrorContext, Operation, Result};

/// The next-page tokens one listing has seen.
#[derive(Debug)]
pub struct PageTokens {
    provider: &'static str,
    seen: HashSet<String>,
}

impl PageTokens {
    /// A new listing on `provider`.
    pub fn new(provider: &'static str) -> Self {
        Self {
            provider,
            seen: HashSet::new(),
        }
    }

    /// The token of the next page to ask for: `None` when the cloud gave
    /// none (or an empty one), the listing is complete; an error when it
    /// gave a token it gave before.
    pub fn next(&mut self, token: Option<&str>) -> Result<Option<String>> {
        match token {
            None | Some("") => Ok(None),
            Some(token) if !self.seen.insert(token.to_owned()) => Err(Error::provider(
                ErrorContext::new(self.provider)
                    .with_operation(Operation::List)
                    .with_code("RepeatedPageToken"),
                format!("the listing gave the page token {token:?} twice; it would never end"),
            )),
            Some(token) => Ok(Some(token.to_owned())),
        }
    }
}

/// Every item of a paged listing on `provider`: `page(token)` asks for
/// one page (the first with `None`) and gives its items and the cloud's
/// next-page token; the pages are read until the cloud gives none, and a
/// token given twice fails the listing ([`PageTokens`]).
pub async fn all_pages<T, F, Fut>(provider: &'static str, mut page: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut found = Vec::new();
    let mut tokens = PageTokens::new(provider);
    let mut token = None;
    loop {
        let (items, next) = page(token.take()).await?;
        found.extend(items);
        match tokens.next(next.as_deref())? {
            Some(next) => token = Some(next),
            None => return Ok(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_token_ends_the_listing_with_an_error() {
        let mut tokens = PageTokens::new("ec2");
        assert_eq!(tokens.next(Some("a")).unwrap().as_deref(), Some("a"));
        assert_eq!(tokens.next(Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(tokens.next(Some("")).unwrap(), None);
        assert_eq!(tokens.next(None).unwrap(), None);
        let err = tokens.next(Some("a")).unwrap_err();
        assert!(err.to_string().contains("RepeatedPageToken"), "{err}");
    }

    #[tokio::test]
    async fn all_pages_reads_until_the_cloud_gives_no_token() {
        let pages = [
            (vec![1, 2], Some("p2")),
            (vec![3], Some("")),
            (vec![9], None),
        ];
        let mut asked = Vec::new();
        let items = all_pages("ec2", |token| {
            asked.push(token.clone());
            let (items, next) = pages[asked.len() - 1].clone();
            async move { Ok((items, next.map(str::to_owned))) }
        })
        .await
        .unwrap();
        assert_eq!(items, [1, 2, 3]);
        assert_eq!(asked, [None, Some("p2".to_owned())]);
        let looping = all_pages("ec2", |_| async { Ok((vec![0], Some("same".to_owned()))) });
        assert!(looping
            .await
            .unwrap_err()
            .to_string()
            .contains("RepeatedPageToken"));
    }
}
