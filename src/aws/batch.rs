//! Reads of different environments merged into one call.
//!
//! Terraform asks one provider process to read every environment of a
//! configuration at the same moment (`for_each`), and each read asks the same
//! questions of its own VPC, load balancer or group. A read here names its
//! operation and its key (a VPC ID, a name, an ARN, an environment's tag value)
//! and waits a short [`WINDOW`]: the keys of every read of that operation that
//! arrive meanwhile go out together, split into calls of at most what the API
//! accepts, and each answer is dealt back to the reads by the key each object
//! belongs to, so one environment's objects never reach another's read, however
//! the answer interleaves them.
//!
//! Merging happens only between reads made through the same [`Batches`], which
//! belongs to one provider configuration's clients: reads made with other
//! credentials, region or endpoints are never merged. A merged call that fails
//! fails every read it carried; a not-found answer to a call that named several
//! objects is asked again one object at a time (an API that fails the whole
//! call for one unknown name would otherwise fail the reads of objects that
//! exist). Describes by filter never fail on unknown values and are preferred.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::AwsError;

/// How long the first read of a batch waits for others: long enough for the
/// reads Terraform starts together to join, short against a call's own time.
pub const WINDOW: Duration = Duration::from_millis(15);

/// Filters of EC2 describes take up to 200 values.
pub const EC2_FILTER_VALUES: usize = 200;

/// The future a fetch returns: each object found, with the key it belongs to.
pub type Fetched<T> = Pin<Box<dyn Future<Output = Result<Vec<(String, T)>, AwsError>> + Send>>;

/// Asks AWS about a list of keys (at most the batch's limit).
pub type Fetch<T> = Arc<dyn Fn(Vec<String>) -> Fetched<T> + Send + Sync>;

type Answer<T> = Result<Vec<T>, AwsError>;

/// The reads of one operation waiting for their call.
struct Pending<T> {
    waiters: Vec<(String, oneshot::Sender<Answer<T>>)>,
}

/// The merged reads of one operation (one shape of call).
pub struct Batch<T> {
    pending: Mutex<Option<Pending<T>>>,
    /// the most keys one call takes
    limit: usize,
    operation: &'static str,
}

impl<T: Clone + Send + 'static> Batch<T> {
    fn new(operation: &'static str, limit: usize) -> Batch<T> {
        Batch {
            pending: Mutex::new(None),
            limit: limit.max(1),
            operation,
        }
    }

    /// What AWS reports for `key`, asked together with the other reads of this
    /// batch that arrive within [`WINDOW`]. `fetch` is the call; the first read
    /// of a batch makes it for all (the reads of one batch make the same call).
    pub async fn read(self: &Arc<Self>, key: &str, fetch: Fetch<T>) -> Answer<T> {
        let (sender, receiver) = oneshot::channel();
        let leads = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let leads = pending.is_none();
            pending
                .get_or_insert_with(|| Pending {
                    waiters: Vec::new(),
                })
                .waiters
                .push((key.to_string(), sender));
            leads
        };
        if leads {
            // its own task: the batch is answered even if the read that opened
            // it is dropped (Terraform cancelled one environment's read)
            let batch = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(WINDOW).await;
                let waiters = batch
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .map(|p| p.waiters)
                    .unwrap_or_default();
                batch.answer(waiters, fetch).await;
            });
        }
        receiver.await.unwrap_or(Err(AwsError::MergedCallLost {
            operation: self.operation,
        }))
    }

    /// Makes the calls of `waiters`' keys and deals out the answers.
    async fn answer(&self, waiters: Vec<(String, oneshot::Sender<Answer<T>>)>, fetch: Fetch<T>) {
        let mut keys: Vec<String> = waiters.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        // each call's answer, with the keys it was asked about
        let calls = keys.chunks(self.limit).map(|chunk| {
            let fetch = Arc::clone(&fetch);
            async move {
                let chunk = chunk.to_vec();
                match fetch(chunk.clone()).await {
                    Err(error) if error.is_not_found() && chunk.len() > 1 => {
                        // one unknown key failed the call: ask each alone
                        let alone = chunk.into_iter().map(|key| {
                            let fetch = Arc::clone(&fetch);
                            async move { (vec![key.clone()], fetch(vec![key]).await) }
                        });
                        futures::future::join_all(alone).await
                    }
                    answer => vec![(chunk, answer)],
                }
            }
        });
        let mut by_key: BTreeMap<String, Answer<T>> =
            keys.iter().map(|k| (k.clone(), Ok(Vec::new()))).collect();
        for (keys, answer) in futures::future::join_all(calls).await.into_iter().flatten() {
            deal(&mut by_key, &keys, answer);
        }
        for (key, sender) in waiters {
            let answer = by_key.get(&key).cloned().unwrap_or_else(|| Ok(Vec::new()));
            let _ = sender.send(answer);
        }
    }
}

/// Gives each of `keys` its objects of `answer`, or its error. Objects of a
/// key not asked for (an implementation that ignores a filter) go nowhere.
fn deal<T: Clone>(
    by_key: &mut BTreeMap<String, Answer<T>>,
    keys: &[String],
    answer: Result<Vec<(String, T)>, AwsError>,
) {
    match answer {
        Err(error) => {
            for key in keys {
                by_key.insert(key.clone(), Err(error.clone()));
            }
        }
        Ok(objects) => {
            for (key, object) in objects {
                if !keys.contains(&key) {
                    continue;
                }
                if let Some(Ok(found)) = by_key.get_mut(&key) {
                    found.push(object);
                }
            }
        }
    }
}

/// A batch of any answer type, kept by [`Batches`].
type AnyBatch = Arc<dyn Any + Send + Sync>;

/// The batches of one provider configuration, one per operation.
#[derive(Default)]
pub struct Batches {
    /// by operation and selector (the filter or parameter the keys go in)
    by_operation: Mutex<HashMap<(&'static str, String), AnyBatch>>,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batches")
    }
}

impl Batches {
    /// The batch of `operation` whose keys go in `selector` (a filter's name,
    /// a parameter), whose calls take at most `limit` keys.
    pub fn of<T: Clone + Send + Sync + 'static>(
        &self,
        operation: &'static str,
        selector: &str,
        limit: usize,
    ) -> Arc<Batch<T>> {
        let mut batches = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
        let batch = batches
            .entry((operation, selector.to_string()))
            .or_insert_with(|| {
                Arc::new(Batch::<T>::new(operation, limit)) as Arc<dyn Any + Send + Sync>
            })
            .clone();
        batch
            .downcast::<Batch<T>>()
            .expect("one operation, one answer type")
    }

    /// Reads `key` through the batch of `operation` and `selector`.
    pub async fn read<T, F, Fut>(
        &self,
        operation: &'static str,
        selector: &str,
        limit: usize,
        key: &str,
        fetch: F,
    ) -> Answer<T>
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, AwsError>> + Send + 'static,
    {
        let fetch: Fetch<T> = Arc::new(move |keys| Box::pin(fetch(keys)));
        self.of::<T>(operation, selector, limit)
            .read(key, fetch)
            .await
    }

    /// [`Batches::read`] with a call that takes its own copy of `client`
    /// (an SDK client: a cheap handle) besides the keys.
    pub async fn read_with<C, T, F, Fut>(
        &self,
        client: &C,
        operation: &'static str,
        selector: &str,
        limit: usize,
        key: &str,
        fetch: F,
    ) -> Answer<T>
    where
        C: Clone + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
        F: Fn(C, Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, AwsError>> + Send + 'static,
    {
        let client = client.clone();
        self.read(operation, selector, limit, key, move |keys| {
            fetch(client.clone(), keys)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake describe over `objects` (key, object): counts its calls and the
    /// most keys one call named; answers every key's objects interleaved.
    fn describe(
        objects: Vec<(&'static str, &'static str)>,
        calls: Arc<AtomicUsize>,
        unknown_fails: bool,
    ) -> impl Fn(Vec<String>) -> Fetched<&'static str> + Send + Sync + 'static {
        move |keys: Vec<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let objects = objects.clone();
            Box::pin(async move {
                if unknown_fails && keys.iter().any(|k| !objects.iter().any(|(o, _)| o == k)) {
                    return Err(AwsError::Api {
                        operation: "DescribeLoadBalancers",
                        class: crate::error::ErrorClass::NotFound,
                        code: "LoadBalancerNotFound".into(),
                        message: "one of them does not exist".into(),
                        request_id: None,
                    });
                }
                Ok(objects
                    .into_iter()
                    .filter(|(k, _)| keys.iter().any(|key| key == k))
                    .map(|(k, o)| (k.to_string(), o))
                    .collect())
            })
        }
    }

    #[tokio::test]
    async fn concurrent_reads_share_one_call_and_get_only_their_objects() {
        let batches = Batches::default();
        let calls = Arc::new(AtomicUsize::new(0));
        // two environments' objects interleaved in one answer, and a third's not asked for
        let objects = vec![
            ("vpc-a", "subnet-a1"),
            ("vpc-b", "subnet-b1"),
            ("vpc-a", "subnet-a2"),
            ("vpc-c", "subnet-c1"),
            ("vpc-b", "subnet-b2"),
        ];
        let read = |key: &'static str| {
            batches.read(
                "DescribeSubnets",
                "vpc-id",
                200,
                key,
                describe(objects.clone(), calls.clone(), false),
            )
        };
        let (a, b, d) = tokio::join!(read("vpc-a"), read("vpc-b"), read("vpc-d"));
        assert_eq!(a.unwrap(), vec!["subnet-a1", "subnet-a2"]);
        assert_eq!(b.unwrap(), vec!["subnet-b1", "subnet-b2"]);
        assert_eq!(d.unwrap(), Vec::<&str>::new());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn calls_take_at_most_the_apis_limit() {
        let batches = Batches::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let keys: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
        let reads = keys.iter().map(|k| {
            batches.read(
                "DescribeTags",
                "ResourceArns",
                2,
                k,
                describe(Vec::new(), calls.clone(), false),
            )
        });
        for answer in futures::future::join_all(reads).await {
            assert!(answer.unwrap().is_empty());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unknown_name_does_not_fail_the_reads_of_names_that_exist() {
        let batches = Batches::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let objects = vec![("shop", "lb-shop"), ("blog", "lb-blog")];
        let read = |key: &'static str| {
            batches.read(
                "DescribeLoadBalancers",
                "Names",
                20,
                key,
                describe(objects.clone(), calls.clone(), true),
            )
        };
        let (shop, gone, blog) = tokio::join!(read("shop"), read("gone"), read("blog"));
        assert_eq!(shop.unwrap(), vec!["lb-shop"]);
        assert_eq!(blog.unwrap(), vec!["lb-blog"]);
        assert!(gone.unwrap_err().is_not_found());
        // the merged call, then one per name
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_call_fails_every_read_it_carried() {
        let batches = Batches::default();
        let failing = |_keys: Vec<String>| async {
            Err::<Vec<(String, u8)>, _>(AwsError::Api {
                operation: "DescribeVpcs",
                class: crate::error::ErrorClass::Throttled,
                code: "RequestLimitExceeded".into(),
                message: "slow down".into(),
                request_id: None,
            })
        };
        let (a, b) = tokio::join!(
            batches.read("DescribeVpcs", "vpc-id", 200, "vpc-a", failing),
            batches.read("DescribeVpcs", "vpc-id", 200, "vpc-b", failing),
        );
        assert!(a.is_err() && b.is_err());
    }

    #[tokio::test]
    async fn reads_apart_in_time_are_separate_calls() {
        let batches = Batches::default();
        let calls = Arc::new(AtomicUsize::new(0));
        for key in ["vpc-a", "vpc-b"] {
            batches
                .read(
                    "DescribeVpcs",
                    "vpc-id",
                    200,
                    key,
                    describe(Vec::new(), calls.clone(), false),
                )
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
