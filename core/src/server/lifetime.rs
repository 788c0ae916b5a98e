//! Lease time (51) and the T1/T2 timers (58/59): dhcpv4-server-behaviour.md §6, trap 1.

use crate::config::SubnetParams;

/// The timers to send with a lease of `lifetime` seconds; `None` means the option is left
/// out.
///
/// * T2: "`rebind-timer` if configured (any level); else if `calculate-tee-times`:
///   round(t2-percent × lifetime); sent only if 0 < T2 < lifetime".
/// * T1: "`renew-timer` if configured; else if `calculate-tee-times`: round(t1-percent ×
///   lifetime); sent only if 0 < T1 < (T2 if T2 was sent, else lifetime)".
/// * "neither configured and calculate-tee-times false → no 58/59 at all" \[checked\]:
///   clients then use RFC 2131's 0.5 / 0.875 defaults.
pub fn tee_times(params: &SubnetParams, lifetime: u32) -> (Option<u32>, Option<u32>) {
    let calc = |percent: f32| -> Option<u32> {
        if !params.calculate_tee_times {
            return None;
        }
        let v = f64::from(percent) * f64::from(lifetime) + 0.5;
        // Truncation toward zero after adding 0.5 rounds half up (no `round` in core).
        if v >= 0.0 && v < f64::from(u32::MAX) {
            Some(v as u32)
        } else {
            None
        }
    };
    let t2 = params
        .rebind_timer
        .or_else(|| calc(params.t2_percent))
        .filter(|&t| t > 0 && t < lifetime);
    let limit = t2.unwrap_or(lifetime);
    let t1 = params
        .renew_timer
        .or_else(|| calc(params.t1_percent))
        .filter(|&t| t > 0 && t < limit);
    (t1, t2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::DEFAULT_PARAMS;

    #[test]
    fn nothing_by_default() {
        assert_eq!(tee_times(&DEFAULT_PARAMS, 7200), (None, None));
    }

    #[test]
    fn calculated_from_percentages() {
        let mut p = DEFAULT_PARAMS;
        p.calculate_tee_times = true;
        assert_eq!(tee_times(&p, 7200), (Some(3600), Some(6300)));
        // round(0.5 × 3) = 2 (half up), round(0.875 × 3) = 3 = lifetime → T2 not sent,
        // T1 then compared with the lifetime.
        assert_eq!(tee_times(&p, 3), (Some(2), None));
    }

    #[test]
    fn explicit_timers_win_and_are_bounded() {
        let mut p = DEFAULT_PARAMS;
        p.renew_timer = Some(1000);
        p.rebind_timer = Some(2000);
        assert_eq!(tee_times(&p, 7200), (Some(1000), Some(2000)));
        // T2 ≥ lifetime → not sent; T1 still below the lifetime.
        assert_eq!(tee_times(&p, 1500), (Some(1000), None));
        // T1 ≥ T2 → T1 not sent.
        p.renew_timer = Some(2000);
        assert_eq!(tee_times(&p, 7200), (None, Some(2000)));
        p.renew_timer = Some(0);
        p.rebind_timer = None;
        assert_eq!(tee_times(&p, 7200), (None, None));
    }

    #[test]
    fn only_one_configured() {
        let mut p = DEFAULT_PARAMS;
        p.renew_timer = Some(100);
        assert_eq!(tee_times(&p, 7200), (Some(100), None));
    }
}
