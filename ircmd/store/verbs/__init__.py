"""The domain verbs: each a plain synchronous function over one write transaction
(`tx.Tx`), grouped by area. `Store` runs each whole, in one piece;
tests call them directly on an in-memory database."""
