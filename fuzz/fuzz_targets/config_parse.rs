//! Config parser: `wren_core::config::measure` then `parse` into exactly the measured
//! storage (as wrend allocates it). Measuring must never under-count: if `measure`
//! succeeds, `parse` may reject the text only for a reason that is not a full storage slice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_core::config::{self, ConfigErrorKind};
use wrend::config_load::OwnedConfigStorage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(capacity) = config::measure(text) else {
        return;
    };
    let mut storage = OwnedConfigStorage::for_capacity(&capacity);
    let mut warnings = 0usize;
    let mut warn = |_: &config::ConfigWarning| warnings += 1;
    match config::parse(text, storage.storage(), &mut warn) {
        Ok(cfg) => {
            for s in cfg.subnets {
                let _ = cfg.pools_of(s);
                let _ = cfg.reservations_of(s);
            }
        }
        Err(e) => assert!(
            !matches!(e.kind, ConfigErrorKind::StorageFull(_)),
            "measure under-counted: {e:?}"
        ),
    }
});
