//! The config repository as files: a snapshot of the work tree, the index or a commit
//! ([`snapshot`]), what each path is ([`layout`]), the layers read from it ([`layer`]), and loading
//! one state or the diff of two ([`load`]).

pub mod layer;
pub mod layout;
pub mod load;
pub mod snapshot;
