//! ironwood's pure core: data structures and state machines with no I/O, no
//! async runtime and no JavaScript. Time is always passed in.

pub mod codec;
pub mod handshake;
pub mod msgpack;
pub mod registry;
pub mod ring;
pub mod table;

pub use registry::{MAX_TABLES, TableId, Tables, TooManyTables};
pub use table::{
    Clock, ENTRY_OVERHEAD, IncrError, MAX_SAFE_INTEGER, Millis, Table, Ttl, Value, ValueRef,
};
