//! Test vectors (filled in below).
