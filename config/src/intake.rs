//! Checks of the `[intake]` keys that serde's types alone cannot express.

use super::types::IntakeConfig;

pub(super) fn validate(intake: &IntakeConfig, errors: &mut Vec<String>) {
    if intake.max_attempts == 0 {
        errors.push("[intake] max_attempts: must be at least 1 (the first try counts)".into());
    }
    if !(intake.stuck_after_secs.is_finite() && intake.stuck_after_secs > 0.0) {
        errors.push(format!(
            "[intake] stuck_after_secs: must be a positive number of seconds, found {}",
            intake.stuck_after_secs
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_attempts_and_a_non_positive_stuck_limit_are_refused() {
        let mut errors = Vec::new();
        validate(&IntakeConfig::default(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let bad = IntakeConfig {
            max_attempts: 0,
            stuck_after_secs: 0.0,
            ..IntakeConfig::default()
        };
        validate(&bad, &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("max_attempts") && errors[1].contains("stuck_after_secs"));
    }
}
