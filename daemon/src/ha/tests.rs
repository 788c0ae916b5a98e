//! Tests of the HA runtime's bookkeeping.
use super::*;

#[test]
fn settle_completes_once_every_update_answered() {
    let mut parks = vec![Park::default(); 4];
    parks[2] = Park {
        used: true,
        generation: 5,
        pending: 2,
        failed: false,
    };
    let id = (5 << 16) | 2;
    let mut done = Vec::new();
    settle(&mut parks, &mut done, id, true);
    assert!(done.is_empty());
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done, vec![(id, true)]);
    assert!(!parks[2].used);
    // A stale id (old generation) is ignored.
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done.len(), 1);
}

#[test]
fn one_failed_update_drops_the_reply() {
    let mut parks = vec![Park::default(); 1];
    parks[0] = Park {
        used: true,
        generation: 1,
        pending: 2,
        failed: false,
    };
    let id = 1 << 16;
    let mut done = Vec::new();
    settle(&mut parks, &mut done, id, false);
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done, vec![(id, false)]);
}
