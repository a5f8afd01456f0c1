"""The domain verbs: each a plain synchronous function over one write transaction
(`tx.Tx`), grouped by area. `Store` runs each in one hop to its connection's thread;
tests call them directly on an in-memory database."""
