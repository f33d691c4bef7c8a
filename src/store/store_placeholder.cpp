// Replaced by the real store sources.
