//! Lease CSV row parser: `wren_core::lease::csv::parse_row` (Kea 2.2 memfile format) and the
//! header parser on arbitrary bytes. The scratch buffer sized by `scratch_len` must always
//! be enough, and a parsed row must survive `write_row` → `parse_row` unchanged (the lease
//! file is rewritten by LFC from parsed rows).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_core::lease::csv::{
    parse_header, parse_row, parse_row_with, scratch_len, write_row, RowError, WriteError,
};

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; scratch_len(data.len())];
    match parse_row(data, &mut scratch) {
        Ok(record) => {
            assert!(record.hwaddr.len() <= 20, "hwaddr longer than Kea allows");
            let mut out = vec![0u8; 256];
            let n = match write_row(&record, &mut out) {
                Ok(n) => n,
                Err(WriteError::BufferTooSmall { needed }) => {
                    out = vec![0u8; needed];
                    write_row(&record, &mut out).expect("write_row with the size it asked for")
                }
            };
            let written = &out[..n];
            let mut scratch2 = vec![0u8; scratch_len(written.len())];
            let again = parse_row(written, &mut scratch2).unwrap_or_else(|e| {
                panic!(
                    "written row does not parse ({e:?}): {:?}",
                    String::from_utf8_lossy(written)
                )
            });
            assert_eq!(record, again, "row changed in a write/parse round trip");
        }
        Err(e) => {
            assert!(e != RowError::ScratchTooSmall, "scratch_len was not enough");
        }
    }
    if let Ok(shape) = parse_header(data) {
        let mut scratch = vec![0u8; scratch_len(data.len())];
        let _ = parse_row_with(shape, data, &mut scratch);
    }
});
