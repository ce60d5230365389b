//! Matching: every detector of a policy compiled into one scanner.
//!
//! [`scanner`] runs the detectors over one text; [`keywords`] is the keyword
//! automaton that arms them, [`always_on`] the prefilter of the detectors
//! without keywords, and [`validators`] the checks a candidate match must pass.
//! [`shared_regexes`] lets every loaded policy share the regexes it has in common with another.

pub(crate) mod always_on;
mod blind;
pub(crate) mod builder;
mod digit_precheck;
pub(crate) mod fuel_probe;
mod gate_nibbles;
pub(crate) mod keywords;
mod match_shape;
#[cfg(any(test, feature = "bench-hooks"))]
mod measure;
pub(crate) mod protected;
pub(crate) mod scanner;
mod set_counts;
pub(crate) mod shared_regexes;
pub(crate) mod start_skip;
pub(crate) mod validators;
