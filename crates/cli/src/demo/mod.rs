//! The demo: one plant year at the scale of the Lacq separation plant, submitted over gRPC as the
//! suppliers and the plant would. Its data tables, its plan (building the year from the seed)
//! and its run (registering the participants and submitting).

mod data;
mod plan;
mod run;
mod sites;

pub use run::{print_summary, run};
