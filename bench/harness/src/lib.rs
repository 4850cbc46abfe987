//! The allocator-independent half of the benchmark. A bench binary lists
//! its allocators ([`runner::Contender`], [`arena::ArenaContender`]) and
//! hands them to [`runner::main`]; everything else — workloads that verify
//! every block, timing rounds, footprint children, the report — lives here.
//!
//! Times are measured, never asserted: a run fails only when an allocator
//! corrupts a block, returns a misaligned or null block where memory is
//! plentiful, or a workload does not run.

pub mod arena;
pub mod provenance;
pub mod report;
pub mod rng;
pub mod rss;
pub mod runner;
pub mod stamp;
pub mod svg;
pub mod table;
pub mod threaded;
pub mod workloads;
