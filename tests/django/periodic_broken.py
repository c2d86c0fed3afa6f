"""A module that fails when imported (a periodic job's FUNC pointing here is check E042)."""

raise RuntimeError("this module cannot be imported")
