//! The numbers behind the Distribution view live in the library
//! (`crate::report::charts`), shared with the report figures.

pub use crate::report::charts::*;

impl InSet for super::curation::Flags {
    fn in_set(&self) -> bool {
        self.in_set
    }
}
