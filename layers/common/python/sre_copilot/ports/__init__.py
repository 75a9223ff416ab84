"""`typing.Protocol`s for everything that does I/O. Adapters implement them; the domain never imports adapters."""
