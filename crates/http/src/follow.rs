//! Following a bucket to its own region, once: where a store's requests go, swapped when the
//! vendor names the bucket's region in an answer, and the retry loop that sends again then.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use stowage_core::retry::RetryPolicy;
use stowage_core::{Error, Result};

/// A store's current place `P` (hosts, signing region, client), moved at most once.
#[derive(Debug)]
pub struct Followed<P> {
    place: RwLock<Arc<P>>,
    moved: AtomicBool,
}

impl<P> Followed<P> {
    pub fn new(place: P) -> Self {
        Followed {
            place: RwLock::new(Arc::new(place)),
            moved: AtomicBool::new(false),
        }
    }

    /// The place requests go now.
    pub fn now(&self) -> Arc<P> {
        self.place
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// On an error naming the bucket's region: true when the request is worth sending again,
    /// because the place is (now) that region's. `region_of` says a place's region; `build`
    /// makes the place for a region (`None`: it cannot). Moves only once: a second,
    /// different region is left to the caller to report.
    pub fn follow(
        &self,
        e: &Error,
        region_of: impl Fn(&P) -> Option<&str>,
        build: impl FnOnce(&str) -> Option<P>,
    ) -> bool {
        let Some(region) = e.bucket_region() else {
            return false;
        };
        let mut place = self.place.write().unwrap_or_else(PoisonError::into_inner);
        if region_of(&place) == Some(region) {
            return true; // another request already moved the store
        }
        if self.moved.swap(true, Ordering::SeqCst) {
            return false;
        }
        match build(region) {
            Some(next) => {
                tracing::warn!(
                    region,
                    "the bucket is in another region: following it; set --region {region} to skip this"
                );
                *place = Arc::new(next);
                true
            }
            None => false,
        }
    }
}

/// `op` with `retry`, and once more when `follow` says the store moved to the bucket's region.
pub async fn run_following<T, F, Fut>(
    retry: &RetryPolicy,
    what: &str,
    follow: impl Fn(&Error) -> bool,
    op: F,
) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    match retry.run(what, |_| op()).await {
        Err(e) if follow(&e) => retry.run(what, |_| op()).await,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::ErrorKind;

    fn wrong(region: &str) -> Error {
        Error::new(
            ErrorKind::WrongRegion {
                bucket_region: Some(region.into()),
            },
            "moved",
        )
    }

    struct Place(String);

    impl Place {
        fn region(&self) -> Option<&str> {
            Some(&self.0)
        }
    }

    fn build(region: &str) -> Option<Place> {
        Some(Place(region.to_string()))
    }

    #[test]
    fn moves_once_and_lets_same_region_answers_resend() {
        let f = Followed::new(Place("r1".into()));
        assert!(f.follow(&wrong("r2"), Place::region, build));
        assert_eq!(f.now().0, "r2");
        assert!(
            f.follow(&wrong("r2"), Place::region, |_| None),
            "same region: resend"
        );
        assert!(!f.follow(&wrong("r3"), Place::region, build));
        assert_eq!(f.now().0, "r2");
        let other = Error::new(ErrorKind::AccessDenied, "no");
        assert!(!f.follow(&other, Place::region, build));
    }
}
