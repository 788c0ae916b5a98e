//! Address choice (placeholder, written next).
