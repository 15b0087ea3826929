//! How often and how patiently a notice is retried.

use std::time::Duration;

/// `attempts` tries in all; after try *n* fails the sender waits `base_delay × 2^(n-1)`, capped
/// at `max_delay`. Permanent SMTP rejections (5xx) are not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five tries over about 15 minutes: 1, 2, 4 and 8 minutes apart.
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(30 * 60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// [`Self::delay_after`] with "equal jitter": somewhere between half and all of it, so
    /// notices that failed together (the mail server was down) do not all come back at once.
    pub fn jittered_delay_after(&self, attempt: u32) -> Duration {
        let mut r = [0u8; 4];
        // Without randomness the plain delay is still a correct (if less spread) answer.
        let r = getrandom::fill(&mut r).map_or(u32::MAX, |()| u32::from_le_bytes(r));
        jitter(self.delay_after(attempt), r)
    }
}

/// `delay / 2 + (delay / 2) × r / u32::MAX`: from half of `delay` (r = 0) to all of it.
fn jitter(delay: Duration, r: u32) -> Duration {
    let half = delay / 2;
    half + half.mul_f64(f64::from(r) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let delays: Vec<u128> = (1..=6).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay_after(200), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_between_half_and_all_of_the_delay() {
        let d = Duration::from_secs(60);
        assert_eq!(jitter(d, 0), Duration::from_secs(30));
        assert_eq!(jitter(d, u32::MAX), d);
        assert_eq!(jitter(d, u32::MAX / 2).as_secs(), 44);
        let p = RetryPolicy::default();
        let seen: std::collections::HashSet<Duration> =
            (0..20).map(|_| p.jittered_delay_after(3)).collect();
        assert!(seen.len() > 1, "twenty jittered delays were all equal");
        assert!(
            seen.iter()
                .all(|w| *w >= p.delay_after(3) / 2 && *w <= p.delay_after(3))
        );
    }
}
