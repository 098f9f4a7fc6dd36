//! The N-API binding: converts arguments and results, nothing else. Domain
//! failures come back as values (status numbers, short codes) and become the
//! typed errors of `ts/errors.ts` in TypeScript.

// napi-derive generates items the workspace lints cannot see documented.
#![allow(missing_docs, unreachable_pub)]
// Exports are reached from JS only, so a plain `cargo test` build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod cluster;
mod ring;
mod scratch;
mod table;
