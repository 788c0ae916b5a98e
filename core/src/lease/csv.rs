//! Kea memfile CSV rows ↔ [`super::LeaseRecord`] (PLACEHOLDER: to be written).
