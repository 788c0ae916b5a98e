//! Bytes ↔ values, smoltcp style (PLACEHOLDER: to be written).
