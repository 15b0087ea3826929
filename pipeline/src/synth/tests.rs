//! Tests of the synthetic page generator: determinism, truth text, and format round trips.
