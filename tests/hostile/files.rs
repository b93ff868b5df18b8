//! Placeholder: see mod.rs.
