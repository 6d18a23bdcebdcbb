"""In-memory fakes of every port, for tests, examples and trying the library without a database."""

from coachos.adapters.memory._store import MemoryStore, MemoryUnitOfWork

__all__ = ["MemoryStore", "MemoryUnitOfWork"]
