//! Subnet selection, reservations and address choice (PLACEHOLDER: to be written).
