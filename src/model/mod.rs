//! The data model: values with their spans ([`value`], [`source`]), reference paths
//! ([`key_path`]), the schema ([`schema`]) and its merge classes ([`class`]), and globs ([`glob`]).

pub mod class;
pub mod glob;
pub mod key_path;
pub mod schema;
pub mod source;
pub mod table;
pub mod value;
