//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each takes arbitrary
//! bytes and runs one of wirecall's parsers, or a whole server connection, on them. Not a
//! public API.
