//! HPACK's two tables (RFC 7541, section 2.3): the static table every peer knows, and the
//! dynamic table each direction of a connection builds, bounded in octets.

use std::collections::VecDeque;

use bytes::Bytes;

/// The static table (RFC 7541, Appendix A): index 1 is the first entry.
pub(crate) const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What an entry costs in the dynamic table besides its name and value (section 4.1).
const ENTRY_OVERHEAD: usize = 32;

/// The size an entry counts for.
pub(crate) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + ENTRY_OVERHEAD
}

/// A dynamic table: newest entry first (index 62 of the combined index space).
#[derive(Debug)]
pub(crate) struct Dynamic {
    entries: VecDeque<(Bytes, Bytes)>,
    /// The sum of the entries' sizes.
    size: usize,
    /// The table's current maximum size.
    max: usize,
}

impl Dynamic {
    /// An empty table of at most `max` octets.
    pub(crate) fn new(max: usize) -> Dynamic {
        Dynamic {
            entries: VecDeque::new(),
            size: 0,
            max,
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// The octets the entries take.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at `index` (0: the newest).
    pub(crate) fn get(&self, index: usize) -> Option<&(Bytes, Bytes)> {
        self.entries.get(index)
    }

    /// A new maximum size, evicting the oldest entries until the table fits.
    pub(crate) fn resize(&mut self, max: usize) {
        self.max = max;
        self.evict_to(max);
    }

    /// Adds an entry, evicting the oldest to make room; an entry larger than the whole
    /// table empties it and is not added (section 4.4).
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(&name, &value);
        if size > self.max {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max - size);
        self.size += size;
        self.entries.push_front((name, value));
    }

    /// The index of an entry equal to (`name`, `value`), or failing that one with `name`:
    /// (index, whether the value matched too).
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
        let mut named = None;
        for (index, (n, v)) in self.entries.iter().enumerate() {
            if n.as_ref() == name {
                if v.as_ref() == value {
                    return Some((index, true));
                }
                named.get_or_insert(index);
            }
        }
        named.map(|index| (index, false))
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some((name, value)) = self.entries.pop_back() else {
                break;
            };
            self.size -= entry_size(&name, &value);
        }
    }
}

/// The static table's index (1-based) of (`name`, `value`), or failing that of `name`:
/// (index, whether the value matched too).
pub(crate) fn find_static(name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
    let mut named = None;
    for (at, (n, v)) in STATIC.iter().enumerate() {
        if n.as_bytes() == name {
            if v.as_bytes() == value {
                return Some((at + 1, true));
            }
            named.get_or_insert(at + 1);
        }
    }
    named.map(|index| (index, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_evicted_oldest_first_and_an_oversized_one_empties_the_table() {
        let mut table = Dynamic::new(100);
        table.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1")); // 34
        table.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2")); // 34
        assert_eq!((table.len(), table.size()), (2, 68));
        table.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3")); // evicts a
        assert_eq!(table.get(0).unwrap().0, "c");
        assert_eq!(table.get(1).unwrap().0, "b");
        assert_eq!((table.len(), table.size()), (2, 68));
        assert_eq!(table.find(b"b", b"2"), Some((1, true)));
        assert_eq!(table.find(b"b", b"x"), Some((1, false)));
        table.resize(40);
        assert_eq!((table.len(), table.size()), (1, 34));
        table.insert(Bytes::from(vec![b'x'; 10]), Bytes::new()); // 42 > 40
        assert_eq!((table.len(), table.size()), (0, 0));
    }

    #[test]
    fn the_static_table_is_found_by_name_and_value() {
        assert_eq!(find_static(b":method", b"POST"), Some((3, true)));
        assert_eq!(find_static(b":status", b"201"), Some((8, false)));
        assert_eq!(
            find_static(b"content-type", b"application/grpc"),
            Some((31, false))
        );
        assert_eq!(find_static(b"grpc-status", b"0"), None);
        assert_eq!(STATIC[60], ("www-authenticate", ""));
    }
}
