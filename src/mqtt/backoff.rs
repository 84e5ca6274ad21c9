//! Reconnect delay policy: exponential growth with a cap and full jitter.
//!
//! Pure: the caller injects randomness as a number in `[0, 1)` (see [`SplitMix64`] for a
//! seeded source), so the policy is deterministic under test. Never reads a clock.

/// Reconnect policy settings. The defaults are 1 s doubling to 30 s with full jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// Upper bound of the first delay, milliseconds.
    pub initial_delay: u64,
    /// Cap of the delay, milliseconds.
    pub max_delay: u64,
    /// Growth factor per attempt (values below 1 are treated as 1).
    pub multiplier: f64,
    /// Share of the delay that is randomised: 0 none, 1 full jitter.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row; `None` never gives up.
    pub max_attempts: Option<u32>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial_delay: 1_000,
            max_delay: 30_000,
            multiplier: 2.0,
            jitter: 1.0,
            max_attempts: None,
        }
    }
}

/// Tracks consecutive failed attempts and turns them into delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Self {
        Backoff { config, attempt: 0 }
    }

    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Attempts made since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// A connection succeeded: the next failure starts from the initial delay again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next attempt, or `None` when `max_attempts` is used up.
    /// `random` is a uniform sample in `[0, 1)`.
    pub fn next_delay(&mut self, random: f64) -> Option<u64> {
        if let Some(max) = self.config.max_attempts {
            if self.attempt >= max {
                return None;
            }
        }
        let ceiling = self.ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = if self.config.jitter.is_finite() {
            self.config.jitter.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Full jitter (AWS architecture blog): uniform in [ceiling * (1 - jitter), ceiling].
        let fixed = ceiling * (1.0 - jitter);
        Some((fixed + ceiling * jitter * random).round() as u64)
    }

    fn ceiling(&self, attempt: u32) -> f64 {
        let multiplier = if self.config.multiplier.is_finite() {
            self.config.multiplier.max(1.0)
        } else {
            1.0
        };
        let max = self.config.max_delay as f64;
        // Exponent capped so powi cannot overflow to infinity for long outages.
        let grown = self.config.initial_delay as f64 * multiplier.powi(attempt.min(64) as i32);
        if grown.is_finite() {
            grown.min(max)
        } else {
            max
        }
    }
}

/// A tiny seeded generator (SplitMix64) for jitter; good enough for spreading reconnects,
/// not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> BackoffConfig {
        BackoffConfig {
            jitter: 0.0,
            ..BackoffConfig::default()
        }
    }

    #[test]
    fn delays_double_from_the_initial_delay_up_to_the_cap() {
        let mut b = Backoff::new(no_jitter());
        let delays: Vec<u64> = (0..8).map(|_| b.next_delay(0.5).unwrap()).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let mut low = Backoff::new(BackoffConfig::default());
        let mut high = Backoff::new(BackoffConfig::default());
        for _ in 0..3 {
            low.next_delay(0.0);
            high.next_delay(0.999_999);
        }
        assert_eq!(low.next_delay(0.0), Some(0));
        assert_eq!(high.next_delay(0.999_999), Some(8_000));
    }

    #[test]
    fn half_jitter_keeps_half_of_the_delay_fixed() {
        let mut b = Backoff::new(BackoffConfig {
            jitter: 0.5,
            ..BackoffConfig::default()
        });
        assert_eq!(b.next_delay(0.0), Some(500));
    }

    #[test]
    fn max_attempts_ends_the_sequence_until_reset() {
        let mut b = Backoff::new(BackoffConfig {
            max_attempts: Some(2),
            ..no_jitter()
        });
        assert_eq!(b.next_delay(0.0), Some(1_000));
        assert_eq!(b.next_delay(0.0), Some(2_000));
        assert_eq!(b.next_delay(0.0), None);
        b.reset();
        assert_eq!(b.next_delay(0.0), Some(1_000));
    }

    #[test]
    fn hostile_settings_do_not_overflow_or_panic() {
        let mut b = Backoff::new(BackoffConfig {
            initial_delay: u64::MAX,
            max_delay: u64::MAX,
            multiplier: f64::INFINITY,
            jitter: f64::NAN,
            max_attempts: None,
        });
        for _ in 0..100 {
            assert!(b.next_delay(f64::NAN).is_some());
        }
    }

    #[test]
    fn split_mix_is_deterministic_per_seed_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let mut c = SplitMix64::new(8);
        let xs: Vec<f64> = (0..100).map(|_| a.next_f64()).collect();
        let ys: Vec<f64> = (0..100).map(|_| b.next_f64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], c.next_f64());
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
