"""The process tabs beside the board, shared by the command screen and its palette
(a module of its own so that the palette, loaded on first use, needs no arrow back
into the screen)."""

# (pane id suffix, title, key)
TABS = (
    ("checklist", "Checklist", "f4"),
    ("comms", "Comms", "f5"),
    ("evidence", "Evidence", "f6"),
    ("review", "Review", "f7"),
    ("actions", "Actions", "f8"),
)
