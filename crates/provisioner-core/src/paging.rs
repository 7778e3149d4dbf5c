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
}
