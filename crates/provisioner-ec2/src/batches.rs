//! EC2's batch requests: 1,000 ids each, and the ids EC2 did not know.

use provisioner_core::Result;

use crate::errors::{from_sdk, unknown_ids};

/// The most ids one DescribeInstances or TerminateInstances names (EC2's
/// documented limit for TerminateInstances, used for both).
const MAX_IDS_PER_REQUEST: usize = 1000;

/// Sends one request per [`MAX_IDS_PER_REQUEST`] of `ids` with `send`.
/// EC2 refuses a request naming an id it does not know as a whole, listing
/// the unknown ones: they are dropped and the rest sent again. The answers,
/// and the ids EC2 did not know.
pub(crate) async fn send_known<O, E, F, Fut>(
    ids: &[&str],
    mut send: F,
) -> Result<(Vec<O>, Vec<String>)>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<
        Output = std::result::Result<
            O,
            aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
        >,
    >,
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut answers = Vec::new();
    let mut unknown = Vec::new();
    for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
        let mut asked: Vec<String> = chunk.iter().map(|id| (*id).to_owned()).collect();
        while !asked.is_empty() {
            match send(asked.clone()).await {
                Ok(answer) => {
                    answers.push(answer);
                    break;
                }
                Err(e) => {
                    let rest = without_unknown(asked.clone(), e)?;
                    unknown.extend(asked.into_iter().filter(|id| !rest.contains(id)));
                    asked = rest;
                }
            }
        }
    }
    Ok((answers, unknown))
}

/// `asked` without the ids EC2 said it does not know, when that is what
/// `err` says; else the error (of the whole request).
fn without_unknown<E>(
    asked: Vec<String>,
    err: aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
) -> Result<Vec<String>>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let unknown = unknown_ids(&err);
    let rest: Vec<String> = asked
        .iter()
        .filter(|id| !unknown.contains(&id.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() || rest.len() == asked.len() {
        return Err(from_sdk(err, None));
    }
    Ok(rest)
}
