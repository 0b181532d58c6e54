//! Issue 12's property test with laboratories and auditors: random sequences of legitimate and
//! hostile supplier, recycler, laboratory, auditor-countersigned and plant events run through the
//! one rule book. A model kept beside it, from the events alone (each input's balance, gains and
//! assay in effect; each campaign's assayed grams and denied-country charges), says what the rule
//! book must decide and what must hold of every output:
//! - a certified laboratory's assay is accepted and supersedes the owner's declaration for later
//!   charges only; the owner may re-declare only while no laboratory assay is in effect;
//! - assays by the plant, a customer, an auditor, another supplier, a laboratory whose ISO/IEC
//!   17025 certificate is suspended, withdrawn, expired or of another scheme, or a laboratory
//!   naming no laboratory or another's site, are refused and change nothing;
//! - a gain is accepted exactly when an auditor countersigns it and the lot's gains stay within
//!   2% of its received mass; accepted gains (and losses) move the balance later charges draw on;
//! - no output has more attributed grams of an element than the assayed grams charged (by the
//!   assay in effect at each charge, × 1.02), over the campaign's outputs so far;
//! - an output is segregated exactly when no denied-country lot was charged before it.

#[path = "../common/mod.rs"]
mod common;
mod ops;
mod world;

use proptest::prelude::*;
use world::{op, World};

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn laboratories_and_countersigned_gains_bend_no_bound_and_no_claim(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut w = World::new();
        for o in &ops {
            w.step(o)?;
        }
    }
}
