//! Kea `option-data` text to wire bytes (PLACEHOLDER: to be written).
