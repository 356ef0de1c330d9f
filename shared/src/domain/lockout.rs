//! Failed second-factor attempts and the lockout they cause.
//!
//! The window slides: the times of the last [`MAX_FAILURES`] failures are kept, and while
//! all of them fall within [`WINDOW_SECONDS`] of now, every code attempt is refused, even a
//! correct one. So no 15-minute span contains more than 10 counted failures, apart from
//! attempts that were already in flight when the limit was reached. Only a successful
//! second factor clears the record. NIST SP 800-63B allows up to 100 consecutive failures;
//! this service is stricter.

use serde::{Deserialize, Serialize};

/// Failures within the window that lock the user out.
pub const MAX_FAILURES: u32 = 10;
/// Length of the sliding window in seconds (15 minutes).
pub const WINDOW_SECONDS: u64 = 15 * 60;

/// The failure record of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    /// Failures since the last success, or since a quiet spell of a whole window.
    pub count: u32,
    /// Unix times of the most recent failures, oldest first, at most [`MAX_FAILURES`].
    pub recent: Vec<u64>,
}

impl Failures {
    /// Returns the time of the newest failure, or 0 when there is none.
    pub fn last_failure(&self) -> u64 {
        self.recent.last().copied().unwrap_or(0)
    }

    /// Returns the seconds to wait when the user is locked out at `now`, or `None`.
    pub fn retry_after(&self, now: u64) -> Option<u64> {
        if self.recent.len() < MAX_FAILURES as usize {
            return None;
        }
        let oldest = self.recent[self.recent.len() - MAX_FAILURES as usize];
        let until = oldest.saturating_add(WINDOW_SECONDS);
        (now < until).then(|| until - now)
    }

    /// Returns the record after one more failure at `now`. After a whole window without
    /// failures the count starts over.
    pub fn after_failure(&self, now: u64) -> Self {
        let quiet = self
            .recent
            .last()
            .is_none_or(|&last| now >= last.saturating_add(WINDOW_SECONDS));
        if quiet {
            return Self {
                count: 1,
                recent: vec![now],
            };
        }
        let mut recent = self.recent.clone();
        recent.push(now);
        let excess = recent.len().saturating_sub(MAX_FAILURES as usize);
        recent.drain(..excess);
        Self {
            count: self.count.saturating_add(1),
            recent,
        }
    }

    /// Reports whether going from `previous` to this record at `now` started a lockout.
    pub fn started_lockout(&self, previous: &Self, now: u64) -> bool {
        previous.retry_after(now).is_none() && self.retry_after(now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(failures: &[u64]) -> Failures {
        failures
            .iter()
            .fold(Failures::default(), |record, &at| record.after_failure(at))
    }

    #[test]
    fn ten_failures_lock_until_oldest_leaves_window() {
        let start = 1_000_000;
        let mut failures = Failures::default();
        for i in 0..9 {
            failures = failures.after_failure(start + i * 10);
            assert_eq!(
                failures.retry_after(start + i * 10),
                None,
                "failure {}",
                i + 1
            );
        }
        let next = failures.after_failure(start + 100);
        assert!(next.started_lockout(&failures, start + 100));
        assert_eq!(next.count, 10);
        assert_eq!(next.retry_after(start + 100), Some(WINDOW_SECONDS - 100));
        assert_eq!(next.retry_after(start + WINDOW_SECONDS - 1), Some(1));
        assert_eq!(next.retry_after(start + WINDOW_SECONDS), None);
    }

    #[test]
    fn failures_straddling_old_boundary_lock() {
        // Nine failures near the start, then a quiet spell just short of the window, then
        // a burst: any ten within 15 minutes lock, wherever the first failure was.
        let mut times: Vec<u64> = (0..9).collect();
        times.extend(WINDOW_SECONDS - 5..WINDOW_SECONDS + 5);
        let failures = record(&times);
        let now = WINDOW_SECONDS + 4;
        assert!(
            failures.retry_after(now).is_some(),
            "ten failures within 15 minutes"
        );
        assert_eq!(failures.count, 19);
        assert_eq!(failures.recent.len(), 10);
    }

    #[test]
    fn lock_slides_one_failure_at_a_time() {
        let failures = record(&[0, 100, 200, 300, 400, 500, 600, 700, 800, 850]);
        assert_eq!(failures.retry_after(850), Some(WINDOW_SECONDS - 850));
        let after = failures.after_failure(WINDOW_SECONDS);
        assert!(!after.started_lockout(&failures, WINDOW_SECONDS - 1));
        assert_eq!(
            after.retry_after(WINDOW_SECONDS),
            Some(100),
            "now the oldest is at 100"
        );
    }

    #[test]
    fn quiet_window_starts_over() {
        let failures = record(&[1_000, 1_010]);
        let next = failures.after_failure(1_010 + WINDOW_SECONDS);
        assert_eq!(
            next,
            Failures {
                count: 1,
                recent: vec![1_010 + WINDOW_SECONDS]
            }
        );
    }

    #[test]
    fn parallel_failures_keep_counting() {
        let failures = record(&[7; 12]);
        assert_eq!(failures.count, 12);
        assert_eq!(failures.recent, vec![7; 10]);
        let next = failures.after_failure(8);
        assert_eq!(next.count, 13);
        assert!(!next.started_lockout(&failures, 8), "already locked");
    }
}
